"""budgetsweep: proxy experiments on a compute budget."""
from budgetsweep._version import __version__

from budgetsweep.records import RunStatus
from budgetsweep.run_context import BudgetStopped, RunContext, StopRun, TrialPruned, run_context

__all__ = ["run_context", "RunContext", "RunStatus", "StopRun", "TrialPruned", "BudgetStopped", "__version__"]
