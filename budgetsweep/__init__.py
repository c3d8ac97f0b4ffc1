"""budgetsweep: proxy experiments on a compute budget."""
__version__ = "0.1.0"
