"""`el4ner-local index build | add | info`: build and inspect demonstration indexes (the retrieval
package). Importing it costs only Typer: the embedder and hnswlib are imported inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ..errors import UserError, says_interrupted
from ..same_file import refuse_inputs_inside
from .options import InputFormatOption, ModelsOption, ProfileOption

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


@index_app.command("tune")
@says_interrupted  # the sentences recorded so far are kept: a rerun resumes
def tune(
    index_dir: Path = typer.Argument(..., help="an index directory written by `index build`"),
    models: Path | None = ModelsOption,
    profile: str | None = ProfileOption,
    held_out: int | None = typer.Option(
        None,
        "--held-out",
        min=1,
        metavar="N",
        help="pool sentences to tag with the rest of the pool as demonstrations (default 40, at most half the pool)",
    ),
    seed: int = typer.Option(0, "--seed", help="which sentences are held out"),
    threads: int | None = typer.Option(None, "--threads", min=1, help="CPU threads per model (a speed setting)"),
) -> None:
    """Let the pool choose the vote rule: tag a held-out slice of it once, score the vote rules, weights and
    type sources on it, and keep the best, calibrated, with the index (INDEX/tuning.json, per profile).
    `tag --index INDEX` then uses it while the pool, the models and their settings are those it was tuned
    with. The records are kept in INDEX/tuning/: a rerun calls no model."""
    from ..evaluation.index_tune import summary, tune_index
    from ..pipeline.tuned import TUNING_FILE

    if not index_dir.is_dir():
        what = "no such index directory" if not index_dir.exists() else "not an index directory"
        raise UserError(f"{index_dir}: {what}", fix="build one with `el4ner-local index build POOL... -o DIR`")
    entry = tune_index(
        index_dir, models=models, profile=profile, held_out=held_out, seed=seed, threads=threads, progress=_say
    )
    from ..config import load_config

    name = load_config(models, profile).profile
    for line in summary(entry, name):
        typer.echo(line)
    chosen = f"--profile {name}" if profile else "its default profile"
    typer.echo(f"{index_dir / TUNING_FILE}: kept for profile {name}; `tag --index {index_dir}` with {chosen} uses it")


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
    data["tuning"] = _tunings(index)
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
    from ..evaluation.index_tune import percent

    for name, t in data["tuning"].items():
        state = "" if t["current_pool"] else " (pool changed since: not applied; tune again)"
        typer.echo(
            f"tuning     {name}: F1 {percent(t['untuned_f1'])} -> {percent(t['f1'])} (cross-fitted "
            f"{percent(t['cross_fitted_f1'])}) on {t['held_out']} held-out sentences, {', '.join(t['models'])}, "
            f"{t['when']}{state}"
        )


def _tunings(index) -> dict:
    """A line's worth of each profile's tuning (pipeline/tuned.py), and whether it is of the current pool."""
    from ..evaluation.cache import index_identity
    from ..pipeline.tuned import read_tunings, tuning_path

    out = {}
    for name, entry in read_tunings(index.path).items():
        try:
            report = entry.get("tuning", {}).get("report", {})
            out[name] = {
                "f1": report.get("f1"),
                "untuned_f1": report.get("base", {}).get("f1"),
                "cross_fitted_f1": report.get("cross_fitted", {}).get("f1"),
                "held_out": entry.get("held_out", {}).get("sentences"),
                "models": [m.get("name") for m in entry.get("models", [])],
                "when": entry.get("when"),
                "current_pool": entry.get("pool") == index_identity(index),
            }
        except (AttributeError, TypeError):  # an entry edited by hand into another shape
            path = tuning_path(index.path)
            raise UserError(
                f"{path}: profile {name!r}'s tuning is not as `index tune` writes it",
                fix=f"run `el4ner-local index tune {index.path}` again, or delete {path}",
            ) from None
    return out
