"""The model factory: `load_model(spec)` is the one way to get an ensemble member. A source kind
names its backend here; each backend module is imported only when a model of its kind is made."""

from __future__ import annotations

from collections.abc import Callable

from ..config import ModelSpec
from .backend import LLM, once


def _llama_cpp(spec: ModelSpec) -> LLM:
    from . import sources
    from .llama_cpp_backend import LlamaCppModel

    key = ("llama.cpp", spec.name, str(sources.expected_path(spec)), spec.n_ctx, spec.n_gpu_layers, spec.prompt_style)
    return once(key, lambda: LlamaCppModel(spec))


def _openai(spec: ModelSpec) -> LLM:
    from .openai_backend import RemoteModel

    return once(("openai", spec.name, spec.source.url, spec.source.model, spec.prompt_style), lambda: RemoteModel(spec))


# source kind (config.SOURCE_KINDS) -> the backend that serves it
BACKENDS: dict[str, Callable[[ModelSpec], LLM]] = {
    "pypi": _llama_cpp,  # a GGUF file in the cache or a given path, run in this process
    "hf": _llama_cpp,
    "path": _llama_cpp,
    "openai": _openai,  # a model another process serves over the OpenAI-compatible API
}


def load_model(spec: ModelSpec) -> LLM:
    """The model for a spec, made once per process and shared. Nothing heavy happens here: a GGUF
    loads on first use (or `load()`), a server is first contacted on first use."""
    return BACKENDS[spec.source.kind](spec)
