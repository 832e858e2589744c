"""`el4ner-local tag`: parse the options and hand the inputs to a driver of the tagging package
(single.py in this process, ray_driver.py with --ray)."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from ..config import models_file
from ..errors import UserError, says_interrupted
from ..formats.outputs import FILE_FORMATS
from ..same_file import refuse_input_as_output
from ..tagging.writers import FORMATS
from .options import (
    KOption,
    LabelsOption,
    ModelsOption,
    NoPoolNamesOption,
    NoVerifyOption,
    OnlyOption,
    ProfileOption,
    SchemaOption,
    model_names,
    tagger_overrides,
)


@says_interrupted  # the records written so far are whole
def tag(
    files: list[str] = typer.Argument(..., help="text files to tag; - reads standard input"),
    output: Path | None = typer.Option(
        None,
        "-o",
        "--output",
        help="write here instead of standard output; in JSONL a rerun appends to it, skipping the blocks "
        "it already holds (refused if the models, --profile, labels, schema, index or its tuning, --only, --k, "
        "--no-verify or --no-pool-names differ)",
    ),
    fmt: str = typer.Option("jsonl", "--format", "-f", help=" | ".join(FORMATS)),
    labels: str | None = LabelsOption,
    schema: Path | None = SchemaOption,
    index: str | None = typer.Option(
        "default", "--index", help="demonstration index dir; 'default' = built-in pool; 'none' = zero-shot"
    ),
    only: str | None = OnlyOption,
    k: int | None = KOption,
    no_verify: bool = NoVerifyOption,
    no_pool_names: bool = NoPoolNamesOption,
    profile: str | None = ProfileOption,
    models: Path | None = ModelsOption,
    ray: str | None = typer.Option(
        None,
        "--ray",
        metavar="ADDRESS",
        help="tag on a Ray cluster: host:port, auto, or local (one started here); -o OUT.jsonl resumes as without it",
    ),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="Ray workers, with --ray (default: one per CPU of the cluster)"
    ),
) -> None:
    """Tag entities in text files; one output record per block of about 500 characters of whole lines."""
    if fmt not in FORMATS:
        raise UserError(f"unknown --format {fmt!r}", fix=f"use {', '.join(FORMATS[:-1])} or {FORMATS[-1]}")
    if fmt in FILE_FORMATS and output is None:  # whole files, written at the end: not a stream
        raise UserError(
            f"--format {fmt} writes a whole {'DocBin file' if fmt == 'spacy' else 'dataset'}, not a stream",
            fix=f"add -o {'OUT.spacy' if fmt == 'spacy' else 'OUT_FOLDER (or OUT.parquet)'}",
        )
    if workers is not None and ray is None:
        raise UserError("--workers needs --ray", fix="add --ray local (or a cluster's address), or drop --workers")
    if ray is not None and not _ray_address(ray):
        raise UserError(f"--ray {ray!r} is not a Ray address", fix="use --ray local, --ray auto or --ray HOST:PORT")
    refuse_input_as_output(
        output,
        [*files, schema, models_file(models)],
        option="-o",
        folders=[index if index not in (None, "default", "none") else None],
    )
    if ray is None:
        from ..tagging.single import run_tag as runner
    else:
        from functools import partial

        from ..tagging.ray_driver import run_tag_ray  # Ray is imported only here

        runner = partial(run_tag_ray, address=ray, workers=workers)
    failed = runner(
        files,
        output=output,
        fmt=fmt,
        labels=labels,
        schema=schema,
        index=None if index == "none" else index,
        only=model_names(only),
        models=models,
        profile=profile,
        overrides=tagger_overrides(k, no_verify, no_pool_names),
    )
    if failed:
        raise typer.Exit(1)


def _ray_address(value: str) -> bool:
    return value in ("local", "auto") or bool(re.fullmatch(r"(ray://)?[\w.\-]+:\d+|ray://[\w.\-]+", value))
