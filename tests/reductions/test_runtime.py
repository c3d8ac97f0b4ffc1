from budgetsweep.recipe import Recipe
from budgetsweep.reductions.distill import DistillRuntime
from budgetsweep.reductions.runtime import Runtime, Runtimes, runtime_class, runtimes


class Add(Runtime):
    def view(self, x, y, step, total_steps):
        return x + self.spec["n"], y


def test_runtimes_are_found_by_the_extra_key_in_the_order_applied():
    assert runtime_class("distill") is DistillRuntime
    assert runtime_class("data_subset") is None  # a pure recipe change has no runtime
    assert runtime_class("someone_elses_note") is None  # an extra no reduction module claims changes nothing
    recipe = Recipe(task={}, model={}, extra={"eval_subset": {"fraction": 0.5, "seed": 0}, "note": {},
                                              "quantized_eval": {"dtype": "qint8"}})
    assert [type(r).__name__ for r in runtimes(recipe).items] == ["EvalSubsetRuntime", "QuantizedEvalRuntime"]


def test_each_hook_sees_the_previous_runtimes_result():
    hooks = Runtimes([Add({"n": 1}, None), Runtime({}, None), Add({"n": 10}, None)])
    assert hooks.view(0, "y", 3, 10) == (11, "y")
    assert hooks.loss("f") == "f" and hooks.training_data("d") == "d" and hooks.info == {}
