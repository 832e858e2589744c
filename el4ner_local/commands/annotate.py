"""`el4ner-local annotate`: open the terminal annotator on a text file (or export its annotations);
the annotator itself is the tui package, its state tui/annotation_state.py, its files tui/annotation_store.py.

The demonstration index the suggestions learn from, and which accepted sentences are added to:
  --index DIR    an index built with `el4ner-local index build` (accepted sentences go into it)
  --pool FILE    a labelled pool (any format of `index build`): the session builds its own index from it
  (neither)      the built-in pool, copied into the session's own index, so the user's default
                 index in the cache never changes
  --index none   zero-shot: no demonstrations, nothing is added (needs --labels or --schema)
The session's own index lives in NAME.annotations.session/index/ and is rebuilt (then refilled
with the accepted sentences) when the pool changed or the index is damaged.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from ..config import models_file
from ..errors import UserError
from ..formats import checked_format, labelled_digest
from ..formats.outputs import TOOL_FORMATS
from ..same_file import refuse_input_as_output
from .options import (
    InputFormatOption,
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

# --export's format by the file's suffix, unless --export-format names one
EXPORT_SUFFIXES = {
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".conll": "conll",
    ".bio": "conll",
    ".txt": "conll",
    ".tsv": "conll",
    ".spacy": "spacy",
    ".parquet": "hf",
}
EXPORT_FORMATS = ("jsonl", "conll", *TOOL_FORMATS)


def session_index(target: Path, pool: Path | None, progress: Callable[[str], None], fmt: str | None = None):
    """Load the session's own index from `target`, or (re)build it from `pool` (None = built-in pool),
    read in `fmt` (None: detected)."""
    from ..formats import read_labelled
    from ..retrieval import DemoIndex
    from ..retrieval.default import DEFAULT_LABELS, default_pool_path

    source = pool or default_pool_path()
    sha = labelled_digest(source, fmt)
    if (target / "manifest.json").exists():
        try:
            index = DemoIndex.load(target)
            if index.manifest.get("session_pool_sha256") == sha:
                return index
            progress("the pool changed: rebuilding the session's demonstration index")
        except UserError as exc:
            progress(f"rebuilding the session's demonstration index ({exc.message})")
    progress(f"building the demonstration index from {source.name} (once per session)")
    sentences = read_labelled(source, fmt)
    try:
        return DemoIndex.build(
            sentences,
            target,
            labels=DEFAULT_LABELS if pool is None else (),
            sources=[str(source)],
            extra={"session_pool_sha256": sha},
            progress=lambda message: progress(f"index: {message}"),
        )
    except OSError as exc:
        raise UserError(
            f"{target}: cannot write the demonstration index ({exc.strerror})",
            fix="give --out a writable place, or --index none",
        ) from None


def tagger_factory(
    *,
    state_dir: Path,
    models=None,
    profile=None,
    labels=None,
    schema=None,
    index=None,
    pool=None,
    only=None,
    overrides=None,
    pool_format=None,
) -> Callable:
    """A function that loads the tagger (run by the annotator's background worker)."""
    overrides = dict(overrides or {})

    def load(progress: Callable[[str], None]):
        from ..pipeline.tagger import Tagger

        if index == "none":
            idx = None
        elif index not in (None, "default"):
            idx = Path(index)
        else:
            idx = session_index(state_dir / "index", Path(pool) if pool else None, progress, pool_format)
        progress("loading the models")
        tagger = Tagger.load(
            models=models, profile=profile, labels=labels, schema_file=schema, index=idx, only=only, **overrides
        )
        if note := tagger.tuning_note():
            progress(note)
        for model in tagger.models:  # llama.cpp loads a model on first use: do it now, while saying so
            progress(f"loading {model.name}")
            model.load()
        return tagger

    return load


def annotate(
    file: Path = typer.Argument(..., readable=False, help="text file to annotate"),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="annotations JSONL (default: FILE.annotations.jsonl beside FILE)"
    ),
    pool: Path | None = typer.Option(
        None,
        "--pool",
        help="labelled pool (CoNLL, JSONL, .spacy, a saved dataset) for the session's own demonstration index",
    ),
    index: str | None = typer.Option(
        None, "--index", help="demonstration index dir (accepted sentences are added to it); 'none' = zero-shot"
    ),
    labels: str | None = LabelsOption,
    schema: Path | None = SchemaOption,
    only: str | None = OnlyOption,
    k: int | None = KOption,
    no_verify: bool = NoVerifyOption,
    no_pool_names: bool = NoPoolNamesOption,
    profile: str | None = ProfileOption,
    keys: Path | None = typer.Option(
        None, "--keys", help="key map TOML (default: $EL4NER_KEYS or ~/.config/el4ner-local/keys.toml)"
    ),
    ahead: int = typer.Option(3, "--ahead", help="sentences ahead whose suggestions are computed in the background"),
    export: list[Path] | None = typer.Option(
        None, "--export", help="write the accepted sentences to PATH (.jsonl, .conll, .spacy, .parquet) and exit"
    ),
    export_format: str | None = typer.Option(
        None, "--export-format", help=f"format of every --export: {', '.join(EXPORT_FORMATS)} (default: by suffix)"
    ),
    input_format: str | None = InputFormatOption,
    models: Path | None = ModelsOption,
) -> None:
    """Annotate a text file in the terminal, with every model's vote per span; decisions are saved at once."""
    from ..tui.annotation_store import AnnotationStore, default_out_path, lock_annotations, state_dir_for
    from ..tui.keys import load_keymap

    export = export or []
    if pool is not None and index not in (None, "default"):
        raise UserError("--pool and --index both name a demonstration pool", fix="give one of them")
    if pool is not None and not Path(pool).exists():
        raise UserError(
            f"{pool}: no such pool file", fix="give a labelled pool: CoNLL, JSONL, .spacy, or a saved dataset"
        )
    checked_format(input_format)
    if export_format is not None and export_format not in EXPORT_FORMATS:
        raise UserError(f"unknown --export-format {export_format!r}", fix=f"use one of {', '.join(EXPORT_FORMATS)}")
    if index == "none" and not (labels or schema):
        raise UserError(
            "--index none (zero-shot) needs the entity types", fix="add --labels person,location,... or --schema FILE"
        )
    out_path = Path(out) if out else default_out_path(Path(file))
    inputs = [file, pool, schema, models_file(models), keys]
    index_dir = index if index not in (None, "default", "none") else None
    refuse_input_as_output(out_path, inputs, option="--out", folders=[index_dir])
    for path in export:  # an export reads the annotations file: it is an input too
        refuse_input_as_output(path, [*inputs, out_path], option="--export", folders=[index_dir])
    if export:
        with lock_annotations(out_path, writer=False):  # not while a session is changing the file
            session = AnnotationStore.open(file, out_path)
            for path in export:
                _export(session, path, export_format)
        return
    keymap = load_keymap(keys)
    AnnotationStore.open(file, out_path)  # an unreadable input or annotations file: one line, before the interface
    # one session at a time on an annotations file (the last save would win): a second one is refused
    # here, in one line, before any model loads; the app's session reads the file again under the lock
    lock = lock_annotations(out_path, writer=True)
    try:
        from ..config import load_config

        load_config(models, profile)  # a bad models file or profile: one line, before the interface
        initial = None
        if labels:
            from ..schema import parse_labels

            initial = list(parse_labels(labels).labels)
        factory = tagger_factory(
            state_dir=state_dir_for(out_path),
            models=models,
            profile=profile,
            labels=labels,
            schema=schema,
            index=index,
            pool=pool,
            only=model_names(only),
            overrides=tagger_overrides(k, no_verify, no_pool_names),
            pool_format=input_format,
        )
        from ..tui.app import AnnotateApp

        app = AnnotateApp(
            file,
            out_path,
            tagger_factory=factory,
            keymap=keymap,
            labels=initial,
            ahead=ahead,
            lock=lock,
            inputs=inputs,
            input_folders=[index_dir],
        )
        app.run()
    finally:
        lock.release()  # (a session that moved its annotations elsewhere gives back its new lock itself)
    if app.fatal is not None:
        raise app.fatal


def _export(session, path: Path, fmt: str | None = None) -> None:
    suffix = path.suffix.lower()
    fmt = fmt or EXPORT_SUFFIXES.get(suffix)
    try:
        if fmt == "jsonl":
            n = session.export_jsonl(path)
            typer.echo(f"{path}: {n} accepted sentences (JSONL, character offsets)")
        elif fmt == "conll":
            n, lost = session.export_conll(path)
            typer.echo(
                f"{path}: {n} accepted sentences (CoNLL, BIO)"
                + (f"; {lost} spans left out (not on token boundaries, or overlapping)" if lost else "")
            )
        elif fmt in TOOL_FORMATS:
            n, lost, why = session.export_as(path, fmt)
            typer.echo(f"{path}: {n} accepted sentences ({fmt})" + (f"; {lost} entities {why}" if lost else ""))
        else:
            raise UserError(
                f"{path}: unknown export format {suffix or '(no suffix)'}",
                fix="name the file .jsonl, .conll, .spacy or .parquet, or give --export-format",
            )
    except OSError as exc:
        raise UserError(f"{path}: cannot write ({exc.strerror})", fix="choose a writable path") from None
