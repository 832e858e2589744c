"""The el4ner-local command line: a thin Typer app that parses, calls the library and prints.

Heavy imports (llama_cpp, sentence_transformers, textual) happen inside commands, never at start-up.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from .errors import UserError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Offline named entity recognition with an ensemble of small LLMs (EL4NER).")
models_app = typer.Typer(no_args_is_help=True, help="List, fetch and check the models of the ensemble.")
app.add_typer(models_app, name="models")

ModelsOption = typer.Option(None, "--models", help="models.toml to use (default: $EL4NER_MODELS or the built-in one)")


def _err(message: str) -> None:
    typer.echo(f"el4ner-local: error: {message}", err=True)


def main() -> None:
    """Console entry point: user mistakes become one line on stderr and a non-zero exit."""
    try:
        app()
    except UserError as exc:
        _err(exc.one_line())
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _err("interrupted")
        sys.exit(130)


def _select(config, names: list[str]):
    return [config.model(n) for n in names] if names else list(config.models)


@models_app.command("list")
def models_list(names: list[str] = typer.Argument(None), models: Optional[Path] = ModelsOption) -> None:
    """Each model: where its file is, its size, whether it is present and verified."""
    from .config import load_config
    from .llm import sources

    config = load_config(models)
    typer.echo(f"models file: {config.path}")
    for spec in _select(config, names or []):
        st = sources.status(spec)
        state = "verified" if st.verified else ("CORRUPT (sha256 mismatch)" if st.present else "missing")
        size = f"{st.size / 1e6:.0f} MB" if st.present else "-"
        typer.echo(f"{spec.name:24} {spec.source.kind:5} {state:26} {size:>8}  {st.path}")


@models_app.command("fetch")
def models_fetch(names: list[str] = typer.Argument(None), models: Optional[Path] = ModelsOption) -> None:
    """Download each model's file once into the cache and verify its sha256."""
    from .config import load_config
    from .llm import sources

    config = load_config(models)
    for spec in _select(config, names or []):
        sources.fetch(spec, log=lambda msg: typer.echo(msg, err=True))


@models_app.command("check")
def models_check(names: list[str] = typer.Argument(None), models: Optional[Path] = ModelsOption) -> None:
    """Load each model and run one short prompt: load time, prompt and generation speed."""
    from .config import load_config
    from .llm.backend import Prompt
    from .llm.llama_cpp_backend import load

    config = load_config(models)
    for spec in _select(config, names or []):
        model = load(spec)
        model.llm  # load now, so load time is separate
        before = model.stats.copy()
        text = model.generate(Prompt("You are a helpful assistant.", "Name the capital of France in one word."),
                              max_tokens=16, max_lines=1)
        used = model.stats.minus(before)
        typer.echo(f"{spec.name:24} load {model.load_seconds:5.2f}s  prompt {used.evaluated} tok  "
                   f"generated {used.generated} tok in {used.seconds:5.2f}s  -> {text.strip()!r}")
        _speed(model, spec.name)


def _speed(model, name: str) -> None:
    """Prompt and generation tokens per second, measured separately."""
    from .llm.backend import Prompt, TokenStats

    prompt = Prompt("", "The quick brown fox jumps over the lazy dog. " * 8)
    stats = TokenStats()
    import time

    with model._lock:
        model.llm.reset()
        tokens = model._tokens(model.render(prompt))
        t0 = time.perf_counter()
        model._eval_to(tokens, stats)
        t1 = time.perf_counter()
    g0 = model.stats.copy()
    model.generate(Prompt("", "Count from one to twenty in words:"), max_tokens=32)
    gen = model.stats.minus(g0)
    typer.echo(f"{'':24} prompt {stats.evaluated / (t1 - t0):6.1f} tok/s   "
               f"generation {max(gen.generated, 1) / max(gen.seconds, 1e-9):6.1f} tok/s")


if __name__ == "__main__":
    main()
