"""Issue 14, recall: does a lexicon from the user's own pool recover entities the ensemble missed?

Offline, from the committed dev records (no model call). For each corpus, every entity string of its
pool (the train split: the demonstrations' source) is a lexicon entry with its majority label, kept when
the pool labels that token sequence at least `--ratio` of the times it occurs there (so "US" as a word
in running text does not become an entity because it was once labelled). After the chosen vote, each
lexicon match in a sentence (longest first, token-aligned) that overlaps no accepted span is added.
Strict micro F1 per corpus, before and after, at a few ratios.

    python scripts/recall_study.py [--split dev] [--ratio 0.5 0.7 0.9] [--rule 2-both]
    python scripts/recall_study.py --per-pool      # each corpus in halves: the votes a pool would choose
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import accuracy  # noqa: E402

if TYPE_CHECKING:
    from el4ner_local.evaluation.scoring import Counts

MAX_WORDS = 6


def words(sent, a: int, b: int) -> tuple[str, ...]:
    return tuple(sent.text[s:e] for s, e in sent.tokens[a:b])


def lexicon(pool, ratio: float) -> dict[tuple[str, ...], str]:
    """Token sequence -> its majority label, for entity strings the pool labels at least `ratio` of the time."""
    labels: dict[tuple[str, ...], Counter] = defaultdict(Counter)
    for sent in pool:
        starts = {s: i for i, (s, _) in enumerate(sent.tokens)}
        ends = {e: i + 1 for i, (_, e) in enumerate(sent.tokens)}
        for span in sent.spans:
            if span.start in starts and span.end in ends:
                labels[words(sent, starts[span.start], ends[span.end])][span.label] += 1
    seen: Counter = Counter()
    for sent in pool:
        n = len(sent.tokens)
        for a in range(n):
            for b in range(a + 1, min(n, a + MAX_WORDS) + 1):
                key = words(sent, a, b)
                if key in labels:
                    seen[key] += 1
    return {
        key: counts.most_common(1)[0][0]
        for key, counts in labels.items()
        if sum(counts.values()) >= ratio * max(seen[key], 1)
    }


def with_lexicon(sent, accepted, lex) -> list:
    from el4ner_local.documents import Span

    spans = list(accepted)
    n = len(sent.tokens)
    for length in range(MAX_WORDS, 0, -1):
        for a in range(n - length + 1):
            label = lex.get(words(sent, a, a + length))
            if label is None:
                continue
            start, end = sent.tokens[a][0], sent.tokens[a + length - 1][1]
            if all(end <= s.start or start >= s.end for s in spans):
                spans.append(Span(start, end, label))
    return spans


def lexicon_first(sent, accepted, lex) -> list:
    """The lexicon's matches, then the accepted spans that overlap none of them: where the pool knows a
    name, its boundaries and label win over the models'."""
    matched = with_lexicon(sent, [], lex)
    return matched + [s for s in accepted if all(s.end <= m.start or s.start >= m.end for m in matched)]


def span_counts(gold, spans_per_sentence) -> Counts:
    """Strict entity counts (scoring.Counts) of predicted character spans against the gold sentences."""
    from el4ner_local.documents import bio_tags
    from el4ner_local.evaluation.scoring import Counts, entity_set

    counts = Counts()
    for sent, spans in zip(gold, spans_per_sentence, strict=True):
        counts.add(entity_set(bio_tags(sent.tokens, list(sent.spans))), entity_set(bio_tags(sent.tokens, spans)))
    return counts


def per_pool(data: dict, ratio: float) -> None:
    """Each corpus in halves: F1 of every vote count and type source, without and with the lexicon, on
    each half, to see whether a rule chosen on one half of a pool holds on the other."""
    from el4ner_local.evaluation.scoring import accepted_spans, rescore
    from el4ner_local.formats import read_labelled
    from el4ner_local.pipeline.votes import VoteRule

    for corpus, (entries, gold, members) in data.items():
        lex = lexicon(read_labelled(accuracy.POOLS[corpus]), ratio)
        half = len(gold) // 2
        print(f"{corpus} ({len(gold)} sentences): F1 on each half, vote / + lexicon {ratio}")
        for votes in range(1, len(members) + 1):
            for source in ("extract", "both"):
                rule = VoteRule(extract_min_votes=votes, type_source=source, verify=False, weights={})
                cells = []
                for part in (slice(0, half), slice(half, None)):
                    spans = [accepted_spans(c) for c in rescore(entries[part], gold[part], rule).decided]
                    lexed = [with_lexicon(sent, s, lex) for sent, s in zip(gold[part], spans, strict=True)]
                    cells += [f"{100 * span_counts(gold[part], x).f1:4.1f}" for x in (spans, lexed)]
                print(f"  {votes} vote(s), {source:7s}: {cells[0]} / {cells[1]} | {cells[2]} / {cells[3]}")


def main() -> None:
    from el4ner_local.evaluation.scoring import Counts, accepted_spans, rescore
    from el4ner_local.evaluation.tuning import choose as choose_rule
    from el4ner_local.formats import read_labelled
    from el4ner_local.pipeline.votes import VoteRule

    parser = argparse.ArgumentParser()
    parser.add_argument("--split", default="dev")
    parser.add_argument("--ratio", type=float, nargs="+", default=[0.3, 0.5, 0.7, 0.9])
    parser.add_argument("--per-pool", action="store_true", help="each corpus in halves: the votes a pool would choose")
    parser.add_argument(
        "--rule", choices=("choose", "2-both"), default="choose", help="2-both: what choose picked on dev"
    )
    args = parser.parse_args()
    base = VoteRule(extract_min_votes=1, type_source="extract", verify=False, weights={})
    data = {c: accuracy.recorded(args.split, c, "whole-k4") for c in accuracy.SPLITS[args.split]}
    if args.per_pool:
        per_pool(data, 0.5)
        return
    members = next(iter(data.values()))[2]
    entries = [e for d in data.values() for e in d[0]]
    gold = [g for d in data.values() for g in d[1]]
    if args.rule == "choose":
        rule = replace(choose_rule(entries, gold, members, base).rule, label_thresholds={})
    else:
        rule = replace(base, extract_min_votes=2, type_source="both")
    print(f"rule ({args.rule}, {len(entries)} {args.split} sentences): {rule.to_json()}")

    def scored(c_gold, decided, lex, combine=with_lexicon):
        return span_counts(
            c_gold,
            [
                accepted_spans(cands) if lex is None else combine(sent, accepted_spans(cands), lex)
                for sent, cands in zip(c_gold, decided, strict=True)
            ],
        )

    totals: dict[str, Counts] = defaultdict(Counts)
    for corpus, (c_entries, c_gold, _) in data.items():
        pool = read_labelled(accuracy.POOLS[corpus])
        lexicons = {r: lexicon(pool, r) for r in args.ratio}
        decided = rescore(c_entries, c_gold, rule).decided
        rows = {"vote": scored(c_gold, decided, None)}
        rows |= {f"+lex{r}": scored(c_gold, decided, lex) for r, lex in lexicons.items()}
        # the fair comparison: each member alone, with and without the same lexicon (the middle ratio)
        middle = args.ratio[len(args.ratio) // 2 - 1] if len(args.ratio) > 1 else args.ratio[0]
        rows[f"lex{middle} first"] = scored(c_gold, decided, lexicons[middle], lexicon_first)
        rows[f"lex{middle} alone"] = scored(c_gold, [[] for _ in c_gold], lexicons[middle])  # a dictionary, no model
        for m in members:
            alone = rescore(c_entries, c_gold, base, [m]).decided
            short = m.rsplit("-", 1)[-1]
            rows[short] = scored(c_gold, alone, None)
            rows[f"{short}+lex{middle}"] = scored(c_gold, alone, lexicons[middle])
        print(f"{corpus} ({len(c_gold)} sentences)")
        for name, counts in rows.items():
            p, r, f = Counts.prf(counts.tp, counts.pred, counts.gold)
            print(f"  {name:14s} P {100 * p:4.1f} R {100 * r:4.1f} F1 {100 * f:4.1f}")
            total = totals[name]
            total.tp, total.pred, total.gold = total.tp + counts.tp, total.pred + counts.pred, total.gold + counts.gold
    print("pooled: " + " | ".join(f"{name} F1 {100 * c.f1:4.1f}" for name, c in totals.items()))


if __name__ == "__main__":
    main()
