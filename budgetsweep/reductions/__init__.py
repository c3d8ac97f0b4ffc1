"""Reductions: transforms recipe -> cheaper recipe, one strategy per module, chosen by ``_target_``."""
from budgetsweep.reductions.base import Reduction, apply_all, reduction_label
from budgetsweep.reductions.batch_scaling import BatchScaling
from budgetsweep.reductions.curriculum import Curriculum
from budgetsweep.reductions.data_subset import DataSubset
from budgetsweep.reductions.distill import Distill
from budgetsweep.reductions.full import Full
from budgetsweep.reductions.mixed_precision import MixedPrecision
from budgetsweep.reductions.model_scale import ModelScale
from budgetsweep.reductions.progressive import Progressive
from budgetsweep.reductions.quantized_eval import QuantizedEval
from budgetsweep.reductions.short_schedule import ShortSchedule
from budgetsweep.reductions.synthetic_data import SyntheticData
from budgetsweep.reductions.transfer import Transfer

__all__ = ["Reduction", "apply_all", "reduction_label", "Full", "DataSubset", "BatchScaling",
           "ShortSchedule", "MixedPrecision", "Progressive", "Curriculum", "Distill", "Transfer",
           "SyntheticData", "ModelScale", "QuantizedEval"]
