"""Loading state dicts (``weights_only=True``), strictly or partially.

A checkpoint is a state dict saved with ``torch.save`` (``train.save_checkpoint=true``). A missing,
unreadable or mismatched file gives a ValueError naming the path.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a state-dict checkpoint, on CPU; never unpickles arbitrary objects."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated file, a pickle of objects, not a torch file at all
        raise ValueError(f"checkpoint {path} could not be loaded with weights_only=True: {exc}") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"checkpoint {path} is not a state dict (a mapping of names to tensors)")
    return state


@dataclass
class LoadReport:
    """What a checkpoint gave a model: tensors loaded, skipped (with why), missing, frozen."""

    checkpoint: str = ""
    loaded: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    frozen: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """For a run record: the checkpoint, the count of tensors loaded, the others by name."""
        return {"checkpoint": self.checkpoint, "loaded": len(self.loaded), "skipped": self.skipped,
                "missing": self.missing, "frozen": self.frozen}


def load_into(model: torch.nn.Module, path: str | Path, *, strict: bool = True) -> LoadReport:
    """Copy the checkpoint's tensors into ``model``: all of them (strict) or those matching by name and shape."""
    state = load_state_dict(path)
    own = model.state_dict()
    report = LoadReport(checkpoint=str(path))
    for name, tensor in state.items():
        if name not in own:
            report.skipped[name] = "not in the model"
        elif own[name].shape != tensor.shape:
            report.skipped[name] = f"shape {list(tensor.shape)} in the checkpoint, {list(own[name].shape)} in the model"
        else:
            report.loaded.append(name)
    report.missing = [name for name in own if name not in state]
    if strict and (report.skipped or report.missing):
        problems = [f"{n}: {why}" for n, why in report.skipped.items()] + [f"{n}: not in the checkpoint"
                                                                           for n in report.missing]
        raise ValueError(f"checkpoint {path} does not match the model ({len(problems)} tensor(s)): "
                         + "; ".join(problems[:8]) + (" ..." if len(problems) > 8 else ""))
    with torch.no_grad():
        for name in report.loaded:
            own[name].copy_(state[name])
    return report
