"""``hydra/sweeper=budget``: an Optuna sweeper that never overspends a compute budget."""
