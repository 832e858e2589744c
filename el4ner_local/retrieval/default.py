"""The embedded default demonstration pool and its index, built on first use into the cache."""

from __future__ import annotations

import threading
from pathlib import Path

from ..config import cache_dir
from ..errors import UserError
from ..private_files import private_dir
from ..schema import Schema

DEFAULT_LABELS = ("person", "location", "group", "creative-work", "corporation", "product")
# What each default type covers, shown to the models (after the WNUT-17 annotation guidelines): the
# names alone leave "group" or "creative-work" to guesswork.
DEFAULT_DESCRIPTIONS = (
    "a named person or character",
    "a named place: country, city, region, building or venue",
    "a named band, team, party, club or other group that is not a company",
    "a named song, album, film, show, book, game or other work",
    "a named company, brand or business",
    "a named product, device, app or service",
)
DEFAULT_POOL = Path(__file__).resolve().parent.parent / "data" / "default_pool.jsonl"
_OPEN: dict[str, object] = {}
_LOCK = threading.Lock()


def index_schema(index) -> Schema:
    """The entity schema an index implies when the user names none: its labels, described when it is
    the built-in pool's."""
    if index.manifest.get("default_pool_sha256") and tuple(index.labels) == DEFAULT_LABELS:
        return Schema(DEFAULT_LABELS, DEFAULT_DESCRIPTIONS)
    return Schema(tuple(index.labels))


def default_pool_path() -> Path:
    return DEFAULT_POOL


def default_index_dir() -> Path:
    return cache_dir() / "index" / "default"


def open_default_index(path: str | Path | None = None, *, embedder=None, progress=None):
    """The index of the embedded default pool (WNUT-17 sample, CC-BY 4.0; see data/ATTRIBUTION).

    Built into cache_dir()/index/default on first use, and rebuilt when the packaged pool, the
    embedder or the index format changed, or the cached index is damaged. Kept per process.
    """
    from ..checksums import sha256_file
    from .index import DemoIndex

    target = Path(path) if path else default_index_dir()
    with _LOCK:
        if str(target) in _OPEN:
            return _OPEN[str(target)]
        if not DEFAULT_POOL.is_file():
            raise UserError(f"{DEFAULT_POOL}: the packaged default pool is missing", fix="reinstall el4ner-local")
        pool_sha = sha256_file(DEFAULT_POOL)
        index = None
        if (target / "manifest.json").exists():
            try:
                index = DemoIndex.load(target, embedder=embedder)
            except UserError:
                index = None  # stale or damaged cache: rebuild below
            if index is not None and index.manifest.get("default_pool_sha256") != pool_sha:
                index = None
        if index is None:
            from ..formats import read_labelled

            if progress:
                progress(f"building the default demonstration index in {target} (once)")
            sentences = read_labelled(DEFAULT_POOL)
            try:
                if path is None:  # the cache root is ours: no one else reads it
                    private_dir(target, ours_from=cache_dir())
                index = DemoIndex.build(
                    sentences,
                    target,
                    embedder=embedder,
                    labels=DEFAULT_LABELS,
                    sources=["el4ner_local/data/default_pool.jsonl"],
                    extra={"default_pool_sha256": pool_sha},
                    progress=progress,
                )
            except OSError as exc:
                raise UserError(
                    f"{target}: cannot write the default index ({exc.strerror})",
                    fix="set EL4NER_CACHE to a writable directory",
                ) from None
        _OPEN[str(target)] = index
        return index
