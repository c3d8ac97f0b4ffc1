"""Config-group options on the command line, checked before Hydra composes anything.

Hydra answers an unknown option (``experiment=nope``, ``task=nope``) with a multi-line message, the
search path, and exit status 1; budgetsweep's contract for bad input is one message naming the key,
the value and what is allowed, and exit status 2 (DESIGN section 9). The groups and their options
are read from the package's ``conf/`` files, as ``budgetsweep --help`` reads them.
"""
from __future__ import annotations

from importlib.resources import files
from typing import Any, Iterable

# a user who adds config folders may add options too: Hydra alone can tell then
_OWN_SEARCH_PATH = ("--config-dir", "-cd", "--config-path", "-cp", "hydra.searchpath")


def group_options() -> dict[str, set[str]]:
    """{group: its options} of the package's config groups (``conf/<group>/<option>.yaml``)."""
    conf = files("budgetsweep.conf")
    return {d.name: {f.name[:-5] for f in d.iterdir() if f.name.endswith(".yaml")}
            for d in conf.iterdir() if d.is_dir() and not d.name.startswith(("_", "."))}


def _strings(value: Any) -> Iterable[Any]:
    """The option names in an override's value: a name, a list (``reduction=[a,b]``), a sweep
    (``reduction=full,data_subset``, ``choice(...)``) of either."""
    items = getattr(value, "list", None)  # a ChoiceSweep
    if items is None and isinstance(value, (list, tuple)):
        items = value
    if items is None:
        yield value
        return
    for item in items:
        yield from _strings(item)


def unknown_option(args: Iterable[str]) -> str | None:
    """The message for the first override that selects an option its group does not have, or None.

    Overrides Hydra cannot parse, groups that are not the package's, deletions, package-qualified
    overrides and command lines that add config folders are left to Hydra.
    """
    args = list(args)
    if any(a.startswith(_OWN_SEARCH_PATH) or a.lstrip("+~").startswith(_OWN_SEARCH_PATH) for a in args):
        return None
    candidates = [a for a in args if not a.startswith("-") and "=" in a]
    if not candidates:
        return None
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        overrides = OverridesParser.create().parse_overrides(candidates)
    except Exception:  # Hydra's own grammar error says it best
        return None
    groups = None
    for override in overrides:
        if override.is_delete() or override.package is not None or "." in override.key_or_group:
            continue
        if groups is None:
            groups = group_options()
        options = groups.get(override.key_or_group)
        if options is None:
            continue
        for name in _strings(override.value()):
            if isinstance(name, str) and name not in options and name not in ("null", "none"):
                group = override.key_or_group
                return (f"{group}={name} is not an option of config group '{group}'; allowed: "
                        f"{', '.join(sorted(options))} (conf/{group}/)")
    return None
