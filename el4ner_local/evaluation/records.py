"""Recording: each sampled gold sentence run once through the ensemble, every model's answer at every
stage kept (a SentenceRecord), so that any vote rule can be scored later from the records (scoring.py).

Recording settings: the pipeline verifies only the spans its own vote labels, so the records are
taken with classify_threshold = 0, every model verifying and extract_min_votes = 1 (RECORDING).
Then every rule with those type sources and uniform weights finds a verification answer for each
label it accepts. Lean records (LEAN) hold extraction only, for large samples.
"""

from __future__ import annotations

import hashlib
import random
import resource
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..documents import LabelledSentence
from ..errors import UserError
from ..llm.backend import StageStats, TokenStats
from ..pipeline.stages import SentenceInput

if TYPE_CHECKING:
    from .cache import RecordCache

RETRIEVAL_MODES = ("span", "sentence", "random", "none")  # "none" = zero-shot (no demonstrations)
# The [pipeline] settings records are taken with (see above), whatever models.toml says.
RECORDING = {
    "classify_threshold": 0.0,
    "verify": True,
    "verifiers": (),
    "extract_min_votes": 1,
    "type_source": "both",
    "confidence_source": "vote",  # the vote is rescored; "classify" would run stage 3 in lean records
    "weights": (),
    "zero_shot_votes": True,
    # what the pool knows of words is matched when rescoring (scoring.with_lexicon), not recorded
    "lexicon": False,
    "lexicon_filter": False,
}
# Lean records: extraction only (types as written at extraction, no stages 3 and 4), for large samples.
# They rescore every rule with type_source "extract" and no verification, and nothing else.
LEAN = {**RECORDING, "type_source": "extract", "verify": False}
# Typed records: extraction and stage-3 log-probability types, no verification (which costs a prompt
# per candidate and model): every type source, vote threshold and weighting is rescored from them.
TYPED = {**RECORDING, "verify": False}
STAGES = {"all": RECORDING, "typed": TYPED, "lean": LEAN}


def sample(sentences: Sequence[LabelledSentence], limit: int | None = None, seed: int = 0) -> list[LabelledSentence]:
    """A fixed random sample: the corpus shuffled with `seed`, then the first `limit` sentences.
    Prefix-stable: the sample of 25 is the start of the sample of 200 (same seed), so a bigger run
    reuses every cached sentence of a smaller one. No limit: the whole corpus, in file order."""
    if not limit or limit >= len(sentences):
        return list(sentences)
    order = list(range(len(sentences)))
    random.Random(seed).shuffle(order)
    return [sentences[i] for i in order[:limit]]


def sentence_id(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def recording_tagger(
    index,
    retrieval: str = "span",
    *,
    models: str | Path | None = None,
    profile: str | None = None,
    only: Sequence[str] | None = None,
    k: int | None = None,
    labels: Sequence[str] | None = None,
    llms: list | None = None,
    threads: int | None = None,
    overrides: dict | None = None,
    stages: str = "all",
):
    """A Tagger (Tagger.load) in recording settings (`stages`: a key of STAGES), on top of models.toml's
    [pipeline] and `overrides`. retrieval: span | sentence | random | none (zero-shot). `llms` replaces
    the models of models.toml (tests pass stand-ins). `threads` overrides each model's n_threads (a
    speed setting, not part of the cache key: on a CPU shared with other jobs one thread per model is
    several times faster than two, whose threads wait on each other)."""
    from ..pipeline.tagger import Tagger

    if retrieval not in RETRIEVAL_MODES:
        raise UserError(f"unknown retrieval mode {retrieval!r}", fix=f"use one of: {', '.join(RETRIEVAL_MODES)}")
    settings = {**(overrides or {}), **STAGES[stages]}
    if k is not None:
        settings["k"] = k
    if retrieval == "none":
        settings["k"] = 0
    labels = list(labels) if labels else (list(index.labels) if index is not None else None)
    if not labels:
        raise UserError("no entity types: give a pool", fix="pass --pool TRAIN")
    return Tagger.load(
        models=models,
        profile=profile,
        labels=labels,
        index=None if retrieval == "none" else index,
        only=only,
        threads=threads,
        llms=llms,
        retrieval_mode="span" if retrieval == "none" else retrieval,
        **settings,
    )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes


def _stats_snapshot(stats: StageStats) -> dict[tuple[str, str], TokenStats]:
    return {key: value.copy() for key, value in stats.by_stage_model.items()}


def _stats_delta(before: dict, after: StageStats) -> dict:
    out: dict = {}
    for (stage, model), value in sorted(after.by_stage_model.items()):
        delta = value.minus(before.get((stage, model), TokenStats()))
        if delta.calls or delta.evaluated or delta.reused or delta.generated:
            out.setdefault(stage, {})[model] = delta.as_dict()
    return out


def run_records(
    tagger,
    sentences: Sequence[LabelledSentence],
    cache: RecordCache | None,
    progress: Callable[[int, int, bool], None] | None = None,
) -> list[dict]:
    """One entry per sentence, from the cache when there, else by running the tagger (and caching).
    The sentence text is the gold tokens joined by spaces; the gold token offsets are given as they are."""
    entries = []
    for i, sent in enumerate(sentences):
        entry = cache.get(sent.text) if cache is not None else None
        cached = entry is not None
        if entry is None:
            before = _stats_snapshot(tagger.stats)
            started = time.perf_counter()
            record = tagger.tag_sentence(SentenceInput(sent.text, 0, [(a, b) for a, b in sent.tokens]))
            seconds = time.perf_counter() - started
            entry = {
                "id": sentence_id(sent.text),
                "text": sent.text,
                "record": record.to_json(),
                # the label each candidate's verification answers were about (None: not verified)
                "verified_labels": [c.label if c.verification else None for c in record.candidates],
                "seconds": round(seconds, 3),
                "stats": _stats_delta(before, tagger.stats),
                "peak_rss_mb": round(peak_rss_mb(), 1),
                "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
            }
            if cache is not None:
                cache.put(entry)
        entries.append(entry)
        if progress:
            progress(i + 1, len(sentences), cached)
    return entries
