"""The annotation state of one input text, in memory and without files: its sentences, the models'
suggestions merged into them, the person's decisions (accept, reject, relabel, add, resize, accept
the sentence, undo), the cursor, the counts and which spans are uncertain.

Every change is told to a `Listener`; annotation_store.AnnotationStore is the one that writes it
to disk. One class over ~400 lines because every decision needs the cursor, the undo stack and the
merge of suggestions together.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..documents import LabelledSentence, Span, make_document
from ..pipeline.records import Candidate, SentenceRecord

TODO, PARTIAL, ACCEPTED = "todo", "in progress", "accepted"
STATUSES = (TODO, PARTIAL, ACCEPTED)
UNCERTAIN_BELOW = 0.7  # an accepted suggestion less confident than this is "uncertain"


@dataclass
class SpanState:
    """One span shown in a sentence: a model candidate or a span the person added (document offsets)."""

    start: int
    end: int
    label: str | None
    verdict: str | None = None  # "accepted" | "rejected" | None (undecided: the model's decision stands)
    origin: str = "model"  # "model" | "person"
    model_span: tuple[int, int] | None = None  # the candidate this span came from (its votes)
    candidate: Candidate | None = field(default=None, compare=False, repr=False)

    @property
    def suggested(self) -> bool:
        """What the ensemble decided (False for a span the person added)."""
        return bool(
            self.candidate is not None
            and self.candidate.accepted
            and (self.start, self.end) == (self.candidate.start, self.candidate.end)
        )

    @property
    def is_entity(self) -> bool:
        """The span counts as an entity: accepted by the person, or undecided and suggested."""
        return self.verdict == "accepted" or (self.verdict is None and self.suggested)

    @property
    def changed(self) -> bool:
        return self.model_span is not None and (self.start, self.end) != self.model_span


@dataclass
class SentenceState:
    index: int
    start: int  # document offsets
    end: int
    text: str  # the sentence's own text
    tokens: list[tuple[int, int]]  # document offsets
    spans: list[SpanState] = field(default_factory=list)
    status: str = TODO
    record: SentenceRecord | None = None  # the models' suggestions, once computed
    record_models: tuple[str, ...] = ()  # which models made `record`

    def entities(self) -> list[SpanState]:
        """The spans the person accepted (accepting a sentence accepts its suggestions explicitly, so
        suggestions that arrive later never change an accepted sentence)."""
        return [s for s in self.spans if s.verdict == "accepted"]

    def labelled(self, source: str = "") -> LabelledSentence:
        """The sentence as gold data (offsets into its own text), for the demonstration index and exports."""
        base = self.start
        spans = sorted({Span(s.start - base, s.end - base, s.label) for s in self.entities() if s.label})
        return LabelledSentence(
            text=self.text, tokens=[(a - base, b - base) for a, b in self.tokens], spans=spans, source=source
        )

    def sort(self) -> None:
        self.spans.sort(key=lambda s: (s.start, s.end, s.origin))


@dataclass
class _Undo:
    sentence: int
    spans: list[SpanState]
    status: str
    cursor: int
    focus: int | None
    what: str


def _snapshot_spans(spans: list[SpanState]) -> list[SpanState]:
    return [SpanState(s.start, s.end, s.label, s.verdict, s.origin, s.model_span, s.candidate) for s in spans]


class Listener:
    """What the state tells whoever keeps it (annotation_store.AnnotationStore); these do nothing."""

    def decided(self) -> None:
        """A decision changed (or was undone)."""

    def moved(self) -> None:
        """The cursor or the focus moved."""

    def suggested(self, sent: SentenceState) -> None:
        """The models' record of `sent` arrived."""


class AnnotationState:
    """Everything the annotator knows about one input text; every change is told to `listener`."""

    def __init__(self, text: str, source_name: str = "", listener: Listener | None = None):
        self.text = text
        self.source_name = source_name  # the input's name, in the sources of labelled sentences
        self.sentences = [
            SentenceState(i, s.start, s.end, s.text_of(text), list(s.tokens))
            for i, s in enumerate(make_document(text, source_name).sentences)
        ]
        self.labels: list[str] = []
        self.cursor = 0
        self.focus: int | None = None
        self.undo_stack: list[_Undo] = []
        self.listener = listener or Listener()

    # -- suggestions --------------------------------------------------------------------------

    def set_labels(self, labels) -> None:
        """The schema's labels (number keys 1..9 follow this order); labels already used stay."""
        merged = list(dict.fromkeys(list(labels) + self.labels))
        self.labels = merged

    def set_suggestions(self, index: int, record: SentenceRecord, models=()) -> None:
        """Attach the models' record of sentence `index`."""
        sent = self.sentences[index]
        self.attach(sent, record, tuple(models))
        if index == self.cursor and self.focus is None and sent.spans:
            self.focus = 0
        self.listener.suggested(sent)

    def attach(self, sent: SentenceState, record: SentenceRecord, models: tuple[str, ...]) -> None:
        """Merge `record` into the spans of `sent`, keeping every decision and the focused span."""
        focused = self.focused() if sent.index == self.cursor else None
        sent.record = record
        sent.record_models = models or tuple(record.raw.get("extraction", {}))
        by_key = {(c.start, c.end): c for c in record.candidates}
        # undecided candidates of an earlier record that this one no longer has go
        sent.spans = [s for s in sent.spans if s.origin == "person" or s.verdict is not None or s.model_span in by_key]
        linked = set()
        for span in sent.spans:
            span.candidate = by_key.get(span.model_span) if span.model_span else None
            if span.candidate is not None:
                linked.add(span.model_span)
                if span.verdict is None:  # undecided: the new record's decision stands
                    span.label = span.candidate.label
        # a candidate that the person already decided on exists once; the others come in undecided
        for key, cand in by_key.items():
            if key in linked:
                continue
            same = next((s for s in sent.spans if (s.start, s.end) == key and s.model_span is None), None)
            if same is not None:  # the person added this very span before the models named it
                same.model_span, same.candidate = key, cand
                continue
            sent.spans.append(SpanState(cand.start, cand.end, cand.label, None, "model", key, cand))
        sent.sort()
        if focused is not None:
            self.focus = self._index_of(sent, focused)
            if self.focus is None and sent.spans:
                self.focus = 0

    def model_names(self, sent: SentenceState | None = None) -> list[str]:
        sent = sent or self.current
        names = list(sent.record_models)
        if sent.record is not None:
            for cand in sent.record.candidates:
                for name in [*cand.extracted_by, *cand.type_probs, *cand.verification]:
                    if name not in names:
                        names.append(name)
        return names

    def needs_suggestions(self, index: int, models: tuple[str, ...] = ()) -> bool:
        sent = self.sentences[index]
        if sent.record is None:
            return True
        return bool(models) and set(sent.record_models) != set(models) and sent.status != ACCEPTED

    # -- cursor -------------------------------------------------------------------------------

    @property
    def current(self) -> SentenceState:
        return self.sentences[self.cursor]

    def focused(self) -> SpanState | None:
        spans = self.current.spans
        if self.focus is None or not 0 <= self.focus < len(spans):
            return None
        return spans[self.focus]

    @staticmethod
    def _index_of(sent: SentenceState, span: SpanState) -> int | None:
        for i, s in enumerate(sent.spans):
            if s is span:
                return i
        return None

    def resume_at(self, cursor: object, focus: object) -> None:
        """The position saved by an earlier session, when it still fits the text; else the first
        sentence not accepted yet. Tells no one: nothing changed."""
        if isinstance(cursor, int) and 0 <= cursor < len(self.sentences):
            self.cursor = cursor
            spans = self.sentences[cursor].spans
            self.focus = focus if isinstance(focus, int) and 0 <= focus < len(spans) else None
        else:
            self.cursor = next((s.index for s in self.sentences if s.status != ACCEPTED), 0)
            self.focus = None
        if self.focus is None and self.current.spans:
            self.focus = 0

    def goto(self, index: int, focus: int | None = 0) -> None:
        self.cursor = max(0, min(index, len(self.sentences) - 1))
        spans = self.current.spans
        if focus is not None and spans:
            self.focus = max(0, min(focus, len(spans) - 1))
        else:
            self.focus = None
        self.listener.moved()

    def next_sentence(self) -> str:
        if self.cursor + 1 >= len(self.sentences):
            return "this is the last sentence"
        self.goto(self.cursor + 1)
        return ""

    def prev_sentence(self) -> str:
        if self.cursor == 0:
            return "this is the first sentence"
        self.goto(self.cursor - 1)
        return ""

    def focus_span(self, index: int | None) -> None:
        spans = self.current.spans
        self.focus = None if index is None or not spans else max(0, min(index, len(spans) - 1))
        self.listener.moved()

    def next_span(self) -> str:
        spans = self.current.spans
        if not spans:
            return "no spans in this sentence"
        self.focus_span(0 if self.focus is None else min(self.focus + 1, len(spans) - 1))
        return ""

    def prev_span(self) -> str:
        spans = self.current.spans
        if not spans:
            return "no spans in this sentence"
        self.focus_span(len(spans) - 1 if self.focus is None else max(self.focus - 1, 0))
        return ""

    def is_uncertain(self, span: SpanState, sent: SentenceState | None = None) -> bool:
        """Undecided, and the ensemble was unsure: accepted with confidence under UNCERTAIN_BELOW, or
        rejected although at least half of the models extracted it."""
        if span.verdict is not None or span.candidate is None:
            return False
        cand = span.candidate
        if cand.accepted:
            return cand.confidence < UNCERTAIN_BELOW
        n = len(self.model_names(sent or self.current)) or 1
        return len(cand.extracted_by) * 2 >= n

    def next_uncertain(self) -> str:
        """Go to the next sentence (after the cursor, wrapping) that is not accepted and has an
        uncertain span; focus that span."""
        n = len(self.sentences)
        for step in range(1, n + 1):
            sent = self.sentences[(self.cursor + step) % n]
            if sent.status == ACCEPTED or sent.record is None:
                continue
            for i, span in enumerate(sent.spans):
                if self.is_uncertain(span, sent):
                    self.goto(sent.index, i)
                    return ""
        pending = sum(1 for s in self.sentences if s.record is None)
        return "no uncertain span left" + (f" ({pending} sentences still without suggestions)" if pending else "")

    # -- decisions ----------------------------------------------------------------------------

    def _push_undo(self, what: str, sent: SentenceState | None = None) -> None:
        sent = sent or self.current
        self.undo_stack.append(
            _Undo(sent.index, _snapshot_spans(sent.spans), sent.status, self.cursor, self.focus, what)
        )

    def _changed(self, sent: SentenceState | None = None, focus_on: SpanState | None = None) -> None:
        sent = sent or self.current
        if sent.status == TODO:
            sent.status = PARTIAL
        sent.sort()
        if focus_on is not None:
            self.focus = self._index_of(sent, focus_on)
        self.listener.decided()

    def best_label(self, span: SpanState) -> str | None:
        """The label a span gets when accepted without one: the models' most probable schema label."""
        if span.label:
            return span.label
        cand = span.candidate
        if cand is not None:
            scores: dict[str, float] = {}
            for probs in cand.type_probs.values():
                for label, p in probs.items():
                    if label in self.labels:
                        scores[label] = scores.get(label, 0.0) + p
            for label in cand.extracted_types.values():
                if label in self.labels:
                    scores[label] = scores.get(label, 0.0) + 1.0
            if scores:
                return min(scores, key=lambda k: (-scores[k], self.labels.index(k)))
        return self.labels[0] if self.labels else None

    def accept(self) -> str:
        span = self.focused()
        if span is None:
            return "no span is focused"
        label = self.best_label(span)
        if label is None:
            return "no entity types known yet (the models are still loading)"
        self._push_undo(f"accept '{self.span_text(span)}'")
        span.label, span.verdict = label, "accepted"
        self._changed(focus_on=span)
        return ""

    def reject(self) -> str:
        span = self.focused()
        if span is None:
            return "no span is focused"
        self._push_undo(f"reject '{self.span_text(span)}'")
        span.verdict = "rejected"
        self._changed(focus_on=span)
        return ""

    def relabel(self, label: str) -> str:
        """Give the focused span this label (and accept it)."""
        span = self.focused()
        if span is None:
            return "no span is focused"
        self._push_undo(f"label '{self.span_text(span)}' {label}")
        span.label, span.verdict = label, "accepted"
        if label not in self.labels:
            self.labels.append(label)
        self._changed(focus_on=span)
        return ""

    def add_span(self, start: int, end: int, label: str | None = None) -> str:
        """Add (and accept) a span over document offsets [start, end) of the current sentence."""
        sent = self.current
        if not (sent.start <= start < end <= sent.end) or not self.text[start:end].strip():
            return "the selection is empty or outside the sentence"
        label = label or (self.labels[0] if self.labels else None)
        if label is None:
            return "no entity types known yet (the models are still loading)"
        existing = next((s for s in sent.spans if (s.start, s.end) == (start, end)), None)
        self._push_undo(f"add '{self.text[start:end]}'")
        if existing is not None:
            existing.label, existing.verdict = label, "accepted"
            span = existing
        else:
            span = SpanState(start, end, label, "accepted", "person")
            sent.spans.append(span)
        self._changed(focus_on=span)
        return ""

    def _covered(self, span: SpanState) -> list[int]:
        return [i for i, (s, e) in enumerate(self.current.tokens) if s >= span.start and e <= span.end]

    def resize(self, side: str, grow: bool) -> str:
        """Widen or shrink the focused span by one token on `side` ("left" or "right")."""
        span = self.focused()
        if span is None:
            return "no span is focused"
        tokens = self.current.tokens
        inside = self._covered(span)
        start, end = span.start, span.end
        if side == "right":
            if grow:
                nxt = next((t for t in tokens if t[0] >= span.end), None)
                if nxt is None:
                    return "the span already ends the sentence"
                end = nxt[1]
            else:
                if len(inside) < 2:
                    return "the span is one token: reject it instead"
                end = tokens[inside[-2]][1]
        else:
            if grow:
                prev = next((t for t in reversed(tokens) if t[1] <= span.start), None)
                if prev is None:
                    return "the span already starts the sentence"
                start = prev[0]
            else:
                if len(inside) < 2:
                    return "the span is one token: reject it instead"
                start = tokens[inside[1]][0]
        self._push_undo(f"{'widen' if grow else 'shrink'} '{self.span_text(span)}'")
        span.start, span.end = start, end
        span.label = self.best_label(span)
        span.verdict = "accepted"
        self._changed(focus_on=span)
        return ""

    def accept_sentence(self) -> str:
        """Every undecided span takes the ensemble's decision; the sentence is done."""
        sent = self.current
        self._push_undo("accept the sentence")
        for span in sent.spans:
            if span.verdict is None:
                span.verdict = "accepted" if span.suggested else "rejected"
        sent.status = ACCEPTED
        self._changed(sent)
        return ""

    def undo(self) -> str:
        if not self.undo_stack:
            return "nothing to undo"
        entry = self.undo_stack.pop()
        sent = self.sentences[entry.sentence]
        sent.spans = entry.spans
        sent.status = entry.status
        self.cursor, self.focus = entry.cursor, entry.focus
        if sent.record is not None:  # suggestions that came after the snapshot stay
            focused = self.focused() if entry.sentence == self.cursor else None
            self.attach(sent, sent.record, sent.record_models)
            if focused is not None:
                self.focus = self._index_of(sent, focused)
        sent.sort()
        self.listener.decided()
        return f"undone: {entry.what}"

    def span_text(self, span: SpanState) -> str:
        return self.text[span.start : span.end]

    # -- summary ------------------------------------------------------------------------------

    def accepted_sentences(self) -> list[SentenceState]:
        return [s for s in self.sentences if s.status == ACCEPTED]

    def labelled_sentence(self, index: int) -> LabelledSentence:
        return self.sentences[index].labelled(f"{self.source_name}: sentence {index + 1}")

    def counts(self) -> dict[str, int]:
        out = {status: 0 for status in STATUSES}
        for sent in self.sentences:
            out[sent.status] += 1
        out["suggested"] = sum(1 for s in self.sentences if s.record is not None)
        return out
