"""LaunchOps: the ChatOps bot that keeps AI launches agreed, owned and operated."""

__version__ = "0.1.0"
__all__ = ["__version__"]
