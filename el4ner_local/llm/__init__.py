"""LLM backends and the model files they load."""
