"""SpanSim (EL4NER, DESIGN.md):

    SpanSim(S, S_c) = sum_{s in S} w(s) * max_{t in S_c} cos(e(s), e(t)) / sum_{s in S} w(s)

Embeddings are unit vectors, so cos is a dot product. A pool sentence without spans scores 0.
When every weight is 0 (say, only numbers were proposed) the weights fall back to uniform, so the
score stays defined.
"""

from __future__ import annotations

import numpy as np


def effective_weights(weights) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    if w.size and w.sum() <= 0:
        return np.ones_like(w)
    return w


def span_sim(query_vecs: np.ndarray, weights, cand_vecs: np.ndarray) -> float:
    """SpanSim of one pool sentence (its span vectors `cand_vecs`, shape (m, d)) to the query spans."""
    if len(query_vecs) == 0 or len(cand_vecs) == 0:
        return 0.0
    w = effective_weights(weights)
    best = (query_vecs.astype(np.float64) @ cand_vecs.astype(np.float64).T).max(axis=1)
    return float(w @ best / w.sum())


def span_sim_many(query_vecs: np.ndarray, weights, cand_vecs: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """SpanSim for many pool sentences at once.

    `cand_vecs` holds the span vectors of all the sentences, one after the other; sentence j owns
    rows offsets[j]:offsets[j+1] (len(offsets) = sentences + 1). Sentences without spans score 0.
    """
    n_sent = len(offsets) - 1
    scores = np.zeros(n_sent, dtype=np.float64)
    if len(query_vecs) == 0 or len(cand_vecs) == 0 or n_sent == 0:
        return scores
    w = effective_weights(weights)
    sims = query_vecs.astype(np.float64) @ cand_vecs.astype(np.float64).T  # (n, total)
    starts = np.asarray(offsets[:-1])
    sizes = np.diff(offsets)
    nonempty = sizes > 0
    if nonempty.any():
        best = np.maximum.reduceat(sims, starts[nonempty], axis=1)  # (n, nonempty sentences)
        scores[nonempty] = (w @ best) / w.sum()
    return scores
