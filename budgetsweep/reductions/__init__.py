"""Reductions: transforms recipe -> cheaper recipe, one strategy per module, chosen by ``_target_``."""
from budgetsweep.reductions.base import Reduction, apply_all, reduction_label
from budgetsweep.reductions.batch_scaling import BatchScaling
from budgetsweep.reductions.data_subset import DataSubset
from budgetsweep.reductions.full import Full
from budgetsweep.reductions.mixed_precision import MixedPrecision
from budgetsweep.reductions.short_schedule import ShortSchedule

__all__ = ["Reduction", "apply_all", "reduction_label", "Full", "DataSubset", "BatchScaling",
           "ShortSchedule", "MixedPrecision"]
