"""Demonstration retrieval (EL4NER stage 1): span-level similarity over a labelled pool.

    from el4ner_local.retrieval import DemoIndex, open_default_index
    idx = DemoIndex.load(path)                # or DemoIndex.build(sentences, path)
    idx.labels                                # the pool's entity types
    idx.retrieve(text, candidate_spans, k=4)  # -> list[LabelledSentence], best first
    idx.add(sentences)                        # incremental, persisted, crash-safe

Importing this package is cheap: numpy, hnswlib and sentence_transformers are imported when first
needed, so the CLI can mount `index_app` without slowing `--help`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["DemoIndex", "HnswSettings", "PosWeights", "open_default_index", "default_pool_path"]

if TYPE_CHECKING:  # pragma: no cover
    from .default import default_pool_path, open_default_index
    from .hnsw import HnswSettings
    from .index import DemoIndex
    from .pos_weights import PosWeights

_WHERE = {
    "DemoIndex": ".index",
    "HnswSettings": ".hnsw",
    "PosWeights": ".pos_weights",
    "open_default_index": ".default",
    "default_pool_path": ".default",
}


def __getattr__(name: str):
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
