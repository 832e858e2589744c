"""Issues 14 and 18: which members earn their place, and what each ensemble costs.

Offline, from the committed dev records of the candidate ensemble (no model call). For each subset of
the members, the vote rule is chosen from a small grid (1 to 3 extraction votes x the three type
sources, uniform weights) by strict micro F1 on the other three corpora, and scored on the corpus left
out. So no corpus's number is tuned on itself. The cost is the recorded seconds and evaluated tokens per
sentence of that subset's model stages (accuracy.cost; stage 3 counted only when the type source uses it).

    python scripts/member_study.py [--split dev]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from itertools import combinations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import accuracy  # noqa: E402


def f1_over(counts: dict, i: int, corpora: list[str]) -> float:
    """Micro F1 of rule `i` pooled over `corpora`."""
    from el4ner_local.evaluation.scoring import Counts

    tp, pred, gold = (sum(getattr(counts[c][i], f) for c in corpora) for f in ("tp", "pred", "gold"))
    return Counts.prf(tp, pred, gold)[2]


def main() -> None:
    from el4ner_local.evaluation.scoring import Counts, rescore
    from el4ner_local.pipeline.votes import VoteRule

    parser = argparse.ArgumentParser()
    parser.add_argument("--split", default="dev")
    args = parser.parse_args()
    data = {c: accuracy.recorded(args.split, c, "whole-k4") for c in accuracy.SPLITS[args.split]}
    members = next(iter(data.values()))[2]
    base = VoteRule(extract_min_votes=1, type_source="extract", verify=False, weights={})
    sizes = ", ".join(f"{c} {len(d[0])}" for c, d in data.items())
    print(f"{args.split} records: {sizes} sentences; rule chosen leaving each corpus out")
    entries = [e for d in data.values() for e in d[0]]
    subsets = [list(s) for n in range(len(members), 0, -1) for s in combinations(members, n)]
    for subset in subsets:
        grid = [
            replace(base, extract_min_votes=v, type_source=t)
            for v in range(1, min(3, len(subset)) + 1)
            for t in ("extract", "classify", "both")
        ]
        counts = {
            c: [rescore(entries, gold, rule, subset).counts for rule in grid] for c, (entries, gold, _) in data.items()
        }
        pooled, cells, chosen = Counts(), [], []
        for corpus in data:
            best = max(range(len(grid)), key=lambda i, left=corpus: f1_over(counts, i, [c for c in data if c != left]))
            got = counts[corpus][best]
            chosen.append(grid[best])
            pooled.tp, pooled.pred, pooled.gold = pooled.tp + got.tp, pooled.pred + got.pred, pooled.gold + got.gold
            cells.append(f"{100 * got.f1:4.1f} ({grid[best].extract_min_votes}{grid[best].type_source[0]})")
        # stage 3 is paid for only where a chosen rule reads its types
        spent = accuracy.cost(entries, subset, classify=any(r.type_source != "extract" for r in chosen))
        print(
            f"{' + '.join(m.rsplit('-', 1)[-1] for m in subset):24s} pooled {100 * pooled.f1:4.1f} | "
            + " ".join(cells)
            + f" | median {spent['median']:5.1f} s/sentence, {spent['evaluated']:5.0f} tokens evaluated"
        )
    print("members by size; seconds are the recording's (a shared machine, other jobs running): compare tokens")
    print("cells: F1 on the corpus left out (votes, type source e/c/b), in the order " + ", ".join(data))


if __name__ == "__main__":
    main()
