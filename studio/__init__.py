"""Studio: a local generative-AI studio."""

__version__ = "0.1.0"
