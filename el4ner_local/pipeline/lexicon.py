"""What the user's pool knows about words (issue 14's recall and precision steps).

Names: every entity string the labelled pool labels at least MIN_SHARE of the times its words occur there is
an entry, with its majority label. After the vote, each match of an entry in a sentence that overlaps no
accepted span is accepted with the pool's label (votes.decide); its raw confidence is the share of the
pool's occurrences labelled so. On 458 dev sentences of four corpora it added 2.2 points of pooled F1 and
never lowered precision; it adds nothing where the pool has never seen the names (WNUT-17's are new by
design), and the share hardly matters between 0.3 and 0.9 (docs/recall.md).

Words the pool leaves unlabelled: a span the models name whose words occur at least MIN_SEEN times in the
pool, labelled at most MAX_LABELLED_SHARE of those times, is no entity by the pool's own conventions
("patients", "mutations" to a disease corpus) and is rejected. On 620 dev sentences (2 votes, the names
on) it raised pooled F1 from 56.5 to 58.2, and NCBI-disease's from 39.8 to 52.2 (docs/recall.md).

Whether each is on is a vote setting that `index tune` chooses per pool.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ..documents import LabelledSentence

MAX_WORDS = 6  # the longest entry, in tokens: longer names are rare and each costs a lookup per position
MIN_SHARE = 0.5  # an entry is kept when the pool labels at least this share of its occurrences
MIN_SEEN = 2  # words the pool has seen fewer times say nothing about its conventions
MAX_LABELLED_SHARE = 0.1  # ... and labels at most this share of those times are no entity (0 to 0.2: the same F1)
NOT_A_NAME = "none"  # the label of a match whose words the pool leaves unlabelled (votes.NONE)

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
    def __init__(
        self,
        entries: dict[Words, tuple[str, float]],
        sentences: Sequence[Words] = (),
        labelled: dict[Words, int] | None = None,
    ) -> None:
        self.entries = entries  # words -> (majority label, share of occurrences labelled so)
        self._sentences = list(sentences)  # the pool's sentences as words, to count any word sequence
        self._labelled = labelled or {}  # words -> the times the pool labels them (any label)
        self._at: dict[str, list[tuple[int, int]]] = defaultdict(list)  # word -> (sentence, position)s
        for i, words in enumerate(self._sentences):
            for j, word in enumerate(words):
                self._at[word].append((i, j))

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def from_pool(
        cls,
        pool: Iterable[LabelledSentence],
        restrict: Callable[[LabelledSentence], LabelledSentence] | None = None,
        min_share: float = MIN_SHARE,
    ) -> Lexicon:
        """The entries of a pool, as `restrict` (Schema.restrict) labels it; what the pool leaves unlabelled is
        judged on its own labels, so a name of a type outside the schema is not taken for a plain word. A
        span whose ends are not token ends, or longer than MAX_WORDS tokens, makes no entry."""
        pool = list(pool)
        labels: dict[Words, Counter] = defaultdict(Counter)  # as the schema labels them
        labelled: Counter = Counter()  # as the pool does, any label
        for sent in pool:
            for key, _ in _labelled_words(sent):
                labelled[key] += 1
            for key, label in _labelled_words(restrict(sent) if restrict else sent):
                labels[key][label] += 1
        lexicon = cls({}, [_words(s.text, s.tokens, 0) for s in pool], dict(labelled))
        for key, counts in labels.items():
            seen = lexicon.occurrences(key)
            label, count = min(counts.items(), key=lambda item: (-item[1], item[0]))  # ties: alphabetical
            if sum(counts.values()) >= min_share * seen:
                lexicon.entries[key] = (label, count / max(seen, 1))
        return lexicon

    def occurrences(self, key: Words) -> int:
        """How often the pool's sentences hold these words, in a row, labelled or not."""
        n = len(key)
        return sum(1 for i, j in self._at.get(key[0], ()) if self._sentences[i][j : j + n] == key)

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

    def unlabelled(
        self, text: str, tokens: Sequence[tuple[int, int]], spans: Iterable[tuple[int, int]], base: int = 0
    ) -> list[LexiconMatch]:
        """Of `spans` (document offsets, on token ends), those whose words the pool holds at least MIN_SEEN
        times and labels at most MAX_LABELLED_SHARE of them: matches labelled NOT_A_NAME, their share the
        share of those times left unlabelled."""
        found = []
        for start, end in spans:
            inside = [t for t in tokens if start <= t[0] and t[1] <= end]
            if not inside or inside[0][0] != start or inside[-1][1] != end or len(inside) > MAX_WORDS:
                continue
            key = _words(text, inside, base)
            seen = self.occurrences(key)
            labelled = self._labelled.get(key, 0)
            if seen >= MIN_SEEN and labelled <= MAX_LABELLED_SHARE * seen:
                found.append(LexiconMatch(start, end, text[start - base : end - base], NOT_A_NAME, 1 - labelled / seen))
        return found


def _labelled_words(sent: LabelledSentence) -> list[tuple[Words, str]]:
    """The words of each span of the sentence on token ends, up to MAX_WORDS tokens, with its label."""
    starts = {s: i for i, (s, _) in enumerate(sent.tokens)}
    ends = {e: i + 1 for i, (_, e) in enumerate(sent.tokens)}
    out = []
    for span in sent.spans:
        a, b = starts.get(span.start), ends.get(span.end)
        if a is not None and b is not None and 0 < b - a <= MAX_WORDS:
            out.append((_words(sent.text, sent.tokens[a:b], 0), span.label))
    return out


def _words(text: str, tokens: Sequence[tuple[int, int]], base: int) -> Words:
    return tuple(text[s - base : e - base] for s, e in tokens)


def _windows(n: int) -> list[tuple[int, int]]:
    """Token ranges [a, b) of 1 to MAX_WORDS tokens."""
    return [(a, b) for a in range(n) for b in range(a + 1, min(n, a + MAX_WORDS) + 1)]
