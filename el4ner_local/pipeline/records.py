"""The evidence behind every decision: who extracted a span, each model's type, each verifier's
answer. `tag` prints these records, the annotator shows them, the evaluation rescores them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Candidate:
    start: int  # document offsets
    end: int
    text: str
    extracted_by: list[str] = field(default_factory=list)  # models whose extraction named this span
    extracted_types: dict[str, str] = field(default_factory=dict)  # model -> type it wrote (schema label or "")
    zero_shot_only: list[str] = field(default_factory=list)  # models that named it only in stage 1 (zero-shot)
    type_probs: dict[str, dict[str, float]] = field(default_factory=dict)  # model -> label (or "none") -> prob
    label: str | None = None  # the classification vote's result
    verification: dict[str, float] = field(default_factory=dict)  # verifier -> P(yes) for (span, label)
    confidence: float = 0.0
    accepted: bool = False
    reason: str = ""  # why rejected ("" when accepted)
    lexicon: str = ""  # the pool's label for these words, when they are a name the pool knows (lexicon.py)

    def type_votes(self) -> dict[str, str]:
        """Each model's own choice: the most probable label, or "none"."""
        return {m: max(p, key=p.__getitem__) for m, p in self.type_probs.items() if p}

    def to_json(self) -> dict:
        data = asdict(self)
        data["type_votes"] = self.type_votes()
        data["type_probs"] = {m: {k: round(v, 4) for k, v in p.items()} for m, p in self.type_probs.items()}
        data["verification"] = {m: round(v, 4) for m, v in self.verification.items()}
        data["confidence"] = round(self.confidence, 4)
        return data

    @classmethod
    def from_json(cls, data: dict) -> Candidate:
        data = {k: v for k, v in data.items() if k != "type_votes"}
        return cls(**data)


@dataclass
class SentenceRecord:
    """One sentence (or window) of a document and everything the models said about it."""

    start: int
    end: int
    window: bool = False
    demonstrations: list[str] = field(default_factory=list)  # texts of the retrieved pool sentences
    stage1_spans: list[str] = field(default_factory=list)  # zero-shot candidate spans (union), for retrieval
    raw: dict[str, dict[str, str]] = field(default_factory=dict)  # stage -> model -> raw answer text
    candidates: list[Candidate] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "start": self.start,
            "end": self.end,
            "window": self.window,
            "demonstrations": self.demonstrations,
            "stage1_spans": self.stage1_spans,
            "raw": self.raw,
            "candidates": [c.to_json() for c in self.candidates],
        }

    @classmethod
    def from_json(cls, data: dict) -> SentenceRecord:
        return cls(**{**data, "candidates": [Candidate.from_json(c) for c in data["candidates"]]})


@dataclass(frozen=True)
class Entity:
    start: int
    end: int
    text: str
    label: str
    confidence: float

    def to_json(self) -> dict:
        return {
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "label": self.label,
            "confidence": round(self.confidence, 4),
        }


@dataclass
class TaggedDocument:
    text: str
    sentences: list[SentenceRecord]
    name: str = ""

    @property
    def entities(self) -> list[Entity]:
        found = []
        for s in self.sentences:
            for c in s.candidates:
                if c.accepted:
                    assert c.label is not None  # votes.decide accepts only labelled candidates
                    found.append(Entity(c.start, c.end, c.text, c.label, c.confidence))
        return sorted(found, key=lambda e: (e.start, e.end))

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "text": self.text,
            "entities": [e.to_json() for e in self.entities],
            "split": {"sentences": len(self.sentences), "windows": sum(s.window for s in self.sentences)},
            "sentences": [s.to_json() for s in self.sentences],
        }
