"""When a batch ends the sweep, without Hydra: upstream's failure rate and an unmeterable unit."""
from budgetsweep.budget import outcome as outcomes
from budgetsweep.budget.failures import batch_failure
from budgetsweep.budget.trial_plan import PlannedTrial


class FakeTrial:  # only its number is read
    def __init__(self, number):
        self.number = number


def trials(*numbers, error=None):
    out = [PlannedTrial(FakeTrial(n), []) for n in numbers]
    for item in out:
        item.error = error
    return out


def ok():
    return outcomes.Outcome(outcomes.COMPLETE, [1.0], "completed", 10.0)


def failed(error="ValueError: boom", actual=10.0):
    return outcomes.Outcome(outcomes.FAIL, None, "failed", actual, error=error)


def test_a_batch_within_the_failure_rate_goes_on():
    assert batch_failure([], trials(0, 1), [ok(), failed()], unit="examples", max_failure_rate=0.5) is None
    assert batch_failure([], [], [], unit="examples", max_failure_rate=0.0) is None


def test_a_batch_above_the_failure_rate_names_the_first_failed_trial():
    found = batch_failure(trials(3, error="ConfigError: bad"), trials(4, 5), [failed(), ok()],
                          unit="examples", max_failure_rate=0.5)
    assert (found.config_error, found.failed, found.of) == (False, 2, 3)
    assert found.stopped == "failure rate 2/3 > max_failure_rate=0.5"
    assert found.message.startswith("trial 3 failed (ConfigError: bad); 2 of 3 trials in the batch failed")


def test_a_trial_that_metered_nothing_in_the_unit_is_a_config_error_whatever_the_rate():
    error = "UnmeteredCost: the app reported no flops"
    found = batch_failure([], trials(7, 8), [ok(), failed(error, actual=250.0)], unit="flops", max_failure_rate=1.0)
    assert found.config_error and found.stopped == "trial 8 metered no flops"
    assert found.message == ("hydra.sweeper.budget.unit=flops: trial 8 was stopped, the app reported no flops "
                             "(it was charged 250 flops, its reservation)")
