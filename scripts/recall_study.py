"""Issue 14, recall: does a lexicon from the user's own pool recover entities the ensemble missed?

Offline, from the committed dev records (no model call). For each corpus, every entity string of its
pool (the train split: the demonstrations' source) is a lexicon entry with its majority label, kept when
the pool labels that token sequence at least `--ratio` of the times it occurs there (so "US" as a word
in running text does not become an entity because it was once labelled). After the chosen vote, each
lexicon match in a sentence (longest first, token-aligned) that overlaps no accepted span is added. The
lexicon and the vote are the tagger's own (el4ner_local/pipeline/lexicon.py, votes.decide), rescored from
the records. Strict micro F1 per corpus, before and after, at a few ratios; and with the words the pool
leaves unlabelled rejected too (`lexicon_filter`).

    python scripts/recall_study.py [--split dev] [--ratio 0.5 0.7 0.9] [--rule 2-both]
    python scripts/recall_study.py --per-pool      # each corpus in halves: the votes a pool would choose
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import accuracy  # noqa: E402

if TYPE_CHECKING:
    from el4ner_local.evaluation.scoring import Counts


def pool_names(corpus: str, ratio: float):
    """The corpus pool's lexicon (el4ner_local/pipeline/lexicon.py) at `ratio`."""
    from el4ner_local.formats import read_labelled
    from el4ner_local.pipeline.lexicon import Lexicon

    return Lexicon.from_pool(read_labelled(accuracy.POOLS[corpus]), min_share=ratio)


def names_alone(sent, lex) -> list:
    """The lexicon's matches in the sentence as decide would accept them with no model span: longest first,
    each one that overlaps none accepted before it (a dictionary tagger, no model)."""
    from el4ner_local.documents import Span

    spans: list = []
    for m in lex.matches(sent.text, sent.tokens):
        if all(m.end <= s.start or m.start >= s.end for s in spans):
            spans.append(Span(m.start, m.end, m.label))
    return spans


def names_first(sent, accepted, lex) -> list:
    """The lexicon's matches, then the accepted spans that overlap none of them: where the pool knows a
    name, its boundaries and label win over the models'."""
    matched = names_alone(sent, lex)
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
    from el4ner_local.evaluation.scoring import rescore, with_lexicon
    from el4ner_local.pipeline.votes import VoteRule

    for corpus, (entries, gold, members) in data.items():
        entries = with_lexicon(entries, gold, pool_names(corpus, ratio))
        half = len(gold) // 2
        print(f"{corpus} ({len(gold)} sentences): F1 on each half: vote / + names {ratio} / + unlabelled words out")
        for votes in range(1, len(members) + 1):
            for source in ("extract", "both"):
                cells = []
                for part in (slice(0, half), slice(half, None)):
                    for lex, filt in ((False, False), (True, False), (True, True)):
                        rule = VoteRule(
                            extract_min_votes=votes, type_source=source, weights={}, lexicon=lex, lexicon_filter=filt
                        )
                        cells.append(f"{100 * rescore(entries[part], gold[part], rule).counts.f1:4.1f}")
                print(f"  {votes} vote(s), {source:7s}: {' / '.join(cells[:3])} | {' / '.join(cells[3:])}")


def main() -> None:
    from el4ner_local.evaluation.scoring import Counts, accepted_spans, rescore, with_lexicon
    from el4ner_local.evaluation.tuning import choose as choose_rule
    from el4ner_local.pipeline.votes import VoteRule

    parser = argparse.ArgumentParser()
    parser.add_argument("--split", default="dev")
    parser.add_argument("--ratio", type=float, nargs="+", default=[0.3, 0.5, 0.7, 0.9])
    parser.add_argument("--per-pool", action="store_true", help="each corpus in halves: the votes a pool would choose")
    parser.add_argument(
        "--rule", choices=("choose", "2-both"), default="choose", help="2-both: what choose picked on dev"
    )
    args = parser.parse_args()
    base = VoteRule(
        extract_min_votes=1, type_source="extract", verify=False, weights={}, lexicon=False, lexicon_filter=False
    )
    data = {c: accuracy.recorded(args.split, c, "whole-k4") for c in accuracy.SPLITS[args.split]}
    if args.per_pool:
        per_pool(data, 0.5)
        return
    members = next(iter(data.values()))[2]
    entries = [e for d in data.values() for e in d[0]]
    gold = [g for d in data.values() for g in d[1]]
    if args.rule == "choose":
        rule = replace(choose_rule(entries, gold, members, base).rule, label_thresholds={}, calibration=None)
    else:
        rule = replace(base, extract_min_votes=2, type_source="both")
    print(f"rule ({args.rule}, {len(entries)} {args.split} sentences): {rule.to_json()}")
    named = replace(rule, lexicon=True)
    middle = args.ratio[len(args.ratio) // 2 - 1] if len(args.ratio) > 1 else args.ratio[0]

    totals: dict[str, Counts] = defaultdict(Counts)
    for corpus, (c_entries, c_gold, _) in data.items():
        lexicons = {r: pool_names(corpus, r) for r in args.ratio}
        rows = {"vote": rescore(c_entries, c_gold, rule).counts}
        rows |= {
            f"+lex{r}": rescore(with_lexicon(c_entries, c_gold, lex), c_gold, named).counts
            for r, lex in lexicons.items()
        }
        # the fair comparison: each member alone, with and without the same lexicon (the middle ratio)
        lexed = with_lexicon(c_entries, c_gold, lexicons[middle])
        rows[f"+lex{middle}+filter"] = rescore(lexed, c_gold, replace(named, lexicon_filter=True)).counts
        decided = rescore(c_entries, c_gold, rule).decided
        firsts = [names_first(s, accepted_spans(c), lexicons[middle]) for s, c in zip(c_gold, decided, strict=True)]
        rows[f"lex{middle} first"] = span_counts(c_gold, firsts)
        rows[f"lex{middle} alone"] = span_counts(c_gold, [names_alone(s, lexicons[middle]) for s in c_gold])
        for m in members:
            short = m.rsplit("-", 1)[-1]
            rows[short] = rescore(c_entries, c_gold, base, [m]).counts
            rows[f"{short}+lex{middle}"] = rescore(lexed, c_gold, replace(base, lexicon=True), [m]).counts
        print(f"{corpus} ({len(c_gold)} sentences)")
        for name, counts in rows.items():
            p, r, f = Counts.prf(counts.tp, counts.pred, counts.gold)
            print(f"  {name:14s} P {100 * p:4.1f} R {100 * r:4.1f} F1 {100 * f:4.1f}")
            total = totals[name]
            total.tp, total.pred, total.gold = total.tp + counts.tp, total.pred + counts.pred, total.gold + counts.gold
    print("pooled: " + " | ".join(f"{name} F1 {100 * c.f1:4.1f}" for name, c in totals.items()))


if __name__ == "__main__":
    main()
