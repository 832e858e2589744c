"""hnswlib, the one place it is called: the settings an index records, and making, growing, saving
and loading its cosine indexes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..durable import fsync_file
from ..errors import UserError
from ..private_files import PRIVATE_FILE, narrow


@dataclasses.dataclass(frozen=True)
class HnswSettings:
    M: int = 16
    ef_construction: int = 100
    ef_search: int = 128  # recall@32 of real WNUT-17 span neighbours: 0.976 at 64, 0.988 at 128
    seed: int = 100
    knn_per_span: int = 32  # neighbours fetched for each candidate span

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _hnswlib():
    try:
        import hnswlib
    except ImportError:
        raise UserError("hnswlib is not installed", fix="pip install hnswlib") from None
    return hnswlib


def new_hnsw(dim: int, n: int, hnsw: HnswSettings):
    index = _hnswlib().Index(space="cosine", dim=dim)
    index.init_index(max_elements=max(n, 1), ef_construction=hnsw.ef_construction, M=hnsw.M, random_seed=hnsw.seed)
    index.set_ef(hnsw.ef_search)
    return index


def ensure_capacity(index, needed: int) -> None:
    if needed > index.get_max_elements():
        index.resize_index(max(needed, 2 * index.get_max_elements()))


def save_hnsw(index, target: Path) -> None:
    index.save_index(str(target))  # hnswlib creates it with the umask's mode
    narrow(target, PRIVATE_FILE)
    fsync_file(target)


def load_hnsw(path: Path, dim: int, count: int, fix: str):
    index = _hnswlib().Index(space="cosine", dim=dim)
    try:
        index.load_index(str(path), max_elements=max(count, 1))
    except (RuntimeError, ValueError, OSError) as exc:
        raise UserError(f"{path}: cannot read the hnswlib index ({exc})", fix=fix) from None
    if index.get_current_count() != count:
        raise UserError(f"{path}: holds {index.get_current_count()} vectors but the manifest says {count}", fix=fix)
    return index
