"""`el4ner-local eval`: score the ensemble, each member and the ablations on a labelled test file."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ..errors import UserError, says_interrupted
from .options import InputFormatOption, ModelsOption, OnlyOption, ProfileOption, model_names


@says_interrupted
def eval_command(
    data: Path = typer.Option(..., "--data", readable=False, help="labelled test file (CoNLL BIO/IOB1 or JSONL)"),
    pool: Path = typer.Option(..., "--pool", readable=False, help="labelled demonstration pool (the training split)"),
    limit: int | None = typer.Option(None, "--limit", help="score a fixed random sample of N sentences"),
    seed: int = typer.Option(0, "--seed", help="seed of the sample (the same seed and a larger N extend the sample)"),
    retrieval: str = typer.Option(
        "span,none,random,sentence",
        "--retrieval",
        help="retrieval modes to run, the first is the main one: span, none (zero-shot), random, sentence",
    ),
    k: int | None = typer.Option(None, "--k", help="demonstrations per sentence (default: models.toml)"),
    only: str | None = OnlyOption,
    profile: str | None = ProfileOption,
    output: Path | None = typer.Option(None, "-o", "--output", help="write the JSON report here"),
    cache: Path | None = typer.Option(None, "--cache", help="record cache directory (default: <cache>/eval)"),
    models: Path | None = ModelsOption,
    threads: int | None = typer.Option(
        None, "--threads", help="CPU threads per model (default: models.toml); 1 is fastest on a busy CPU"
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress lines on stderr"),
    input_format: str | None = InputFormatOption,
) -> None:
    """Strict entity-level P/R/F1 (seqeval) of the ensemble, each member alone and the ablations.

    Every sentence's records are cached on disk, keyed by the input, the settings and the model hashes:
    an interrupted run resumes, and a changed setting reruns only what it changes."""
    from ..evaluation.records import RETRIEVAL_MODES
    from ..evaluation.report import format_report
    from ..evaluation.run import evaluate

    modes = [m.strip() for m in retrieval.split(",") if m.strip()]
    bad = [m for m in modes if m not in RETRIEVAL_MODES]
    if bad or not modes:
        raise UserError(
            f"unknown --retrieval mode {', '.join(bad) or '(empty)'}", fix=f"use some of: {', '.join(RETRIEVAL_MODES)}"
        )
    if limit is not None and limit < 1:
        raise UserError(
            f"--limit {limit}: must be at least 1", fix="pass --limit 200, or leave it out for the whole file"
        )
    from ..config import load_config, models_file
    from ..formats import checked_format
    from ..same_file import refuse_input_as_output

    checked_format(input_format)

    refuse_input_as_output(output, [data, pool, models_file(models)], option="-o")
    load_config(models, profile)  # a bad models file or profile is reported before minutes of index building
    say = (lambda message: None) if quiet else (lambda message: typer.echo(message, err=True))
    report = evaluate(
        data,
        pool,
        limit=limit,
        seed=seed,
        retrieval=modes,
        models=models,
        profile=profile,
        only=model_names(only),
        k=k,
        root=cache,
        threads=threads,
        progress=say,
        input_format=input_format,
    )
    if output:
        try:
            from ..private_files import mode_beside, open_private

            with open_private(
                output, "w", mode_beside([data, pool]), encoding="utf-8"
            ) as f:  # about the user's data: no wider than it
                f.write(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
        except OSError as exc:
            raise UserError(
                f"{output}: cannot write the report ({exc.strerror})", fix="choose a writable path with -o"
            ) from None
    typer.echo(format_report(report))
