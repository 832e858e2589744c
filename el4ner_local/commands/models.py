"""`el4ner-local models list | fetch | check`: where each model's file is, fetching it, trying it."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import UserError, say_error
from ..same_file import refuse_input_as_output
from .options import ModelsOption

models_app = typer.Typer(no_args_is_help=True, help="List, fetch and check the models of the ensemble.")


def _select(config, names: list[str]):
    return [config.model(n) for n in names] if names else list(config.models)


@models_app.command("list")
def models_list(names: list[str] = typer.Argument(None), models: Path | None = ModelsOption) -> None:
    """Each model: where its file is, its size, whether it is present and verified."""
    from ..config import load_config
    from ..llm import sources

    config = load_config(models)
    typer.echo(f"models file: {config.path}")
    for spec in _select(config, names or []):
        if spec.source.kind == "openai":  # nothing here: `models check` asks the server
            typer.echo(f"{spec.name:24} {spec.source.kind:5} {'served':26} {'-':>8}  {spec.source.url}")
            continue
        st = sources.status(spec)
        state = "verified" if st.verified else ("CORRUPT (sha256 mismatch)" if st.present else "missing")
        size = f"{st.size / 1e6:.0f} MB" if st.present else "-"
        typer.echo(f"{spec.name:24} {spec.source.kind:5} {state:26} {size:>8}  {st.path}")


@models_app.command("fetch")
def models_fetch(names: list[str] = typer.Argument(None), models: Path | None = ModelsOption) -> None:
    """Download each model's file once into the cache and verify its sha256.

    What it does goes to stdout; stderr carries only errors (and the hub's progress bars)."""
    from ..config import load_config
    from ..llm import sources

    config = load_config(models)
    specs = _select(config, names or [])
    for spec in specs:
        if spec.source.kind != "openai":
            refuse_input_as_output(sources.expected_path(spec), [config.path], option=f"the file of {spec.name}")
    for spec in specs:
        sources.fetch(spec, log=typer.echo)


@models_app.command("check")
def models_check(names: list[str] = typer.Argument(None), models: Path | None = ModelsOption) -> None:
    """Load each model and run one short prompt: load time, prompt and generation speed.

    Every model is checked; a model that fails is reported on one line, and the exit status
    is non-zero when any failed."""
    from ..config import load_config
    from ..llm import load_model
    from ..llm.backend import Prompt

    config = load_config(models)
    failed = 0
    for spec in _select(config, names or []):
        try:
            model = load_model(spec)
            model.load()  # now, so that load time is measured apart
            question = (
                Prompt("", "The capital of France is")
                if spec.prompt_style == "completion"
                else Prompt("You are a helpful assistant.", "Name the capital of France in one word.")
            )
            answer = model.generate(question, max_tokens=16, max_lines=1)
            prompt_tps, gen_tps = model.measure_speed()
        except UserError as exc:
            say_error(exc.one_line())
            failed += 1
            continue
        typer.echo(
            f"{spec.name:24} load {model.load_seconds:5.2f}s  prompt {prompt_tps:6.1f} tok/s  "
            f"generation {gen_tps:5.1f} tok/s  answer {answer.strip()!r}"
        )
    if failed:
        raise typer.Exit(UserError.exit_code)
