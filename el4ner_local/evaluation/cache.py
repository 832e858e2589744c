"""What the evaluation keeps on disk, under <cache>/eval (private: it holds the evaluated text):
a demonstration index per pool file, and one record file per run configuration, keyed by everything
that changes what the models are asked.

Why records: a sentence through the three-model pipeline costs 15 to 60 s on a laptop CPU, so each
(sentence, run configuration) is run once and its record appended to a JSONL file; an interrupted
evaluation resumes, and a changed setting reruns only what it changes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from ..config import cache_dir
from ..durable import append_durable
from ..errors import UserError
from ..private_files import open_private, private_dir
from .records import sentence_id

CACHE_VERSION = 1
# The settings that change what the models are asked: the record file's key (the other settings only
# change the vote, which is rescored from the records).
KEYED_SETTINGS = (
    "k",
    "extract_min_votes",
    "type_source",
    "confidence_source",  # "classify" asks stage 3 even of a type source that does not
    "classify_threshold",
    "verify",
    "verifiers",
    "weights",
    "max_output_lines",
    "max_new_tokens",
    "zero_shot_votes",
    "max_junk_lines",
    "demo_words",
    "retrieval_spans",
)
# A renamed setting keeps its old name in the key, so the records taken before the rename stay valid.
KEY_NAMES = {"retrieval_spans": "candidates"}
# Settings added after the first records were taken, each with the value at which it behaves as before
# it existed. At that value a setting is left out of the key, so those records stay valid. These are
# not defaults (config.PipelineSettings holds the defaults).
AS_BEFORE_ADDED = {"max_junk_lines": 0, "demo_words": 0, "retrieval_spans": "models", "confidence_source": "vote"}


def eval_dir(root: Path | None = None) -> Path:
    return Path(root) if root else cache_dir() / "eval"


def eval_folder(name: str, root: Path | None = None) -> Path:
    """<eval cache>/NAME ("records", "index"), made private (it holds the evaluated text): with the
    default root, the cache root down to it are ours; a --cache DIR keeps its mode, NAME in it does not."""
    folder = eval_dir(root) / name
    return private_dir(folder, ours_from=folder if root else cache_dir())


def pool_index(
    pool: Path, root: Path | None = None, progress: Callable[[str], None] | None = None, fmt: str | None = None
):
    """A DemoIndex over the gold spans of a pool (read in `fmt`, None: detected), built once into
    <cache>/eval/index/<formats.labelled_digest of the pool>: for a file, its sha256."""
    from ..formats import labelled_digest, read_labelled
    from ..retrieval import DemoIndex

    pool = Path(pool)
    if not pool.exists():
        raise UserError(f"{pool}: no such pool file", fix="give the training split of the corpus as --pool")
    digest = labelled_digest(pool, fmt)
    target = eval_folder("index", root) / digest[:24]
    if (target / "manifest.json").exists():
        try:
            index = DemoIndex.load(target)
            if index.manifest.get("pool_sha256") == digest:
                return index
        except UserError:
            pass  # damaged or stale: rebuild
    if progress:
        progress(f"building a demonstration index over {pool} into {target} (once)")
    return DemoIndex.build(
        read_labelled(pool, fmt), target, sources=[str(pool)], extra={"pool_sha256": digest}, progress=progress
    )


def model_identity(model) -> dict:
    spec = getattr(model, "spec", None)
    if spec is None:
        return {"name": model.name, "identity": getattr(model, "identity", type(model).__name__)}
    source = spec.source
    return {
        "name": spec.name,
        "sha256": source.sha256,
        "file": source.file,
        "prompt_style": spec.prompt_style,
        "n_ctx": spec.n_ctx,
        "temperature": spec.temperature,
        "seed": spec.seed,
        # a served member is known by where it is served, not by a file
        **({"url": source.url, "model": source.model} if source.kind == "openai" else {}),
    }


def _prompt_hash() -> str:
    """The prompt templates and the code that lays prompts out (prompts.py: how a demonstration is
    cut and shown), and the fixed strings the stages add to them."""
    from ..pipeline import prompts

    here = Path(prompts.__file__).resolve().parent / "prompts"
    h = hashlib.sha256(Path(prompts.__file__).read_bytes())
    for path in sorted(here.glob("*.txt")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    h.update(json.dumps([prompts.EXTRACT_PREFILL, prompts.VERIFY_PREFILL, list(prompts.STOP)]).encode())
    return h.hexdigest()


def index_identity(index) -> dict:
    """What of a demonstration index decides the demonstrations it retrieves: its pool (whose sha256 an
    `index add` changes), the embedder and the retrieval settings."""
    m = index.manifest
    return {
        "pool_sha256": m.get("pool_sha256") or m.get("default_pool_sha256") or m["files"]["pool.jsonl"]["sha256"],
        "embedder": m["embedder"],
        "pos_weights": m["pos_weights"],
        "hnsw": m["hnsw"],
    }


def config_description(tagger, retrieval: str) -> dict:
    """Everything that changes what the models are asked or how answers become records."""
    index_id = index_identity(tagger.index) if tagger.index is not None else None
    values = {name: getattr(tagger.settings, name) for name in KEYED_SETTINGS}
    if retrieval != "span":
        values.pop("retrieval_spans")  # stage-1 spans only feed span retrieval
    settings = {
        KEY_NAMES.get(name, name): list(v) if isinstance(v, tuple) else v
        for name, v in values.items()
        if name not in AS_BEFORE_ADDED or v != AS_BEFORE_ADDED[name]
    }  # a later setting at its old behaviour: same key
    return {
        "cache_version": CACHE_VERSION,
        "retrieval": retrieval,
        "settings": settings,
        "schema": list(tagger.schema.labels),
        "models": [model_identity(m) for m in tagger.models],
        "index": index_id,
        "prompts": _prompt_hash(),
    }


def config_key(description: dict) -> str:
    return hashlib.sha256(json.dumps(description, sort_keys=True, default=list).encode()).hexdigest()


class RecordCache:
    """One JSONL file per run configuration; one line per sentence, appended (and fsynced) as soon as it
    is done, so an interrupted evaluation resumes. A torn last line is ignored."""

    def __init__(self, path: Path, description: dict | None = None):
        self.path = Path(path)
        self.entries: dict[str, dict] = {}
        private_dir(self.path.parent, ours_from=self.path.parent)
        if description is not None:
            meta = self.path.with_suffix(".config.json")
            if not meta.exists():
                with open_private(meta, "w", encoding="utf-8") as f:
                    f.write(json.dumps(description, indent=1, sort_keys=True, default=list))
        if self.path.exists():
            with open(self.path, "rb") as f:
                for line in f:
                    try:
                        entry = json.loads(line)
                        self.entries[entry["id"]] = entry
                    except (ValueError, KeyError):
                        continue  # a line cut by an interruption

    @classmethod
    def for_tagger(cls, tagger, retrieval: str, root: Path | None = None) -> RecordCache:
        description = config_description(tagger, retrieval)
        return cls(eval_folder("records", root) / f"{config_key(description)[:32]}.jsonl", description)

    def get(self, text: str) -> dict | None:
        return self.entries.get(sentence_id(text))

    def put(self, entry: dict) -> None:
        data = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        append_durable(self.path, data, own_line=True)
        self.entries[entry["id"]] = entry
