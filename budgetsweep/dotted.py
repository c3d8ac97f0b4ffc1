"""Objects named by a dotted path (``_target_``, ``custom_search_space``): Hydra's own lookup
(``hydra.utils.get_object`` / ``get_method``), without the ERROR line Hydra logs before it
raises, since the caller turns the error into one message naming its key."""
from __future__ import annotations

import logging
from typing import Any, Callable


def _quietly(lookup: Callable[[str], Any], path: str) -> Any:
    hydra_log = logging.getLogger("hydra.utils")
    disabled, hydra_log.disabled = hydra_log.disabled, True
    try:
        return lookup(path)
    finally:
        hydra_log.disabled = disabled


def get_object(path: str) -> Any:
    """The object at ``path`` (``hydra.utils.get_object``); ImportError or ValueError when none."""
    from hydra.utils import get_object as hydra_get_object

    return _quietly(hydra_get_object, path)


def get_method(path: str) -> Callable[..., Any]:
    """The callable at ``path`` (``hydra.utils.get_method``); ImportError or ValueError when none."""
    from hydra.utils import get_method as hydra_get_method

    return _quietly(hydra_get_method, path)
