"""sha256 of a file: the one hash model files, pools, index files and the embedder's weights are checked by."""

from __future__ import annotations

import hashlib
from pathlib import Path

_BLOCK = 1 << 20


def sha256_file(path: str | Path, limit: int | None = None) -> str:
    """Hex sha256 of the file at `path`, read in 1 MiB blocks; with `limit`, of its first `limit` bytes
    (a file that is shorter is hashed whole)."""
    h = hashlib.sha256()
    left = limit
    with open(path, "rb") as f:
        while left is None or left > 0:
            block = f.read(_BLOCK if left is None else min(_BLOCK, left))
            if not block:
                break
            h.update(block)
            if left is not None:
                left -= len(block)
    return h.hexdigest()
