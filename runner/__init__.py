"""runner: a resumable, quota-aware batch runner for DashScope Wan image-to-video tasks."""

__version__ = "0.1.0"
__all__ = ["__version__"]
