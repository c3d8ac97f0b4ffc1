"""Compute budgets: cost units, the cost model, the ledger, and the job's link to its trial.

Modules are imported one by one (``from budgetsweep.budget.ledger import Ledger``), so a job that
only needs ``trial_link`` does not load SQLAlchemy's ledger tables, and nothing here imports torch.
"""
