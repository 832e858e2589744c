"""The vote-rule grid that scripts/results.py scores on the record cache: every combination of extraction
votes, zero-shot votes, type source, threshold, verification and weights, with counts per rule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from el4ner_local.evaluation.scoring import rescore
from el4ner_local.pipeline.votes import VoteRule


def rule_grid(
    models: Sequence[str],
    weight_sets: dict[str, dict[str, float]] | None = None,
    zero_shot: Sequence[bool] = (True, False),
) -> list[tuple[str, VoteRule, tuple | None, bool]]:
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
                    base = VoteRule(
                        extract_min_votes=ev,
                        type_source=source,
                        classify_threshold=thr,
                        verify=False,
                        weights=dict(weights),
                    )
                    out.append((f"ev{ev}{zname}/{source}/t{thr}/noverify/{wname}", base, None, zs))
                    for vname, vs in verifier_sets.items():
                        for vthr in (0.3, 0.5, 0.7):
                            out.append(
                                (
                                    f"ev{ev}{zname}/{source}/t{thr}/verify{vthr}@{vname}/{wname}",
                                    replace(base, verify=True, verify_threshold=vthr),
                                    vs,
                                    zs,
                                )
                            )
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
                alone = rescore(
                    entries,
                    gold,
                    rule,
                    [m],
                    [m] if verifiers is None or m in verifiers else [],
                    n_models=1,
                    zero_shot=zs,
                )
                row[m] = [alone.counts.tp, alone.counts.pred, alone.counts.gold]
        out[name] = row
    return out
