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


def _parsed(args: Iterable[str]) -> list | None:
    """The command line's overrides as Hydra parses them; None where the checks here step aside: a
    command line that adds config folders (its groups are not only the package's), or one Hydra cannot
    parse (Hydra's own grammar error says it best)."""
    args = list(args)
    if any(a.startswith(_OWN_SEARCH_PATH) or a.lstrip("+~").startswith(_OWN_SEARCH_PATH) for a in args):
        return None
    candidates = [a for a in args if not a.startswith("-") and "=" in a]
    if not candidates:
        return None
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        return OverridesParser.create().parse_overrides(candidates)
    except Exception:
        return None


def unknown_option(args: Iterable[str]) -> str | None:
    """The message for the first override that selects an option its group does not have, or None.

    Overrides Hydra cannot parse, groups that are not the package's, deletions, package-qualified
    overrides and command lines that add config folders are left to Hydra.
    """
    overrides = _parsed(args)
    if not overrides:
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



def sweep_without_multirun(args: Iterable[str]) -> str | None:
    """The message for a sweep (``a=1,2``, ``choice(...)``, ``range(...)``, ``interval(...)``) on a command
    line without ``-m``, or None. Hydra refuses it too, with exit status 1 and a multi-line answer."""
    args = list(args)
    if _multirun(args):
        return None
    sweep = next((o for o in _parsed(args) or () if o.is_sweep_override()), None)
    if sweep is None:
        return None
    message = f"{sweep.input_line} is a sweep (one job per value), which needs -m: budgetsweep -m ... runs the grid"
    if sweep.key_or_group == "reduction":  # the likelier intent: several reductions in one run
        message += "; to apply several reductions in one run, give them as a list: reduction=[a,b]"
    return message


def _multirun(args: list[str]) -> bool:
    return any(a in ("-m", "--multirun") for a in args)


# Hydra's flags that print or inspect the config instead of running it: a sweeper preset is fine there
_INSPECT = ("--cfg", "-c", "--info", "-i", "--resolve", "--shell-completion", "-sc")


def sweeper_without_multirun(args: Iterable[str]) -> str | None:
    """The message for a sweeper chosen without ``-m`` (``hydra/sweeper=budget``, or a preset that attaches one:
    ``experiment=auto_proxy``, ``hparams_search=digits_budget``), or None. Hydra uses a sweeper only in a
    multirun: without ``-m`` it trains one job of the default recipe and exits 0, as if the search had run."""
    args = list(args)
    if _multirun(args) or any(a in _INSPECT for a in args):
        return None
    for o in _parsed(args) or ():
        if o.is_delete() or o.package is not None or not isinstance(o.value(), str):
            continue
        group = o.key_or_group
        if group == "hydra/sweeper":
            sweeper = o.value()
        elif group in ("experiment", "hparams_search"):
            sweeper = preset_settings(o.value(), group)["groups"].get("hydra/sweeper")
        else:
            continue
        if sweeper and sweeper != "basic":
            return (f"{o.input_line} attaches hydra/sweeper={sweeper}, which runs only in a multirun: add -m "
                    f"(budgetsweep -m {o.input_line} ...); without it Hydra would train one job of the default "
                    "recipe and stop")
    return None

# -- reduction parameters and presets that the selected reduction lists cannot take ----------------------
def _names(choice: Any) -> tuple[str, ...]:
    """The reductions one job selects: ``full``, ``data_subset`` or ``[data_subset, short_schedule]``."""
    if isinstance(choice, (list, tuple)):
        return tuple(str(c) for c in choice)
    return (str(choice),)


def _job_choices(value: Any) -> list[tuple[str, ...]]:
    """One entry per job: a sweep (``reduction=full,short_schedule``) gives one per item."""
    items = getattr(value, "list", None)
    if items is None:
        return [_names(value)]
    return [_names(item) for item in items]


def _text(names: tuple[str, ...]) -> str:
    return names[0] if len(names) == 1 else f"[{','.join(names)}]"


def preset_settings(name: str, group: str = "experiment") -> dict[str, Any]:
    """What ``conf/<group>/<name>.yaml`` selects: {"groups": {group: option(s)}, "reductions": names whose
    parameters it sets}; empty for a preset that is not the package's."""
    from omegaconf import OmegaConf

    path = files("budgetsweep.conf").joinpath(group, f"{name}.yaml")
    if not path.is_file():
        return {"groups": {}, "reductions": ()}
    data = OmegaConf.to_container(OmegaConf.create(path.read_text(encoding="utf-8")))
    groups = {}
    for entry in data.get("defaults") or []:
        if isinstance(entry, dict):
            for key, value in entry.items():
                groups[key.split()[-1].lstrip("/")] = value
    return {"groups": groups, "reductions": tuple((data.get("reduction") or {}).keys())}


def reduction_conflict(args: Iterable[str]) -> str | None:
    """The message for overrides whose reduction parameters a job's reduction list cannot take, or None.

    Hydra composes each job on its own: ``reduction.short_schedule.fraction=0.5`` in a grid over
    ``reduction=full,short_schedule`` stops the ``full`` job with "Key 'short_schedule' is not in struct"
    (exit 1), and a preset's parameters (``experiment=proxy50``) left without their reductions by
    ``reduction=full`` reach the app as a reduction without ``_target_``. A preset for one task
    (``charlm_proxy50`` selects ``task=charlm``) combined with another ``task=`` would silently plan that
    other task. Each case is one message naming the keys and the fix (exit 2, before composing).
    """
    overrides = _parsed(args)
    if not overrides:
        return None
    plain = [o for o in overrides if not o.is_delete() and o.package is None]
    chosen = {o.key_or_group: o for o in plain if o.key_or_group in ("reduction", "experiment", "task")}
    preset = chosen.get("experiment")
    preset_name = preset.value() if preset is not None and isinstance(preset.value(), str) else None
    settings = preset_settings(preset_name) if preset_name else {"groups": {}, "reductions": ()}
    task = chosen.get("task")
    preset_task = settings["groups"].get("task")
    if preset_task and task is not None:
        asked = [t for t in _job_choices(task.value()) if _text(t) != preset_task]
        if asked:
            return (f"experiment={preset_name} is a preset for task={preset_task} (conf/experiment/{preset_name}.yaml "
                    f"selects it), but the command asks for task={_text(asked[0])}; the preset's reductions "
                    f"and their parameters are tuned for {preset_task}. Drop {task.input_line}, or for another "
                    f"task use a task-independent preset (experiment=proxy50, small_batch, mup_width)")
    if "reduction" in chosen:
        jobs = _job_choices(chosen["reduction"].value())
        list_text = f"{chosen['reduction'].input_line}"
    elif "reduction" in settings["groups"]:
        jobs = [_names(settings["groups"]["reduction"])]
        list_text = f"experiment={preset_name}'s reduction={_text(jobs[0])}"
    else:
        jobs, list_text = [("full",)], "the default reduction=full"
    for name in settings["reductions"]:
        lacking = next((job for job in jobs if name not in job), None)
        if lacking is not None:
            return (f"experiment={preset_name} sets parameters of reduction.{name} (conf/experiment/{preset_name}"
                    f".yaml), but {list_text} gives a job the reduction list {_text(lacking)}, without {name}, so "
                    f"those parameters have no reduction to go to. A preset is a reduction list with its "
                    f"parameters: for its full recipe drop experiment={preset_name} (and keep its task, if it "
                    f"selects one: {preset_task or 'it does not'}) and run reduction=full; to change the preset, "
                    f"override its parameters (reduction.{name}.<key>=...), not its list")
    for o in plain:
        key = o.key_or_group
        if not key.startswith("reduction.") or key.count(".") < 2:
            continue
        name = key.split(".")[1]
        lacking = next((job for job in jobs if name not in job), None)
        if lacking is not None:
            return (f"{o.input_line} sets a parameter of reduction {name}, but {list_text} gives a job the reduction "
                    f"list {_text(lacking)}, without {name} (Hydra would stop with \"Key '{name}' is not in "
                    f"struct\"): a parameter override applies to every job of a grid. Run one command per "
                    f"reduction list (the jobs without {name}, then those with it and {o.input_line}), or keep "
                    f"{name} in every job's list")
    return None
