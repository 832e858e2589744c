"""Part-of-speech weights for SpanSim, from a heuristic that needs no tagger and no download.

EL4NER weights each input span by its part of speech: proper nouns highest, common nouns next,
pronouns low, other words about zero. A token is classed by its shape and a few closed word lists
(spaCy's tagger, measured in docs/retrieval.md, picked no better demonstrations and took 40 to 100
times as long):

- an @mention, a #hashtag, an ALL-CAPS word (2+ letters) or a capitalised word that is not the
  first word of the sentence -> proper noun;
- a word in the pronoun list -> pronoun;
- a stopword (determiners, prepositions, auxiliaries, ...), a number or punctuation -> other;
- anything else (including a capitalised sentence-initial word, which may be either) -> common noun.

A span weighs as much as its heaviest token (a span "the Eiffel Tower" is a proper-noun span).
The weights are settings, stored in the index manifest; `uniform` gives every span weight 1
(the ablation).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from ..errors import UserError

SCHEMES = ("heuristic", "uniform")

_WORD_RE = re.compile(r"[@#]?\w+(?:[-'’.]\w+)*|[^\w\s]", re.UNICODE)

PRONOUNS = frozenset(
    """
i me my mine myself you your yours yourself yourselves he him his himself she her hers herself
it its itself we us our ours ourselves they them their theirs themselves this that these those
who whom whose which what whoever whatever someone somebody something anyone anybody anything
everyone everybody everything nobody nothing one ones u ur ya y'all
""".split()
)

STOPWORDS = frozenset(
    """
a an the and or but nor so yet if then else than as of at by for from in into on onto out over
under up down off to with without within about above below after before between through during
against among around near via per is am are was were be been being have has had having do does
did doing will would shall should can could may might must not no yes very too also just only
here there when where why how all any both each few more most other some such own same again
further once ever never always s t ll re ve d m 's 'm 're 've 'd 'll n't rt lol via amp gt lt
""".split()
)


@dataclass(frozen=True)
class PosWeights:
    """Weight per word class; `scheme="uniform"` ignores the classes and weighs every span 1."""

    scheme: str = "heuristic"
    proper: float = 1.0
    common: float = 0.5
    pronoun: float = 0.1
    other: float = 0.02

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise UserError(f"unknown POS weight scheme {self.scheme!r}", fix=f"use one of: {', '.join(SCHEMES)}")
        for name in ("proper", "common", "pronoun", "other"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise UserError(f"POS weight {name}={value!r} must be a number >= 0", fix=f"set {name} to e.g. 0.5")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PosWeights:
        known = {"scheme", "proper", "common", "pronoun", "other"}
        if not isinstance(data, dict) or set(data) - known:
            raise UserError(f"invalid POS weight settings {data!r}", fix=f"use the keys {sorted(known)}")
        return cls(**data)

    @classmethod
    def uniform(cls) -> PosWeights:
        return cls(scheme="uniform")

    def span_weight(self, span_text: str, sentence_initial: bool = False) -> float:
        """Weight of one span: the weight of its heaviest token's class."""
        if self.scheme == "uniform":
            return 1.0
        classes = span_classes(span_text, sentence_initial)
        if not classes:
            return self.other
        return max(getattr(self, c) for c in classes)

    def weights(self, spans: list[str], sentence_text: str = "") -> list[float]:
        """Weights of candidate spans of `sentence_text` (used only to tell sentence-initial words)."""
        head = sentence_text.lstrip()
        return [self.span_weight(s, bool(s.strip()) and head.startswith(s.strip())) for s in spans]


def word_class(word: str, sentence_initial: bool = False) -> str:
    """'proper', 'common', 'pronoun' or 'other' for one token."""
    if word[:1] in "@#" and len(word) > 1:
        return "proper"
    letters = [ch for ch in word if ch.isalpha()]
    if not letters:
        return "other"  # numbers, punctuation, emoji
    lower = word.lower()
    if lower in PRONOUNS:
        return "pronoun"
    if lower in STOPWORDS:
        return "other"
    if len(letters) >= 2 and all(ch.isupper() for ch in letters):
        return "proper"
    if word[0].isupper() and not sentence_initial:
        return "proper"
    return "common"


def span_classes(span_text: str, sentence_initial: bool = False) -> list[str]:
    words = _WORD_RE.findall(span_text)
    return [word_class(w, sentence_initial and i == 0) for i, w in enumerate(words)]
