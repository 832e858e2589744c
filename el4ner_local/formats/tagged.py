"""What every output format is written from: a text with its spans (offsets into that text), where it
comes from, and, for the tagger's suggestions, each span's confidence and votes.

`tag` makes one per block of an input (tagging/writers.py), `annotate --export` one per accepted
sentence, so each format module has a single writer for both."""

from __future__ import annotations

from dataclasses import dataclass, field

from el4ner_local.documents import LabelledSentence, Span, tokenize
from el4ner_local.formats.tokens import Token


@dataclass(frozen=True)
class OutSpan:
    start: int
    end: int
    label: str
    confidence: float | None = None  # the tagger's; None for gold spans
    votes: dict | None = None  # the evidence behind a suggestion (extracted_by, type_votes, verification)

    @property
    def span(self) -> Span:
        return Span(self.start, self.end, self.label)


@dataclass
class OutText:
    text: str
    spans: list[OutSpan]
    meta: dict = field(default_factory=dict)  # where it comes from: tag {"name", "start"}; export {"source", ...}
    tokens: list[Token] | None = None  # token-based formats' tokens; None: el4ner-local's (documents.tokenize)
    predicted: bool = False  # True: the tagger's suggestions; False: gold (accepted) spans

    def token_offsets(self) -> list[Token]:
        return self.tokens if self.tokens is not None else tokenize(self.text)

    @classmethod
    def of_labelled(cls, sentence: LabelledSentence, meta: dict | None = None) -> OutText:
        return cls(
            sentence.text,
            [OutSpan(s.start, s.end, s.label) for s in sentence.spans],
            dict(meta or {}),
            tokens=list(sentence.tokens),
        )
