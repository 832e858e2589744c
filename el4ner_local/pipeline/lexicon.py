"""The names the user's pool already knows (issue 14's recall step). Every entity string the labelled pool
labels at least MIN_SHARE of the times its words occur there is an entry, with its majority label. After the
vote, each match of an entry in a sentence that overlaps no accepted span is accepted with the pool's label
(votes.decide); its raw confidence is the share of the pool's occurrences labelled so.

On 458 dev sentences of four corpora it added 2.2 points of pooled F1 and never lowered precision; it adds
nothing where the pool has never seen the names (WNUT-17's are new by design), and the share hardly matters
between 0.3 and 0.9 (docs/recall.md). Whether it is on is a vote setting that `index tune` chooses per pool.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..documents import LabelledSentence

MAX_WORDS = 6  # the longest entry, in tokens: longer names are rare and each costs a lookup per position
MIN_SHARE = 0.5  # an entry is kept when the pool labels at least this share of its occurrences

Words = tuple[str, ...]


@dataclass(frozen=True)
class LexiconMatch:
    start: int  # document offsets
    end: int
    text: str
    label: str
    share: float  # of the pool's occurrences of these words, the share labelled `label`

    def to_json(self) -> list:
        return [self.start, self.end, self.text, self.label, round(self.share, 4)]

    @classmethod
    def from_json(cls, data: Sequence) -> LexiconMatch:
        start, end, text, label, share = data
        return cls(int(start), int(end), str(text), str(label), float(share))


class Lexicon:
    def __init__(self, entries: dict[Words, tuple[str, float]]) -> None:
        self.entries = entries  # words -> (majority label, share of occurrences labelled so)

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def from_pool(cls, pool: Iterable[LabelledSentence], min_share: float = MIN_SHARE) -> Lexicon:
        """The entries of a pool (as the schema labels it: Schema.restrict). A span whose ends are not
        token ends, or longer than MAX_WORDS tokens, makes no entry."""
        pool = list(pool)
        labelled: dict[Words, Counter] = defaultdict(Counter)
        for sent in pool:
            starts = {s: i for i, (s, _) in enumerate(sent.tokens)}
            ends = {e: i + 1 for i, (_, e) in enumerate(sent.tokens)}
            for span in sent.spans:
                a, b = starts.get(span.start), ends.get(span.end)
                if a is not None and b is not None and 0 < b - a <= MAX_WORDS:
                    labelled[_words(sent.text, sent.tokens[a:b], 0)][span.label] += 1
        seen: Counter = Counter()  # occurrences of each labelled word sequence, labelled or not
        firsts = {key[0] for key in labelled}
        for sent in pool:
            words = _words(sent.text, sent.tokens, 0)
            for a, first in enumerate(words):
                if first in firsts:  # most words begin no name: skip their windows
                    for b in range(a + 1, min(len(words), a + MAX_WORDS) + 1):
                        if words[a:b] in labelled:
                            seen[words[a:b]] += 1
        entries = {}
        for key, labels in labelled.items():
            label, count = min(labels.items(), key=lambda item: (-item[1], item[0]))  # ties: alphabetical
            if sum(labels.values()) >= min_share * seen[key]:
                entries[key] = (label, count / max(seen[key], 1))
        return cls(entries)

    def matches(self, text: str, tokens: Sequence[tuple[int, int]], base: int = 0) -> list[LexiconMatch]:
        """Every entry in the sentence `text` (its tokens in document offsets, `base` its own offset),
        longest first, then left to right: the order in which decide accepts them."""
        found = []
        for a, b in sorted(_windows(len(tokens)), key=lambda w: (w[0] - w[1], w[0])):
            entry = self.entries.get(_words(text, tokens[a:b], base))
            if entry is not None:
                start, end = tokens[a][0], tokens[b - 1][1]
                found.append(LexiconMatch(start, end, text[start - base : end - base], *entry))
        return found


def _words(text: str, tokens: Sequence[tuple[int, int]], base: int) -> Words:
    return tuple(text[s - base : e - base] for s, e in tokens)


def _windows(n: int) -> list[tuple[int, int]]:
    """Token ranges [a, b) of 1 to MAX_WORDS tokens."""
    return [(a, b) for a in range(n) for b in range(a + 1, min(n, a + MAX_WORDS) + 1)]
