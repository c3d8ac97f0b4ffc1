"""``hydra/sweeper=hypothesis``: runs a registered hypothesis's paired jobs (``budgetsweep-hypothesis``)."""
