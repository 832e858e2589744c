"""`el4ner-local index tune`: the pool chooses the vote rule (issue 14). A held-out slice of the index's pool
is tagged once, with the rest of the pool as demonstrations (a held-out sentence is never retrieved), its
records kept in INDEX/tuning/records (private) so that an interrupted tune resumes and a finished one reruns
without a model call; tuning.choose scores the vote rules on them, and the choice, with its calibration and
thresholds, goes to INDEX/tuning.json (pipeline/tuned.py), where Tagger.load finds it."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path

from ..config import load_config
from ..errors import UserError
from ..pipeline.lexicon import Lexicon
from ..pipeline.tuned import TUNING_DIR, measured_with, write_tuning
from ..pipeline.votes import VoteRule
from ..private_files import private_dir
from .cache import RecordCache, config_description, config_key
from .records import recording_tagger, run_records, sample
from .scoring import with_lexicon

DEFAULT_HELD_OUT = 40


def held_out_slice(index, n: int | None, seed: int) -> tuple[list, list[int]]:
    """The held-out sentences (records.sample of the pool) and the pool ids to keep out of retrieval: theirs
    and those of any other pool sentence of the same text. n None: DEFAULT_HELD_OUT, or half a smaller pool."""
    if len(index.pool) < 2:
        raise UserError(
            f"{index.path}: a pool of {len(index.pool)} sentence(s) cannot be tuned: the held-out sentences are "
            "tagged with the rest of the pool as demonstrations",
            fix="add labelled sentences with `el4ner-local index add` (a few dozen or more), then tune",
        )
    if n is None:
        n = min(DEFAULT_HELD_OUT, len(index.pool) // 2)
    if n < 1 or 2 * n > len(index.pool):
        raise UserError(
            f"{index.path}: --held-out {n} of a pool of {len(index.pool)} sentences; the rest of the pool is "
            "the demonstrations, so at most half can be held out",
            fix=f"give --held-out from 1 to {len(index.pool) // 2}, or tune a bigger pool",
        )
    chosen = sample(index.pool, n, seed)
    texts = {s.text for s in chosen}
    return chosen, [i for i, s in enumerate(index.pool) if s.text in texts]


def tune_index(
    index_dir: Path,
    *,
    models: str | Path | None = None,
    profile: str | None = None,
    held_out: int | None = None,
    seed: int = 0,
    threads: int | None = None,
    llms: list | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Tag (or read back) the held-out slice (`held_out` sentences, None: held_out_slice's default), choose
    the rule, keep it in INDEX/tuning.json; returns the entry written. `llms` stand in for the profile's
    models (tests)."""
    from ..retrieval import DemoIndex
    from .tuning import choose

    say = progress or (lambda message: None)
    index_dir = Path(index_dir)
    index = DemoIndex.load(index_dir)
    config = load_config(models, profile)
    gold, ids = held_out_slice(index, held_out, seed)
    view = index.without(ids)
    # the tuned keys as overrides: an earlier tuning of this index does not apply to its own recording
    tagger = recording_tagger(
        view,
        "span",
        models=models,
        profile=profile,
        threads=threads,
        llms=llms,
        stages="typed",
        overrides={"calibration": (), "thresholds": ()},
    )
    description = config_description(tagger, "span")
    held = hashlib.sha256("\n".join(sorted(s.text for s in gold)).encode("utf-8")).hexdigest()
    description["held_out"] = {"seed": seed, "sentences": len(gold), "sha256": held}  # what is kept out
    folder = private_dir(index_dir / TUNING_DIR / "records", ours_from=index_dir / TUNING_DIR)
    cache = RecordCache(folder / f"{config_key(description)[:32]}.jsonl", description)
    cached = sum(1 for s in gold if cache.get(s.text) is not None)
    say(
        f"tune: {len(gold)} held-out sentences of {len(index.pool)} ({cached} already recorded), profile "
        f"{config.profile}, models {', '.join(m.name for m in tagger.models)}"
    )

    def said(i: int, n: int, hit: bool) -> None:
        say(f"tune: {i}/{n} sentences{' (recorded before)' if hit else ''}")

    # what the pool the held-out slice was tagged with (never itself) knows of words: part of the choice
    lexicon = Lexicon.from_pool(view.demonstration_pool(), tagger.schema.restrict)
    entries = with_lexicon(run_records(tagger, gold, cache, progress=said), gold, lexicon)
    members = [m.name for m in tagger.models]
    base = VoteRule.from_settings(config.pipeline, members)
    # recorded with zero-shot votes (records.RECORDING); counted only as the profile's tagger counts them
    tuning = choose(entries, gold, members, base, zero_shot=config.pipeline.zero_shot_votes)
    entry = {
        **measured_with(tagger.models, tagger.schema, config.pipeline, index),
        "held_out": {"requested": held_out, "sentences": len(gold), "seed": seed, "sha256": held},
        "records": str(cache.path.relative_to(index_dir)),
        "tuning": tuning.to_dict(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_tuning(index_dir, config.profile, entry)
    return entry


def percent(value) -> str:
    """A share (an F1) in percent with one decimal; "-" for none."""
    return "-" if value is None else f"{100 * value:.1f}"


def _votes(n) -> str:
    return f"{n} vote{'' if n == 1 else 's'}"


def _names(chosen: dict) -> str:
    """What the pool knows of words, as the choice uses it ("" for a tuning made before it was part of it)."""
    out = "" if "lexicon" not in chosen else f", {'with' if chosen['lexicon'] else 'without'} the pool's names"
    if "lexicon_filter" in chosen:
        out += f", {'rejecting' if chosen['lexicon_filter'] else 'keeping'} the words it leaves unlabelled"
    return out


def _ece(before, after) -> str:
    return f"{before:.3f} -> {after:.3f}" if before is not None and after is not None else "-"


def summary(entry: dict, profile: str) -> list[str]:
    """A few lines: each member alone, the untuned rule, the chosen one (and cross-fitted), ECE, thresholds."""
    report = entry["tuning"]["report"]
    rule = entry["tuning"]["rule"]
    lines = [
        f"profile {profile}: {report.get('sentences')} held-out sentences, {report.get('gold_entities')} entities "
        "(strict F1)"
    ]
    for member, f1 in report.get("members_alone", {}).items():
        lines.append(f"  {member + ' alone':32} F1 {percent(f1)}")
    base = report.get("base", {})
    base_rule = base.get("rule", {})
    lines.append(
        f"  {'untuned (the profile rule)':32} F1 {percent(base.get('f1'))}  ({_votes(base_rule.get('extract_min_votes'))}"
        f", types from {base_rule.get('type_source')})"
    )
    chosen = report.get("chosen", {})
    crossed = report.get("cross_fitted", {})
    cross = f"cross-fitted F1 {percent(crossed['f1'])}" if "f1" in crossed else crossed.get("skipped", "")
    lines.append(
        f"  {'chosen':32} F1 {percent(report.get('f1'))}  ({_votes(chosen.get('extract_min_votes'))}, types from "
        f"{chosen.get('type_source')}, {chosen.get('weights')} weights{_names(chosen)}); {cross}"
    )
    calibration = report.get("calibration", {})
    if calibration.get("points"):
        ece = f"ECE {_ece(calibration.get('ece_before'), calibration.get('ece_after'))}"
        if "ece_after" in crossed:
            ece += f" (cross-fitted {_ece(crossed.get('ece_before'), crossed.get('ece_after'))})"
        how = calibration.get("confidence", {}).get("chosen")
        if how:  # a tuning written before the confidence was chosen has none
            ece += f"; confidence from {how['confidence_source']}, {how['fit']} fit"
        lines.append(f"  {'calibration':32} {ece}")
    else:
        lines.append(f"  {'calibration':32} none: {calibration.get('why_none', 'not fitted')}")
    kept = rule.get("label_thresholds") or {}
    shown = ", ".join(f"{label} {t}" for label, t in sorted(kept.items())) or "none"
    lines.append(f"  {'thresholds':32} {shown}")
    return lines
