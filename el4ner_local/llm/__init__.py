"""LLM backends and the model files they load; `load_model` (factory.py) makes a model from its spec."""

from .factory import load_model

__all__ = ["load_model"]
