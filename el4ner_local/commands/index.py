"""`el4ner-local index build | add | info`: build and inspect demonstration indexes (the retrieval
package). Importing it costs only Typer: the embedder and hnswlib are imported inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ..errors import UserError, says_interrupted
from ..same_file import refuse_inputs_inside
from .options import InputFormatOption

index_app = typer.Typer(
    no_args_is_help=True, help="Build and inspect demonstration pools (span-level retrieval indexes)."
)


def _say(message: str) -> None:
    typer.echo(message, err=True)


def _read_pools(pools: list[Path], fmt: str | None = None):
    from ..formats import checked_format, read_labelled

    checked_format(fmt)
    sentences = []
    for pool in pools:
        if not pool.exists():
            raise UserError(
                f"{pool}: no such pool file", fix="give a labelled pool: CoNLL, JSONL, .spacy, or a saved dataset"
            )
        got = read_labelled(pool, fmt)  # (a folder is read as a saved dataset, or refused in one line)
        _say(f"{pool}: {len(got)} sentences, {sum(len(s.spans) for s in got)} entities")
        sentences.extend(got)
    return sentences


@index_app.command("build")
@says_interrupted
def build(
    pools: list[Path] = typer.Argument(
        ...,
        readable=False,
        help="labelled pool files: CoNLL (BIO, IOB1, BIOES, -DOCSTART-), JSONL (ours, Prodigy, doccano), spaCy .spacy, Hugging Face dataset folders or .parquet",
    ),
    output: Path = typer.Option(
        ..., "-o", "--output", help="index directory to write (created; an old index there is replaced)"
    ),
    pos_weights: str = typer.Option(
        "heuristic", "--pos-weights", help="span weights for SpanSim: heuristic (POS-like) or uniform"
    ),
    input_format: str | None = InputFormatOption,
) -> None:
    """Embed the gold spans and sentences of POOL files into an index directory."""
    from ..retrieval import DemoIndex, PosWeights

    refuse_inputs_inside(output, pools, option="-o")
    weights = PosWeights(scheme=pos_weights)
    sentences = _read_pools(pools, input_format)
    index = DemoIndex.build(sentences, output, pos_weights=weights, sources=[str(p) for p in pools], progress=_say)
    counts = index.manifest["counts"]
    typer.echo(f"{output}: {counts['sentences']} sentences, {counts['spans']} spans, labels: {', '.join(index.labels)}")


@index_app.command("add")
@says_interrupted
def add(
    index_dir: Path = typer.Argument(..., help="an index directory written by `index build`"),
    pools: list[Path] = typer.Argument(..., help="more labelled pool files to add"),
    input_format: str | None = InputFormatOption,
) -> None:
    """Add the sentences of POOL files to an existing index (persisted at once)."""
    from ..retrieval import DemoIndex

    refuse_inputs_inside(index_dir, pools, option="index")
    index = DemoIndex.load(index_dir)
    added = index.add(_read_pools(pools, input_format))
    counts = index.manifest["counts"]
    typer.echo(f"{index_dir}: added {added} sentences; now {counts['sentences']} sentences, {counts['spans']} spans")


@index_app.command("info")
def info(
    index_dir: Path = typer.Argument(..., help="an index directory written by `index build`"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
) -> None:
    """Show what an index holds: counts per type, embedder, weights, files (all checked)."""
    from ..retrieval import DemoIndex

    index = DemoIndex.load(index_dir, check_embedder=False)
    data = index.info()
    try:
        from ..retrieval.embedder import default_embedder

        current = default_embedder().identity().to_dict()
        data["embedder_matches_installed"] = current == data["embedder"]
    except UserError:
        data["embedder_matches_installed"] = None
    if as_json:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    counts = data["counts"]
    emb = data["embedder"]
    match = {
        True: "matches the installed one",
        False: "DIFFERS from the installed one: rebuild",
        None: "none installed",
    }
    typer.echo(f"index      {data['path']} (format {data['format_version']})")
    typer.echo(
        f"pool       {counts['sentences']} sentences ({counts.get('sentences_without_spans', 0)} without entities), "
        f"{counts['spans']} spans"
    )
    for label in data["labels"]:
        typer.echo(f"  {label:24} {counts.get('per_label', {}).get(label, 0):6}")
    typer.echo(
        f"embedder   {emb['name']} dim {emb['dim']} sha256 {emb['weights_sha256'][:16]}... "
        f"({match[data['embedder_matches_installed']]})"
    )
    pw = data["pos_weights"]
    weights = (
        "uniform"
        if pw["scheme"] == "uniform"
        else ", ".join(f"{k} {pw[k]}" for k in ("proper", "common", "pronoun", "other"))
    )
    typer.echo(f"weights    {pw['scheme']}: {weights}")
    typer.echo("hnswlib    " + ", ".join(f"{k} {v}" for k, v in data["hnsw"].items()))
    typer.echo("files      " + ", ".join(f"{name} {size / 1e6:.2f} MB" for name, size in data["bytes"].items()))
    typer.echo(f"built      {data['created']}, updated {data['updated']}")
    if data["sources"]:
        typer.echo(f"sources    {', '.join(data['sources'])}")
