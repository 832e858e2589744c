"""`evaluate`: run (or resume) every retrieval mode on a sample of a labelled file and build the JSON report."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from ..config import load_config
from ..errors import UserError
from ..pipeline.lexicon import Lexicon
from ..pipeline.votes import VoteRule
from .cache import RecordCache, model_identity, pool_index
from .records import RETRIEVAL_MODES, peak_rss_mb, recording_tagger, run_records, sample
from .scoring import ablations, rule_dict, score_entries, throughput, with_lexicon


def git_commit(repo: Path | None = None) -> str:
    """The commit the numbers come from, "+dirty" with uncommitted changes to tracked files."""
    repo = repo or Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return head + ("+dirty" if dirty else "") if head else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def evaluate(
    data: Path,
    pool: Path,
    *,
    limit: int | None = None,
    seed: int = 0,
    retrieval: Sequence[str] = RETRIEVAL_MODES,
    models: str | Path | None = None,
    profile: str | None = None,
    only: Sequence[str] | None = None,
    k: int | None = None,
    root: Path | None = None,
    rule: VoteRule | None = None,
    llms: list | None = None,
    threads: int | None = None,
    progress: Callable[[str], None] | None = None,
    input_format: str | None = None,
) -> dict:
    """Run (or resume) every retrieval mode on the sample and return the JSON report. `input_format`:
    the format of `data` and `pool` (formats.INPUT_FORMATS; None: detected for each). `profile`: the
    models file's profile whose models are run and whose vote rule is scored (None: the default)."""
    from ..formats import read_labelled

    say = progress or (lambda message: None)
    data, pool = Path(data), Path(pool)
    if not data.exists():
        raise UserError(f"{data}: no such test file", fix="give a labelled CoNLL or JSONL file as --data")
    gold_all = read_labelled(data, input_format)
    chosen = sample(gold_all, limit, seed)
    index = pool_index(pool, root, progress=say, fmt=input_format)
    config = load_config(models, profile)
    rule = rule or VoteRule.from_settings(config.pipeline_for(only), list(only) if only else None)
    zs = config.pipeline.zero_shot_votes
    started_all = time.perf_counter()
    report: dict = {
        "data": str(data),
        "pool": str(pool),
        "commit": git_commit(),
        "profile": config.profile,
        "sample": {
            "limit": limit,
            "seed": seed,
            "sentences": len(chosen),
            "of": len(gold_all),
            "entities": sum(len(s.spans) for s in chosen),
        },
        "schema": list(index.labels),
        "pool_size": {"sentences": len(index), "spans": index.n_spans},
        "rule": rule_dict(rule),
        "runs": {},
    }
    main_entries = None
    for mode in retrieval:
        tagger = recording_tagger(
            index, mode, models=models, profile=profile, only=only, k=k, llms=llms, threads=threads
        )
        cache = RecordCache.for_tagger(tagger, mode, root)
        if "models" not in report:
            report["models"] = [model_identity(m) for m in tagger.models]
        members = [m.name for m in tagger.models]
        n_cached = sum(1 for s in chosen if cache.get(s.text) is not None)
        say(f"{data.name} [{mode}]: {len(chosen)} sentences, {n_cached} cached; records in {cache.path}")

        def said(i: int, n: int, hit: bool, mode: str = mode) -> None:
            say(f"  [{mode}] {i}/{n}{' (cached)' if hit else ''}")

        t0 = time.perf_counter()
        entries = run_records(tagger, chosen, cache, progress=said)
        if tagger.index is not None:  # what the pool knows of words, as a tagger of this index uses it
            lexicon = Lexicon.from_pool(tagger.index.demonstration_pool(), tagger.schema.restrict)
            entries = with_lexicon(entries, chosen, lexicon)
        run = {
            "records": str(cache.path),
            "cached": n_cached,
            "computed": len(chosen) - n_cached,
            "wall_seconds": round(time.perf_counter() - t0, 1),
            "k": tagger.settings.k,
            "throughput": throughput(entries),
            "ensemble": score_entries(entries, chosen, rule, zero_shot=zs),
        }
        run["members"] = {
            m: score_entries(entries, chosen, replace(rule, extract_min_votes=1), [m], [m], zero_shot=zs)
            for m in members
        }
        if mode == retrieval[0]:
            main_entries = entries
            run["ablations"] = ablations(entries, chosen, rule, members, zero_shot=zs)
        report["runs"][mode] = run
    report["peak_rss_mb"] = round(peak_rss_mb(), 1)
    report["wall_seconds"] = round(time.perf_counter() - started_all, 1)
    report["main"] = retrieval[0] if main_entries is not None else None
    return report
