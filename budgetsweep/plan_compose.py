"""Compose a command's configs as ``budgetsweep`` would, without running Hydra's app: one config, or
with ``multirun`` one per job of the grid (Hydra's basic sweeper's expansion of comma lists and
ranges). Used by ``budgetsweep-plan``; nothing is written (no output folder, no ``.hydra``).
"""
from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig


class ComposeError(ValueError):
    """Overrides that do not compose; the message names the key and what is allowed."""


def _parse(overrides: list[str]):
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    try:
        return OverridesParser.create().parse_overrides(overrides)
    except OverrideParseException as exc:
        raise ComposeError(str(exc).strip().splitlines()[0]) from None


def job_overrides(overrides: list[str], multirun: bool) -> list[tuple[list[str], list[str]]]:
    """[(the job's overrides, the ones that vary across the grid)], as Hydra's basic sweeper expands them."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.errors import HydraException

    parsed = _parse(overrides)
    sweeps = [o for o in parsed if o.is_sweep_override()]
    if sweeps and not multirun:
        o = sweeps[0]
        raise ComposeError(f"{o.input_line} is a sweep: add -m to plan one row per job of the grid")
    if not multirun:
        return [(list(overrides), [])]
    try:
        batches = BasicSweeper.split_arguments(parsed, None)[0]
    except HydraException as exc:
        raise ComposeError(f"{exc}; budgetsweep-plan -m expands comma lists and ranges (a grid), not the search "
                           "spaces of hydra/sweeper=budget: plan with values from them") from None
    varying_keys = {o.get_key_element() for o in sweeps}
    return [(job, [o for o in job if o.split("=", 1)[0] in varying_keys]) for job in batches]


def compose_jobs(overrides: list[str], *, multirun: bool = False, config_path: str | None = None,
                 config_name: str = "config") -> list[tuple[DictConfig, list[str], list[str]]]:
    """[(composed config, the job's overrides, its varying overrides)] for budgetsweep's config, or a user's
    config folder ``config_path``. Raises ComposeError naming the key for anything Hydra rejects."""
    from hydra import compose, initialize_config_dir, initialize_config_module
    from hydra.errors import HydraException, MissingConfigException
    from omegaconf.errors import OmegaConfBaseException

    # hydra.* overrides choose how jobs run (sweeper, launcher, output folders), not what they do
    plain = [o for o in overrides if not o.lstrip("+~").startswith("hydra")]
    jobs = job_overrides(plain, multirun)
    if config_path is None:
        context = initialize_config_module(config_module="budgetsweep.conf", version_base=None)
    else:
        folder = Path(config_path).expanduser().resolve()
        if not folder.is_dir():
            raise ComposeError(f"--config-path={config_path!r} is not a folder (resolved to {folder})")
        context = initialize_config_dir(config_dir=str(folder), version_base=None)
    out = []
    with context:
        for job, varying in jobs:
            try:
                cfg = compose(config_name=config_name, overrides=job)
            except MissingConfigException as exc:
                raise ComposeError(_missing(exc, config_name)) from None
            except (HydraException, OmegaConfBaseException) as exc:
                raise ComposeError(str(exc).strip().replace("\n", " ")) from None
            out.append((cfg, job, varying))
    return out


def _missing(exc, config_name: str) -> str:
    """'task=foo: no such option; allowed: charlm, digits, teacher_student' from Hydra's exception."""
    missing = getattr(exc, "missing_cfg_file", None) or ""
    group, _, option = missing.rpartition("/")
    if group and exc.options:
        return f"{group}={option}: no such option in config group '{group}'; allowed: {', '.join(exc.options)}"
    if group:
        return f"{group}={option}: no such config group option"
    return f"--config-name={config_name!r}: {str(exc).strip().splitlines()[0]}"
