"""Evaluation: run the ensemble on gold sentences once, record everything, score many rules from the records.

    sentences = read_labelled(test_file)
    chosen = sample(sentences, limit=200, seed=0)              # a fixed, prefix-stable random sample
    index = pool_index(pool_file)                               # built once, cached by the pool's sha256
    tagger = make_tagger(index, retrieval="span")               # recording settings (see RECORDING)
    entries = run_records(tagger, chosen, RecordCache.for_tagger(tagger, index))
    score_entries(entries, chosen, VoteRule())                  # seqeval strict IOB2, micro + per type

Why records: a sentence through the three-model pipeline costs 15 to 60 s on a laptop CPU, so each
(sentence, run configuration) is run once and its SentenceRecord, with every model's answer at every
stage, is appended to a JSONL cache keyed by everything that changes a model call. Members alone, no
verification, union vs. vote and other VoteRules are rescored from the records with `votes.decide`
over restricted copies of the candidates; only retrieval ablations need new model runs.

Recording settings: the pipeline verifies only the spans its own vote labels, so the records are
taken with classify_threshold = 0, every model verifying and extract_min_votes = 1 (RECORDING).
Then every rule with those type sources and uniform weights finds a verification answer for each
label it accepts. When a rescored rule picks another label than the one that was verified, no
verification of that label exists; the candidate is then judged unverified (as `decide` does for a
candidate without verification) and the report counts how often that happened (`unverified`).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
import random
import resource
import subprocess
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Sequence

from .config import PipelineSettings, cache_dir, load_config
from .documents import LabelledSentence, Span, bio_tags
from .errors import UserError
from .llm.backend import StageStats, TokenStats
from .pipeline.records import Candidate
from .pipeline.stages import SentenceInput
from .pipeline.votes import VoteRule, classify, decide
from .private_files import open_private, private_dir

RETRIEVAL_MODES = ("span", "sentence", "random", "none")  # "none" = zero-shot (no demonstrations)
CACHE_VERSION = 1
RECORDING = {"classify_threshold": 0.0, "verify": True, "verifiers": (), "extract_min_votes": 1, "type_source": "both",
             "weights": (), "zero_shot_votes": True}
# Lean records: extraction only (types as written at extraction, no stages 3 and 4), for large samples.
# They rescore every rule with type_source "extract" and no verification, and nothing else.
LEAN = {**RECORDING, "type_source": "extract", "verify": False}
# The settings that change what the models are asked (the cache key); the others only change the vote.
CALL_SETTINGS = {"k": 4, "extract_min_votes": 1, "type_source": "both", "classify_threshold": 0.0, "verify": True,
                 "verifiers": (), "weights": (), "max_output_lines": 12, "max_new_tokens": 160, "zero_shot_votes": False,
                 "max_junk_lines": 0, "demo_words": 0, "candidates": "models"}
ADDED_LATER = {"max_junk_lines": 0, "demo_words": 0, "candidates": "models"}  # settings added after records were taken, and the value that behaves as before


# ---------------------------------------------------------------------------------------------
# Sample


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


# ---------------------------------------------------------------------------------------------
# Pool index, tagger, cache key


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def eval_dir(root: Path | None = None) -> Path:
    return Path(root) if root else cache_dir() / "eval"


def eval_folder(name: str, root: Path | None = None) -> Path:
    """<eval cache>/NAME ("records", "index"), made private (it holds the evaluated text): with the
    default root, the cache root down to it are ours; a --cache DIR keeps its mode, NAME in it does not."""
    folder = eval_dir(root) / name
    return private_dir(folder, ours_from=folder if root else cache_dir())


def pool_index(pool: Path, root: Path | None = None, progress: Callable[[str], None] | None = None):
    """A DemoIndex over the gold spans of a pool file, built once into <cache>/eval/index/<sha256 of the file>."""
    from .formats import read_labelled
    from .retrieval import DemoIndex

    pool = Path(pool)
    if not pool.is_file():
        raise UserError(f"{pool}: no such pool file", fix="give the training split of the corpus as --pool")
    digest = file_sha256(pool)
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
    return DemoIndex.build(read_labelled(pool), target, sources=[str(pool)], extra={"pool_sha256": digest},
                           progress=progress)


def recording_settings(settings: PipelineSettings, k: int | None = None, lean: bool = False) -> PipelineSettings:
    """The settings records are taken with: every label verified by every model (see module doc),
    or with `lean`, extraction only."""
    known = {f.name for f in dataclasses.fields(PipelineSettings)}
    out = replace(settings, **{key: value for key, value in (LEAN if lean else RECORDING).items() if key in known})
    return replace(out, k=k) if k is not None else out


def make_tagger(index, retrieval: str = "span", *, models: str | Path | None = None, only: Sequence[str] | None = None,
                k: int | None = None, labels: Sequence[str] | None = None, llms: list | None = None,
                threads: int | None = None, overrides: dict | None = None, lean: bool = False):
    """A Tagger in recording settings (`lean`: extraction only). retrieval: span | sentence | random | none (zero-shot).
    `llms` replaces the models of models.toml (tests pass stand-ins). `threads` overrides each model's
    n_threads (a speed setting, not part of the cache key: on a CPU shared with other jobs one thread per
    model is several times faster than two, whose threads wait on each other)."""
    from .pipeline.tagger import Tagger
    from .schema import Schema

    if retrieval not in RETRIEVAL_MODES:
        raise UserError(f"unknown retrieval mode {retrieval!r}", fix=f"use one of: {', '.join(RETRIEVAL_MODES)}")
    config = load_config(models)
    settings = recording_settings(replace(config.pipeline, **(overrides or {})), k, lean)
    if llms is None:
        from .llm.llama_cpp_backend import load

        specs = [config.model(n) for n in only] if only else list(config.models)
        if threads:
            specs = [replace(s, n_threads=threads) for s in specs]
        llms = [load(s) for s in specs]
    labels = list(labels) if labels else (list(index.labels) if index is not None else None)
    if not labels:
        raise UserError("no entity types: give a pool", fix="pass --pool TRAIN")
    use_index = None if retrieval == "none" else index
    if retrieval == "none":
        settings = replace(settings, k=0)
    return Tagger(llms, Schema(tuple(labels)), settings, use_index, retrieval_mode="span" if retrieval == "none" else retrieval)


def _model_identity(model) -> dict:
    spec = getattr(model, "spec", None)
    if spec is None:
        return {"name": model.name, "identity": getattr(model, "identity", type(model).__name__)}
    source = spec.source
    return {"name": spec.name, "sha256": source.sha256, "file": source.file, "prompt_style": spec.prompt_style,
            "n_ctx": spec.n_ctx, "temperature": spec.temperature, "seed": spec.seed,
            # a served member is known by where it is served, not by a file
            **({"url": source.url, "model": source.model} if source.kind == "openai" else {})}


def _prompt_hash() -> str:
    """The prompt templates and the code that lays prompts out (prompts.py: how a demonstration is
    cut and shown), and the fixed strings the stages add to them."""
    from .pipeline import prompts

    here = Path(prompts.__file__).resolve().parent / "prompts"
    h = hashlib.sha256(Path(prompts.__file__).read_bytes())
    for path in sorted(here.glob("*.txt")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    h.update(json.dumps([prompts.EXTRACT_PREFILL, prompts.VERIFY_PREFILL, list(prompts.STOP)]).encode())
    return h.hexdigest()


def config_description(tagger, retrieval: str) -> dict:
    """Everything that changes what the models are asked or how answers become records."""
    index = tagger.index
    index_id = None
    if index is not None:
        m = index.manifest
        index_id = {"pool_sha256": m.get("pool_sha256") or m.get("default_pool_sha256") or m["files"]["pool.jsonl"]["sha256"],
                    "embedder": m["embedder"], "pos_weights": m["pos_weights"], "hnsw": m["hnsw"]}
    settings = {key: getattr(tagger.settings, key, default) for key, default in CALL_SETTINGS.items()}
    if retrieval != "span":
        settings.pop("candidates")  # stage-1 spans only feed span retrieval
    settings = {key: list(v) if isinstance(v, tuple) else v for key, v in settings.items()
                if key not in ADDED_LATER or v != ADDED_LATER[key]}  # a later setting at its old behaviour: same key
    return {"cache_version": CACHE_VERSION, "retrieval": retrieval, "settings": settings,
            "schema": list(tagger.schema.labels), "models": [_model_identity(m) for m in tagger.models],
            "index": index_id, "prompts": _prompt_hash()}


def config_key(description: dict) -> str:
    return hashlib.sha256(json.dumps(description, sort_keys=True, default=list).encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# The record cache


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
    def for_tagger(cls, tagger, retrieval: str, root: Path | None = None) -> "RecordCache":
        description = config_description(tagger, retrieval)
        return cls(eval_folder("records", root) / f"{config_key(description)[:32]}.jsonl", description)

    def get(self, text: str) -> dict | None:
        return self.entries.get(sentence_id(text))

    def put(self, entry: dict) -> None:
        data = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        with open_private(self.path, "ab") as f:
            if f.tell() and not _ends_with_newline(self.path):
                f.write(b"\n")
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        self.entries[entry["id"]] = entry


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


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


def run_records(tagger, sentences: Sequence[LabelledSentence], cache: RecordCache | None,
                progress: Callable[[int, int, bool], None] | None = None) -> list[dict]:
    """One entry per sentence, from the cache when there, else by running the tagger (and caching).
    The sentence text is the gold tokens joined by spaces; the gold token offsets are given as they are."""
    entries = []
    for i, sent in enumerate(sentences):
        entry = cache.get(sent.text) if cache is not None else None
        cached = entry is not None
        if entry is None:
            before = _stats_snapshot(tagger.stats)
            started = time.perf_counter()
            record = tagger.tag_sentence(SentenceInput(sent.text, 0, [tuple(t) for t in sent.tokens]))
            seconds = time.perf_counter() - started
            entry = {"id": sentence_id(sent.text), "text": sent.text, "record": record.to_json(),
                     # the label each candidate's verification answers were about (None: not verified)
                     "verified_labels": [c.label if c.verification else None for c in record.candidates],
                     "seconds": round(seconds, 3), "stats": _stats_delta(before, tagger.stats),
                     "peak_rss_mb": round(peak_rss_mb(), 1), "when": time.strftime("%Y-%m-%dT%H:%M:%S")}
            if cache is not None:
                cache.put(entry)
        entries.append(entry)
        if progress:
            progress(i + 1, len(sentences), cached)
    return entries


# ---------------------------------------------------------------------------------------------
# Scoring


@dataclass
class Counts:
    """Entity-level counts: true positives, predicted, gold; per type too."""

    tp: int = 0
    pred: int = 0
    gold: int = 0
    by_type: dict[str, list[int]] = field(default_factory=dict)  # label -> [tp, pred, gold]

    def add(self, gold: set, pred: set) -> None:
        self.tp += len(gold & pred)
        self.pred += len(pred)
        self.gold += len(gold)
        for which, items in ((0, gold & pred), (1, pred), (2, gold)):
            for *_, label in items:
                self.by_type.setdefault(label, [0, 0, 0])[which] += 1

    @staticmethod
    def prf(tp: int, pred: int, gold: int) -> tuple[float, float, float]:
        p = tp / pred if pred else 0.0
        r = tp / gold if gold else 0.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)

    @property
    def f1(self) -> float:
        return self.prf(self.tp, self.pred, self.gold)[2]


def accepted_spans(candidates: Iterable[Candidate]) -> list[Span]:
    return [Span(c.start, c.end, c.label) for c in candidates if c.accepted and c.label]


def entity_set(tags: list[str]) -> set[tuple[int, int, str]]:
    """Strict IOB2 entities (token start, token end, type): a span starts with B- and continues with I- of its type."""
    out, start, label = set(), None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        if start is not None and not (tag.startswith("I-") and tag[2:] == label):
            out.add((start, i, label))
            start = None
        if tag.startswith("B-"):
            start, label = i, tag[2:]
    return out


def seqeval_scores(gold_tags: list[list[str]], pred_tags: list[list[str]]) -> dict:
    """Strict entity-level precision, recall, micro-F1 and per type, by seqeval (mode='strict', IOB2)."""
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
    from seqeval.scheme import IOB2

    kw = {"mode": "strict", "scheme": IOB2, "zero_division": 0}
    with warnings.catch_warnings():  # numpy's "mean of empty slice" when a sample has no entity at all
        warnings.simplefilter("ignore", RuntimeWarning)
        report = classification_report(gold_tags, pred_tags, output_dict=True, **kw)
    per_type = {label: {"precision": round(v["precision"], 4), "recall": round(v["recall"], 4),
                        "f1": round(v["f1-score"], 4), "support": int(v["support"])}
                for label, v in report.items() if not label.endswith(" avg")}
    return {"precision": round(precision_score(gold_tags, pred_tags, **kw), 4),
            "recall": round(recall_score(gold_tags, pred_tags, **kw), 4),
            "f1": round(f1_score(gold_tags, pred_tags, **kw), 4), "per_type": per_type}


def restrict(cand: Candidate, models: set[str] | None, verifiers: set[str] | None = None,
             zero_shot: bool = True) -> Candidate | None:
    """A copy of the candidate holding only what `models` said (None: all), and only the verification
    answers of `verifiers` (None: all); without `zero_shot`, votes that came only from the zero-shot
    stage-1 answers are taken out. None when no vote is left."""
    c = copy.deepcopy(cand)
    zs = set(getattr(c, "zero_shot_only", []) or [])
    if not zero_shot and zs:
        c.extracted_by = [m for m in c.extracted_by if m not in zs]
        c.extracted_types = {m: t for m, t in c.extracted_types.items() if m not in zs}
        c.zero_shot_only = []
        if not c.extracted_by:
            return None
    if models is not None:
        c.extracted_by = [m for m in c.extracted_by if m in models]
        if not c.extracted_by:
            return None
        c.extracted_types = {m: t for m, t in c.extracted_types.items() if m in models}
        c.type_probs = {m: p for m, p in c.type_probs.items() if m in models}
        if hasattr(c, "zero_shot_only"):
            c.zero_shot_only = [m for m in c.zero_shot_only if m in models]
    if verifiers is not None:
        c.verification = {m: p for m, p in c.verification.items() if m in verifiers}
    return c


@dataclass
class Rescored:
    tags: list[list[str]]
    counts: Counts
    unverified: int  # accepted labels with no verification answer for that label (see module doc)


def rescore(entries: Sequence[dict], gold: Sequence[LabelledSentence], rule: VoteRule,
            models: Sequence[str] | None = None, verifiers: Sequence[str] | None = None,
            n_models: int | None = None, zero_shot: bool = True) -> Rescored:
    """Apply `rule` (votes.decide) to the recorded candidates, restricted to `models` (and their
    verification to `verifiers`), and return BIO tags over the gold tokens plus exact-match counts."""
    keep = set(models) if models is not None else None
    vkeep = set(verifiers) if verifiers is not None else None
    all_models = {m for e in entries for m in e["record"].get("raw", {}).get("extraction", {})} | \
        {m for e in entries for c in e["record"]["candidates"] for m in c["extracted_by"]}
    n = n_models or (len(keep) if keep is not None else max(len(all_models), 1))
    tags, counts, unverified = [], Counts(), 0
    for entry, sent in zip(entries, gold):
        assert entry["id"] == sentence_id(sent.text), "records and gold sentences out of step"
        cands = []
        for raw, verified in zip(entry["record"]["candidates"], entry.get("verified_labels") or
                                 [None] * len(entry["record"]["candidates"])):
            c = restrict(Candidate.from_json(raw), keep, vkeep, zero_shot)
            if c is None:
                continue
            if rule.verify and c.verification:
                label, _ = classify(c, rule)
                if label != verified:  # the verifiers were asked about another label: no answer for this one
                    c.verification = {}
                    if label is not None and len(c.extracted_by) >= rule.extract_min_votes:
                        unverified += 1
            elif rule.verify and not c.verification:
                label, _ = classify(c, rule)
                if label is not None and len(c.extracted_by) >= rule.extract_min_votes:
                    unverified += 1
            cands.append(c)
        decide(cands, n, rule)
        pred = bio_tags([tuple(t) for t in sent.tokens], accepted_spans(cands))
        gold_tags = bio_tags([tuple(t) for t in sent.tokens], list(sent.spans))
        tags.append(pred)
        counts.add(entity_set(gold_tags), entity_set(pred))
    return Rescored(tags, counts, unverified)


def gold_tags(gold: Sequence[LabelledSentence]) -> list[list[str]]:
    return [bio_tags([tuple(t) for t in s.tokens], list(s.spans)) for s in gold]


def score_entries(entries, gold, rule: VoteRule, models=None, verifiers=None, zero_shot: bool = True) -> dict:
    """seqeval P/R/F1 (micro and per type) of a rule over the records, with the count of unverified accepts.
    `zero_shot`: count the models' stage-1 (zero-shot) spans as extraction votes (when they were recorded so)."""
    res = rescore(entries, gold, rule, models, verifiers, zero_shot=zero_shot)
    out = seqeval_scores(gold_tags(gold), res.tags)
    out["unverified"] = res.unverified
    out["counts"] = {"tp": res.counts.tp, "pred": res.counts.pred, "gold": res.counts.gold}
    return out


def rule_dict(rule: VoteRule) -> dict:
    return dataclasses.asdict(rule)


def rule_from_dict(data: dict) -> VoteRule:
    return VoteRule(**data)


# ---------------------------------------------------------------------------------------------
# Rules: the grid, weights estimated from records


def estimate_weights(entries, gold, models: Sequence[str], rule: VoteRule | None = None, floor: float = 0.05) -> dict[str, float]:
    """Each member's weight = its F1 alone (same rule, no verification, its own answers only),
    divided by the best member's; at least `floor`."""
    rule = replace(rule or VoteRule(), verify=False, weights={}, extract_min_votes=1)
    f1 = {m: rescore(entries, gold, rule, [m]).counts.f1 for m in models}
    top = max(f1.values()) or 1.0
    return {m: round(max(v / top, floor), 4) for m, v in f1.items()}


def rule_grid(models: Sequence[str], weight_sets: dict[str, dict[str, float]] | None = None,
              zero_shot: Sequence[bool] = (True, False)) -> list[tuple[str, VoteRule, tuple | None, bool]]:
    """(name, rule, verifiers, zero_shot) to rescore: extraction votes x zero-shot votes x type source x
    threshold x verification x weights."""
    weight_sets = {"uniform": {}, **(weight_sets or {})}
    verifier_sets: dict[str, tuple | None] = {"all": None}
    if models:
        verifier_sets[models[0]] = (models[0],)
    out = []
    for ev, zs in ((ev, zs) for ev in range(1, len(models) + 1) for zs in zero_shot):
        zname = "" if zs else "-nozs"
        for source in ("both", "classify", "extract"):
            for thr in (0.0, 0.3, 0.5, 0.7):
                for wname, weights in weight_sets.items():
                    base = VoteRule(extract_min_votes=ev, type_source=source, classify_threshold=thr, verify=False,
                                    weights=dict(weights))
                    out.append((f"ev{ev}{zname}/{source}/t{thr}/noverify/{wname}", base, None, zs))
                    for vname, vs in verifier_sets.items():
                        for vthr in (0.3, 0.5, 0.7):
                            out.append((f"ev{ev}{zname}/{source}/t{thr}/verify{vthr}@{vname}/{wname}",
                                        replace(base, verify=True, verify_threshold=vthr), vs, zs))
    return out


def grid_counts(entries, gold, grid, members: Sequence[str]) -> dict[str, dict]:
    """For each rule: counts for the ensemble, and for each member alone under the same rule."""
    out = {}
    for name, rule, verifiers, zs in grid:
        ens = rescore(entries, gold, rule, None, verifiers, zero_shot=zs)
        row = {"ensemble": [ens.counts.tp, ens.counts.pred, ens.counts.gold], "unverified": ens.unverified}
        if rule.extract_min_votes == 1 and not rule.weights:
            for m in members:
                # alone, a member has only its own verification answers (none when it is not a verifier)
                alone = rescore(entries, gold, rule, [m], [m] if verifiers is None or m in verifiers else [],
                                n_models=1, zero_shot=zs)
                row[m] = [alone.counts.tp, alone.counts.pred, alone.counts.gold]
        out[name] = row
    return out


# ---------------------------------------------------------------------------------------------
# Throughput


def throughput(entries: Sequence[dict]) -> dict:
    """Seconds and tokens per sentence from the entries (measured when each sentence was computed)."""
    n = len(entries)
    if not n:
        return {}
    seconds = sum(e.get("seconds", 0.0) for e in entries)
    per: dict = {}
    for e in entries:
        for stage, models in e.get("stats", {}).items():
            for model, st in models.items():
                slot = per.setdefault(stage, {}).setdefault(model, {"evaluated": 0, "reused": 0, "generated": 0,
                                                                   "calls": 0, "seconds": 0.0})
                for key in slot:
                    slot[key] += st.get(key, 0)
    per_sentence = {stage: {model: {k: round(v / n, 2) for k, v in st.items()} for model, st in models.items()}
                    for stage, models in sorted(per.items())}
    return {"sentences": n, "seconds": round(seconds, 1), "sentences_per_second": round(n / seconds, 4) if seconds else None,
            "seconds_per_sentence": round(seconds / n, 2), "tokens_per_sentence": per_sentence,
            "peak_rss_mb": max((e.get("peak_rss_mb", 0.0) for e in entries), default=0.0)}


# ---------------------------------------------------------------------------------------------
# The whole evaluation


def git_commit(repo: Path | None = None) -> str:
    repo = repo or Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo, capture_output=True,
                               text=True, timeout=10).stdout.strip()
        return head + ("+dirty" if dirty else "") if head else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def evaluate(data: Path, pool: Path, *, limit: int | None = None, seed: int = 0, retrieval: Sequence[str] = RETRIEVAL_MODES,
             models: str | Path | None = None, only: Sequence[str] | None = None, k: int | None = None,
             root: Path | None = None, rule: VoteRule | None = None, llms: list | None = None,
             threads: int | None = None, progress: Callable[[str], None] | None = None) -> dict:
    """Run (or resume) every retrieval mode on the sample and return the JSON report."""
    from .formats import read_labelled
    from .pipeline.tagger import rule_from

    say = progress or (lambda message: None)
    data, pool = Path(data), Path(pool)
    if not data.is_file():
        raise UserError(f"{data}: no such test file", fix="give a labelled CoNLL or JSONL file as --data")
    gold_all = read_labelled(data)
    chosen = sample(gold_all, limit, seed)
    index = pool_index(pool, root, progress=say)
    config = load_config(models)
    rule = rule or rule_from(config.pipeline)
    zs = config.pipeline.zero_shot_votes
    started_all = time.perf_counter()
    report: dict = {"data": str(data), "pool": str(pool), "commit": git_commit(),
                    "sample": {"limit": limit, "seed": seed, "sentences": len(chosen), "of": len(gold_all),
                               "entities": sum(len(s.spans) for s in chosen)},
                    "schema": list(index.labels), "pool_size": {"sentences": len(index), "spans": index.n_spans},
                    "rule": rule_dict(rule), "runs": {}}
    main_entries = None
    for mode in retrieval:
        tagger = make_tagger(index, mode, models=models, only=only, k=k, llms=llms, threads=threads)
        cache = RecordCache.for_tagger(tagger, mode, root)
        if "models" not in report:
            report["models"] = [_model_identity(m) for m in tagger.models]
        members = [m.name for m in tagger.models]
        n_cached = sum(1 for s in chosen if cache.get(s.text) is not None)
        say(f"{data.name} [{mode}]: {len(chosen)} sentences, {n_cached} cached; records in {cache.path}")
        t0 = time.perf_counter()
        entries = run_records(tagger, chosen, cache,
                              progress=lambda i, n, hit: say(f"  [{mode}] {i}/{n}{' (cached)' if hit else ''}"))
        run = {"records": str(cache.path), "cached": n_cached, "computed": len(chosen) - n_cached,
               "wall_seconds": round(time.perf_counter() - t0, 1), "k": tagger.settings.k,
               "throughput": throughput(entries), "ensemble": score_entries(entries, chosen, rule, zero_shot=zs)}
        run["members"] = {m: score_entries(entries, chosen, replace(rule, extract_min_votes=1), [m], [m], zero_shot=zs)
                          for m in members}
        if mode == retrieval[0]:
            main_entries = entries
            run["ablations"] = ablations(entries, chosen, rule, members, zero_shot=zs)
        report["runs"][mode] = run
    report["peak_rss_mb"] = round(peak_rss_mb(), 1)
    report["wall_seconds"] = round(time.perf_counter() - started_all, 1)
    report["main"] = retrieval[0] if main_entries is not None else None
    return report


def ablations(entries, gold, rule: VoteRule, members: Sequence[str], zero_shot: bool = True) -> dict:
    """Aggregation ablations rescored from the records (no model calls): each flips one part of `rule`.
    `zero_shot`: whether `rule` counts the models' zero-shot spans as votes."""
    out = {}
    if rule.verify:
        out["no verification"] = score_entries(entries, gold, replace(rule, verify=False), zero_shot=zero_shot)
    else:
        out[f"verification (all models, P(yes) >= {rule.verify_threshold})"] = score_entries(
            entries, gold, replace(rule, verify=True), zero_shot=zero_shot)
    if any(c.get("zero_shot_only") for e in entries for c in e["record"]["candidates"]):
        name = "no zero-shot votes" if zero_shot else "zero-shot votes counted"
        out[name] = score_entries(entries, gold, rule, zero_shot=not zero_shot)
    for ev in range(1, len(members) + 1):
        name = "union at extraction (1 vote)" if ev == 1 else f"vote at extraction ({ev} of {len(members)})"
        out[name] = score_entries(entries, gold, replace(rule, extract_min_votes=ev), zero_shot=zero_shot)
    for source in ("classify", "extract", "both"):
        out[f"type source: {source}"] = score_entries(entries, gold, replace(rule, type_source=source), zero_shot=zero_shot)
    # weights estimated on one half of the sample, applied to the other half (2-fold cross-fitting)
    if len(members) > 1 and len(entries) >= 4:
        halves = [list(range(0, len(entries), 2)), list(range(1, len(entries), 2))]
        tags: dict[int, list[str]] = {}
        for fit, apply in (halves, halves[::-1]):
            w = estimate_weights([entries[i] for i in fit], [gold[i] for i in fit], members, rule)
            res = rescore([entries[i] for i in apply], [gold[i] for i in apply], replace(rule, weights=w), zero_shot=zero_shot)
            tags.update(zip(apply, res.tags))
        ordered = [tags[i] for i in range(len(entries))]
        out["weights from members' F1 (2-fold)"] = {**seqeval_scores(gold_tags(gold), ordered)}
    return out


# ---------------------------------------------------------------------------------------------
# The readable table


def _f(x) -> str:
    return f"{100 * x:5.1f}" if isinstance(x, (int, float)) else "    -"


def format_report(report: dict) -> str:
    lines = [f"data {report['data']}  pool {report['pool']}  sample {report['sample']['sentences']} of "
             f"{report['sample']['of']} sentences (seed {report['sample']['seed']}), {report['sample']['entities']} gold entities",
             f"models {', '.join(m['name'] for m in report.get('models', []))}  commit {report['commit']}", ""]
    lines.append(f"{'system':44} {'P':>5} {'R':>5} {'F1':>5}")
    for mode, run in report["runs"].items():
        label = "zero-shot" if mode == "none" else f"{mode} retrieval"
        s = run["ensemble"]
        lines.append(f"{('ensemble, ' + label):44} {_f(s['precision'])} {_f(s['recall'])} {_f(s['f1'])}")
        for m, s in run["members"].items():
            lines.append(f"{('  ' + m + ' alone'):44} {_f(s['precision'])} {_f(s['recall'])} {_f(s['f1'])}")
        for name, s in run.get("ablations", {}).items():
            lines.append(f"{('  ' + name):44} {_f(s['precision'])} {_f(s['recall'])} {_f(s['f1'])}")
    main = report["runs"].get(report.get("main") or "", {})
    if main:
        lines += ["", f"per type (ensemble, {report['main']} retrieval):"]
        for label, s in main["ensemble"]["per_type"].items():
            lines.append(f"  {label:42} {_f(s['precision'])} {_f(s['recall'])} {_f(s['f1'])}  n={s['support']}")
    lines += ["", "throughput:"]
    for mode, run in report["runs"].items():
        t = run["throughput"]
        if not t:
            continue
        lines.append(f"  {mode:10} {t['seconds_per_sentence']:7.2f} s/sentence ({t['sentences_per_second']} sentences/s), "
                     f"peak RSS {t['peak_rss_mb']:.0f} MB")
        for stage, models in t["tokens_per_sentence"].items():
            for model, st in models.items():
                lines.append(f"    {stage:18} {model:22} prompt {st['evaluated']:8.1f}  reused {st['reused']:8.1f}  "
                             f"generated {st['generated']:6.1f}  calls {st['calls']:5.1f}  {st['seconds']:6.2f} s")
    return "\n".join(lines)
