"""mailqa: self-hosted email QA analysis."""

__version__ = "0.1.0"
__all__ = ["__version__"]
