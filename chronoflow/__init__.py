"""ChronoFlow: cron as a function."""

__version__ = "0.1.0"

__all__ = ["__version__"]
