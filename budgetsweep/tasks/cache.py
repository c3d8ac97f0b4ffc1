"""Per-process caches for what every job of an in-process sweep would otherwise rebuild.

Hydra's basic launcher runs a multirun's jobs one after another in one process; without a cache
each job loads and splits its task's data again and counts its model's FLOPs twice (plan and
trainer). Both results depend only on content, so they are cached under a key made of content:

- ``DATASETS``: a task's prepared splits, keyed by the task's class and every constructor value,
  plus the sha256 of a user corpus file's bytes (read for every job), so a changed config or a
  changed file misses. Cached arrays are read-only (numpy ``writeable=False``); a task's
  ``build_data`` hands out copies, so a job that edits its tensors in place cannot reach the next job.
- ``FLOPS``: training FLOPs per example, keyed by the task's key, the model config and the batch's
  shapes and dtypes: the counter runs once per distinct model.

Both are LRUs of a few entries, so a long sweep's memory does not grow with its number of jobs.
"""
from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from typing import Any, Callable, TypeVar

T = TypeVar("T")


def content_key(*parts: Any) -> str:
    """A sha256 hex digest of ``parts`` as canonical JSON (sorted keys; non-JSON values by ``repr``)."""
    text = json.dumps(parts, sort_keys=True, default=repr, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ContentCache:
    """A bounded LRU of values built from content: ``get(key, build)`` calls ``build()`` on a miss only.

    ``builds`` and ``hits`` count what happened (tests and the speed benchmark read them).
    Raises ValueError for ``maxsize`` < 1.
    """

    def __init__(self, name: str, maxsize: int) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ValueError(f"{name} cache: maxsize={maxsize!r} is not allowed; it must be an integer >= 1")
        self.name, self.maxsize = name, maxsize
        self._items: OrderedDict[str, Any] = OrderedDict()
        self.builds = self.hits = 0

    def get(self, key: str, build: Callable[[], T]) -> T:
        if key in self._items:
            self._items.move_to_end(key)
            self.hits += 1
            return self._items[key]
        value = build()  # an exception caches nothing
        self.builds += 1
        self._items[key] = value
        while len(self._items) > self.maxsize:
            self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()
        self.builds = self.hits = 0


# a few datasets: a sweep over task.* values keeps its recent splits, memory stays bounded
DATASETS = ContentCache("dataset", maxsize=4)
# floats: cheap to keep many (one per distinct model and batch shape)
FLOPS = ContentCache("flops", maxsize=256)


def read_only(*arrays):
    """The numpy arrays, marked read-only (a cached split must never be edited in place)."""
    for array in arrays:
        array.setflags(write=False)
    return arrays


def tensor_signature(*tensors) -> list[list[Any]]:
    """Shapes and dtypes of tensors, for a FLOPs key."""
    return [[list(t.shape), str(t.dtype)] for t in tensors]
