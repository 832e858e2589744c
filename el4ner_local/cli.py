"""The el4ner-local command line: a thin Typer app that parses, calls the library and prints.

Heavy imports (llama_cpp, sentence_transformers, textual) happen inside commands, never at start-up.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from .errors import UserError, say_error, says_interrupted
from .same_file import refuse_input_as_output

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Offline named entity recognition with an ensemble of small LLMs (EL4NER).")
models_app = typer.Typer(no_args_is_help=True, help="List, fetch and check the models of the ensemble.")
app.add_typer(models_app, name="models")
from .retrieval.cli import index_app  # noqa: E402  (cheap: Typer only)

app.add_typer(index_app, name="index")
from .evaluate_cli import eval_command  # noqa: E402  (cheap: Typer only)

app.command("eval")(eval_command)

ModelsOption = typer.Option(None, "--models", help="models.toml to use (default: $EL4NER_MODELS or the built-in one)")


_err = say_error


def main() -> None:
    """Console entry point: user mistakes become one line on stderr and a non-zero exit."""
    try:
        app()
    except UserError as exc:
        _err(exc.one_line())
        sys.exit(exc.exit_code)
    except OSError as exc:  # the safety net: a file problem is the user's to fix, never a traceback
        from .errors import from_os_error

        error = from_os_error(exc)
        _err(error.one_line())
        sys.exit(error.exit_code)


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
        if spec.source.kind == "openai":  # nothing here: `models check` asks the server
            typer.echo(f"{spec.name:24} {spec.source.kind:5} {'served':26} {'-':>8}  {spec.source.url}")
            continue
        st = sources.status(spec)
        state = "verified" if st.verified else ("CORRUPT (sha256 mismatch)" if st.present else "missing")
        size = f"{st.size / 1e6:.0f} MB" if st.present else "-"
        typer.echo(f"{spec.name:24} {spec.source.kind:5} {state:26} {size:>8}  {st.path}")


@models_app.command("fetch")
def models_fetch(names: list[str] = typer.Argument(None), models: Optional[Path] = ModelsOption) -> None:
    """Download each model's file once into the cache and verify its sha256.

    What it does goes to stdout; stderr carries only errors (and the hub's progress bars)."""
    from .config import load_config
    from .llm import sources

    config = load_config(models)
    specs = _select(config, names or [])
    for spec in specs:
        if spec.source.kind != "openai":
            refuse_input_as_output(sources.expected_path(spec), [config.path], option=f"the file of {spec.name}")
    for spec in specs:
        sources.fetch(spec, log=typer.echo)


@models_app.command("check")
def models_check(names: list[str] = typer.Argument(None), models: Optional[Path] = ModelsOption) -> None:
    """Load each model and run one short prompt: load time, prompt and generation speed.

    Every model is checked; a model that fails is reported on one line, and the exit status
    is non-zero when any failed."""
    from .config import load_config
    from .llm.backend import Prompt
    from .llm.llama_cpp_backend import load

    config = load_config(models)
    failed = 0
    for spec in _select(config, names or []):
        try:
            model = load(spec)
            model.llm  # load now, so that load time is measured apart
            question = (Prompt("", "The capital of France is") if spec.prompt_style == "completion" else
                        Prompt("You are a helpful assistant.", "Name the capital of France in one word."))
            answer = model.generate(question, max_tokens=16, max_lines=1)
            prompt_tps, gen_tps = model.measure_speed()
        except UserError as exc:
            _err(exc.one_line())
            failed += 1
            continue
        typer.echo(f"{spec.name:24} load {model.load_seconds:5.2f}s  prompt {prompt_tps:6.1f} tok/s  "
                   f"generation {gen_tps:5.1f} tok/s  answer {answer.strip()!r}")
    if failed:
        raise typer.Exit(UserError.exit_code)


@app.command()
@says_interrupted  # the records written so far are whole
def tag(
    files: list[str] = typer.Argument(..., help="text files to tag; - reads standard input"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="write here instead of standard output"),
    fmt: str = typer.Option("jsonl", "--format", "-f", help="jsonl | conll | table"),
    labels: Optional[str] = typer.Option(None, "--labels", help="entity types, e.g. person,location:a place"),
    schema: Optional[Path] = typer.Option(None, "--schema", help="schema file (label = description)"),
    index: Optional[str] = typer.Option("default", "--index", help="demonstration index dir; 'default' = built-in pool; 'none' = zero-shot"),
    only: Optional[str] = typer.Option(None, "--only", help="comma-separated model names to use"),
    k: Optional[int] = typer.Option(None, "--k", help="demonstrations per sentence"),
    no_verify: bool = typer.Option(False, "--no-verify", help="skip the verification stage"),
    models: Optional[Path] = ModelsOption,
    ray: Optional[str] = typer.Option(None, "--ray", metavar="ADDRESS",
                                      help="tag on a Ray cluster: host:port, auto, or local (one started here); "
                                           "-o OUT.jsonl then skips the blocks already in OUT"),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Ray workers, with --ray (default: one per CPU of the cluster)"),
) -> None:
    """Tag entities in text files; one output record per block of about 500 characters of whole lines."""
    from .tag_command import run_tag

    if fmt not in ("jsonl", "conll", "table"):
        raise UserError(f"unknown --format {fmt!r}", fix="use jsonl, conll or table")
    overrides = {key: value for key, value in (("k", k), ("verify", False if no_verify else None)) if value is not None}
    if workers is not None and ray is None:
        raise UserError("--workers needs --ray", fix="add --ray local (or a cluster's address), or drop --workers")
    if ray is not None and not _ray_address(ray):
        raise UserError(f"--ray {ray!r} is not a Ray address", fix="use --ray local, --ray auto or --ray HOST:PORT")
    refuse_input_as_output(output, [*files, schema, models], option="-o",
                           folders=[index if index not in (None, "default", "none") else None])
    runner = run_tag
    if ray is not None:
        from functools import partial

        from .ray_tag import run_tag_ray  # Ray is imported only here

        runner = partial(run_tag_ray, address=ray, workers=workers)
    failed = runner(files, output=output, fmt=fmt, labels=labels, schema=schema,
                    index=None if index == "none" else index, only=only.split(",") if only else None,
                    models=models, overrides=overrides, echo_error=_err)
    if failed:
        raise typer.Exit(1)


def _ray_address(value: str) -> bool:
    import re

    return value in ("local", "auto") or bool(re.fullmatch(r"(ray://)?[\w.\-]+:\d+|ray://[\w.\-]+", value))


@app.command()
def annotate(
    file: Path = typer.Argument(..., readable=False, help="text file to annotate"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="annotations JSONL (default: FILE.annotations.jsonl beside FILE)"),
    pool: Optional[Path] = typer.Option(None, "--pool", help="labelled pool (CoNLL/JSONL) for the session's own demonstration index"),
    index: Optional[str] = typer.Option(None, "--index", help="demonstration index dir (accepted sentences are added to it); 'none' = zero-shot"),
    labels: Optional[str] = typer.Option(None, "--labels", help="entity types, e.g. person,location:a place"),
    schema: Optional[Path] = typer.Option(None, "--schema", help="schema file (label = description)"),
    only: Optional[str] = typer.Option(None, "--only", help="comma-separated model names to use"),
    k: Optional[int] = typer.Option(None, "--k", help="demonstrations per sentence"),
    no_verify: bool = typer.Option(False, "--no-verify", help="skip the verification stage"),
    keys: Optional[Path] = typer.Option(None, "--keys", help="key map TOML (default: $EL4NER_KEYS or ~/.config/el4ner-local/keys.toml)"),
    ahead: int = typer.Option(3, "--ahead", help="sentences ahead whose suggestions are computed in the background"),
    export: Optional[list[Path]] = typer.Option(None, "--export", help="write the accepted sentences to PATH (.jsonl or .conll) and exit"),
    models: Optional[Path] = ModelsOption,
) -> None:
    """Annotate a text file in the terminal, with every model's vote per span; decisions are saved at once."""
    from .annotate_command import run_annotate

    overrides = {key: value for key, value in (("k", k), ("verify", False if no_verify else None)) if value is not None}
    run_annotate(file, out=out, pool=pool, index=index, labels=labels, schema=schema,
                 only=only.split(",") if only else None, models=models, overrides=overrides, keys=keys,
                 ahead=ahead, export=list(export or []))


if __name__ == "__main__":
    main()
