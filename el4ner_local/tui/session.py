"""The annotation state of one input file, without any user interface: sentences, the models'
suggestions, the person's decisions, the cursor, undo, and persistence.

Files (all beside the annotations file, `--out`, by default `NAME.annotations.jsonl` beside the input):

    NAME.annotations.jsonl      one line per sentence the person touched, in sentence order:
                                {"text", "entities": [{"start","end","label","text"}], "sentence_index",
                                 "start", "end", "status", "spans": [...every decision...], "source"}
                                Offsets in "entities"/"spans" index "text" (the sentence), so
                                `formats.read_labelled` reads the file; "start" is the sentence's offset in
                                the input. Keep only lines with "status": "accepted" for gold data
                                (`export_jsonl` / `export_conll` do that). Rewritten atomically on every
                                decision (write a temporary file, fsync, rename): a crash or a full disk
                                leaves the previous complete version.
    NAME.annotations.session/   state.json (the cursor, the input's sha256), suggestions.jsonl (every
                                model record computed, appended, so a restart does not recompute them) and,
                                when the session keeps its own demonstration index, index/.
    .NAME.annotations.jsonl.lock  while a session (or an export) uses the annotations file: its lock,
                                with the holder's PID, so a second session on the file is refused
                                (`lock_annotations`); removed when the session ends.

A save that fails (full disk, read-only path) never loses a decision: the state stays in memory,
`save_error` says why, and the next change, `save()` or `relocate()` writes everything.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..documents import LabelledSentence, Span, make_document
from ..durable import atomic_write
from ..private_files import mode_beside, open_private, private_dir
from ..errors import UserError
from ..file_lock import FileLock
from ..pipeline.records import Candidate, SentenceRecord

TODO, PARTIAL, ACCEPTED = "todo", "in progress", "accepted"
STATUSES = (TODO, PARTIAL, ACCEPTED)
FORMAT_VERSION = 1
UNCERTAIN_BELOW = 0.7  # an accepted suggestion less confident than this is "uncertain"


# ---------------------------------------------------------------------------------------------
# State


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
        return bool(self.candidate is not None and self.candidate.accepted
                    and (self.start, self.end) == (self.candidate.start, self.candidate.end))

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
        return LabelledSentence(text=self.text, tokens=[(a - base, b - base) for a, b in self.tokens],
                                spans=spans, source=source)

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


# ---------------------------------------------------------------------------------------------
# Files


def default_out_path(input_path: Path) -> Path:
    return input_path.with_name(input_path.stem + ".annotations.jsonl")


def state_dir_for(out_path: Path) -> Path:
    name = out_path.name[: -len(".jsonl")] if out_path.name.endswith(".jsonl") else out_path.name
    return out_path.with_name(name + ".session")


def lock_annotations(out_path: Path, *, writer: bool,
                     fix: str = "quit that session first, or give --out another annotations file") -> FileLock:
    """Hold the annotations file `out_path` for this process (one session at a time on it): the
    lock file `.NAME.lock` beside it (el4ner_local/file_lock.py). UserError, one line naming the
    holder's PID and command line, when another session holds it. A `writer` makes the folder first."""
    if writer:
        try:
            private_dir(Path(out_path).parent)  # as save() would
        except OSError:
            pass  # the session says so itself when it cannot write there
    return FileLock(out_path, busy="open in another annotate session", fix=fix).acquire()


def _append_durable(path: Path, data: bytes) -> None:
    with open_private(path, "ab") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _why(exc: OSError) -> str:
    return exc.strerror or exc.__class__.__name__


# ---------------------------------------------------------------------------------------------


class Session:
    """Everything the annotator knows about one input file; every change is saved at once."""

    def __init__(self, input_path: Path, out_path: Path, text: str):
        self.input_path = Path(input_path)
        self.out_path = Path(out_path)
        self.text = text
        self.input_sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
        doc = make_document(text, str(input_path))
        self.sentences = [SentenceState(i, s.start, s.end, s.text_of(text), list(s.tokens))
                          for i, s in enumerate(doc.sentences)]
        self.labels: list[str] = []
        self.cursor = 0
        self.focus: int | None = None
        self.undo_stack: list[_Undo] = []
        self.save_error: str | None = None  # why the last save failed; None when all is on disk
        self.unsaved = False
        self.suggestions_error: str | None = None
        self.lock: FileLock | None = None  # the annotations file's lock, when the session holds one

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def open(cls, input_path: str | Path, out_path: str | Path | None = None) -> "Session":
        """Read the input and any earlier annotations of it; UserError (one line) when unreadable."""
        from ..formats import read_text

        input_path = Path(input_path)
        text = read_text(input_path)
        out = Path(out_path) if out_path else default_out_path(input_path)
        if out.exists() and out.is_dir():
            raise UserError(f"{out}: is a directory, not an annotations file", fix="give --out a file name")
        if out.resolve() == input_path.resolve():
            raise UserError(f"{out}: the annotations file would overwrite the input", fix="give --out another name")
        session = cls(input_path, out, text)
        if not session.sentences:
            raise UserError(f"{input_path}:1: no sentences to annotate", fix="give a file that holds text")
        session._load_annotations()
        session._load_suggestions()
        session._load_state()
        return session

    @property
    def state_dir(self) -> Path:
        return state_dir_for(self.out_path)

    @property
    def state_path(self) -> Path:
        return self.state_dir / "state.json"

    @property
    def suggestions_path(self) -> Path:
        return self.state_dir / "suggestions.jsonl"

    @property
    def source_name(self) -> str:
        return self.input_path.name

    def _load_annotations(self) -> None:
        path = self.out_path
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise UserError(f"{path}: cannot read the annotations ({_why(exc)})", fix="check its permissions or give another --out")
        fix = f"move {path.name} away to start afresh, or give another --out"
        try:
            content = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise UserError(f"{path}: not UTF-8 text, so not an annotations file of el4ner-local", fix=fix) from None
        for number, line in enumerate(content.split("\n"), 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                obj = json.loads(line)
                i = obj["sentence_index"]
                sent = self.sentences[i] if isinstance(i, int) and 0 <= i < len(self.sentences) else None
                if sent is None:
                    raise UserError(f"{where}: sentence {i!r} does not exist in {self.input_path.name} "
                                    f"({len(self.sentences)} sentences)", fix=fix)
                if obj["text"] != sent.text or obj["start"] != sent.start:
                    raise UserError(f"{where}: sentence {i + 1} of {self.input_path.name} has changed since it was "
                                    f"annotated (the annotations are of other text)", fix=fix)
                status = obj["status"]
                if status not in STATUSES:
                    raise UserError(f"{where}: unknown status {status!r}", fix=fix)
                sent.status = status
                sent.spans = [self._span_from_json(s, sent) for s in obj["spans"]]
                sent.sort()
            except UserError:
                raise
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                raise UserError(f"{where}: not an annotation record of el4ner-local ({exc.__class__.__name__}: {exc})",
                                fix=fix) from None
            for s in sent.spans:
                if s.label and s.label not in self.labels:
                    self.labels.append(s.label)

    @staticmethod
    def _span_from_json(obj: dict, sent: SentenceState) -> SpanState:
        base = sent.start
        start, end = int(obj["start"]) + base, int(obj["end"]) + base
        if not sent.start <= start < end <= sent.end:
            raise ValueError(f"span {obj['start']}..{obj['end']} lies outside the sentence")
        verdict = obj.get("verdict")
        if verdict not in ("accepted", "rejected", None):
            raise ValueError(f"unknown verdict {verdict!r}")
        origin = obj.get("origin", "person")
        if origin not in ("model", "person"):
            raise ValueError(f"unknown origin {origin!r}")
        ms = obj.get("model_span")
        return SpanState(start, end, obj.get("label"), verdict, origin,
                         (int(ms[0]) + base, int(ms[1]) + base) if ms else None)

    def _load_suggestions(self) -> None:
        try:
            raw = self.suggestions_path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            self.suggestions_error = f"{self.suggestions_path}: cannot read ({_why(exc)})"
            return
        for line in raw.split(b"\n"):
            if not line.strip():
                continue
            try:  # a line cut short by a crash is ignored: the sentence is computed again
                obj = json.loads(line)
                sent = self.sentences[obj["sentence_index"]]
                if obj["text"] != sent.text or obj["start"] != sent.start:
                    continue
                record = SentenceRecord.from_json(obj["record"])
                self._attach(sent, record, tuple(obj.get("models", ())))
            except (ValueError, KeyError, TypeError, IndexError):
                continue

    def _load_state(self) -> None:
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
            if state.get("input_sha256") == self.input_sha256:
                cursor = state["cursor"]
                if isinstance(cursor, int) and 0 <= cursor < len(self.sentences):
                    self.cursor = cursor
                    focus = state.get("focus")
                    spans = self.sentences[cursor].spans
                    self.focus = focus if isinstance(focus, int) and 0 <= focus < len(spans) else None
                    if self.focus is None and spans:
                        self.focus = 0
                    return
        except (OSError, ValueError, KeyError, TypeError):
            pass
        # no usable position: the first sentence not accepted yet
        self.cursor = next((s.index for s in self.sentences if s.status != ACCEPTED), 0)
        self.focus = 0 if self.current.spans else None

    # -- suggestions --------------------------------------------------------------------------

    def set_labels(self, labels) -> None:
        """The schema's labels (number keys 1..9 follow this order); labels already used stay."""
        merged = list(dict.fromkeys(list(labels) + self.labels))
        self.labels = merged

    def set_suggestions(self, index: int, record: SentenceRecord, models=()) -> None:
        """Attach the models' record of sentence `index` and append it to the suggestions cache."""
        sent = self.sentences[index]
        self._attach(sent, record, tuple(models))
        if index == self.cursor and self.focus is None and sent.spans:
            self.focus = 0
        line = {"sentence_index": index, "start": sent.start, "text": sent.text, "models": list(models),
                "record": record.to_json()}
        from ..formats.jsonl import dumps_record

        try:
            private_dir(self.state_dir, ours_from=self.state_dir)
            _append_durable(self.suggestions_path, (dumps_record(line) + "\n").encode("utf-8"))
            self.suggestions_error = None
        except OSError as exc:  # only a cache: the suggestion is kept in memory all the same
            self.suggestions_error = f"{self.suggestions_path}: cannot cache suggestions ({_why(exc)})"

    def _attach(self, sent: SentenceState, record: SentenceRecord, models: tuple[str, ...]) -> None:
        focused = self._focused_obj() if sent.index == self.cursor else None
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
        return self._focused_obj()

    def _focused_obj(self) -> SpanState | None:
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

    def goto(self, index: int, focus: int | None = 0) -> None:
        self.cursor = max(0, min(index, len(self.sentences) - 1))
        spans = self.current.spans
        if focus is not None and spans:
            self.focus = max(0, min(focus, len(spans) - 1))
        else:
            self.focus = None
        self.save_state()

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
        self.save_state()

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
        self.undo_stack.append(_Undo(sent.index, _snapshot_spans(sent.spans), sent.status, self.cursor, self.focus, what))

    def _changed(self, sent: SentenceState | None = None, focus_on: SpanState | None = None) -> None:
        sent = sent or self.current
        if sent.status == TODO:
            sent.status = PARTIAL
        sent.sort()
        if focus_on is not None:
            self.focus = self._index_of(sent, focus_on)
        self.save()

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
        self._push_undo(f"accept '{self._text(span)}'")
        span.label, span.verdict = label, "accepted"
        self._changed(focus_on=span)
        return ""

    def reject(self) -> str:
        span = self.focused()
        if span is None:
            return "no span is focused"
        self._push_undo(f"reject '{self._text(span)}'")
        span.verdict = "rejected"
        self._changed(focus_on=span)
        return ""

    def relabel(self, label: str) -> str:
        """Give the focused span this label (and accept it)."""
        span = self.focused()
        if span is None:
            return "no span is focused"
        self._push_undo(f"label '{self._text(span)}' {label}")
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
        self._push_undo(f"{'widen' if grow else 'shrink'} '{self._text(span)}'")
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
            self._attach(sent, sent.record, sent.record_models)
            if focused is not None:
                self.focus = self._index_of(sent, focused)
        sent.sort()
        self.save()
        return f"undone: {entry.what}"

    def _text(self, span: SpanState) -> str:
        return self.text[span.start : span.end]

    # -- persistence --------------------------------------------------------------------------

    def records(self) -> list[dict]:
        """The annotations file's lines: every sentence the person touched."""
        out = []
        for sent in self.sentences:
            decided = [s for s in sent.spans if s.verdict is not None or s.origin == "person"]
            if sent.status == TODO and not decided:
                continue
            base = sent.start
            out.append({
                "text": sent.text,
                "entities": [{"start": s.start - base, "end": s.end - base, "label": s.label,
                              "text": self._text(s)} for s in sent.entities() if s.label],
                "sentence_index": sent.index,
                "start": sent.start,
                "end": sent.end,
                "status": sent.status,
                "spans": [{"start": s.start - base, "end": s.end - base, "label": s.label, "text": self._text(s),
                           "verdict": s.verdict, "origin": s.origin,
                           "model_span": [s.model_span[0] - base, s.model_span[1] - base] if s.model_span else None}
                          for s in decided],
                "source": self.source_name,
            })
        return out

    def save(self) -> bool:
        """Write the annotations file and the state atomically. False (and `save_error`) on failure."""
        from ..formats.jsonl import dumps_record

        data = "".join(dumps_record(r) + "\n" for r in self.records()).encode("utf-8")
        self.unsaved = True
        try:
            private_dir(self.out_path.parent)  # only folders it makes are ours to set
            atomic_write(self.out_path, data, mode_beside([self.input_path]))
        except OSError as exc:
            self.save_error = f"cannot write {self.out_path} ({_why(exc)})"
            return False
        self.unsaved = False
        self.save_error = None
        return self.save_state()

    def save_state(self) -> bool:
        """The cursor (so a restart resumes here); a failure is reported like a failed save."""
        state = {"version": FORMAT_VERSION, "input": str(self.input_path), "input_sha256": self.input_sha256,
                 "cursor": self.cursor, "focus": self.focus}
        try:
            private_dir(self.state_dir, ours_from=self.state_dir)
            atomic_write(self.state_path, (json.dumps(state) + "\n").encode("utf-8"))
        except OSError as exc:
            if not self.unsaved:
                self.save_error = f"cannot write {self.state_path} ({_why(exc)}); the decisions are saved, the position is not"
            return False
        if not self.unsaved:
            self.save_error = None
        return True

    def check_writable(self) -> bool:
        """Try the output place before any decision is made, so that a problem shows at once."""
        try:
            private_dir(self.out_path.parent)  # only folders it makes are ours to set
            fd, tmp = tempfile.mkstemp(dir=self.out_path.parent, prefix=f".{self.out_path.name}.", suffix=".probe")
            os.close(fd)
            os.unlink(tmp)
            private_dir(self.state_dir, ours_from=self.state_dir)
        except OSError as exc:
            self.save_error = f"cannot write to {self.out_path.parent} ({_why(exc)})"
            return False
        return True

    def relocate(self, out_path: str | Path) -> bool:
        """Save everything under another annotations path (after a failed save) and keep using it.
        A session holding its annotations file's lock takes the new file's lock first (and keeps the
        old path when another session holds the new one)."""
        old = self.out_path
        self.out_path = Path(out_path).expanduser()
        if self.out_path.exists() and self.out_path.is_dir():
            self.out_path = old
            self.save_error = f"{out_path}: is a directory"
            return False
        if self.lock is not None and not self.lock.covers(self.out_path):
            try:
                new_lock = lock_annotations(self.out_path, writer=True, fix="quit that session first, or choose another path")
            except UserError as exc:
                self.out_path = old
                self.save_error = exc.one_line()
                return False
            self.lock.release()
            self.lock = new_lock
        ok = self.save()
        if ok and self.suggestions_path != state_dir_for(old) / "suggestions.jsonl":
            for sent in self.sentences:  # carry the cached suggestions along
                if sent.record is not None:
                    self._copy_suggestion(sent)
        return ok

    def release_lock(self) -> None:
        """The session ends: give back its annotations file's lock."""
        if self.lock is not None:
            self.lock.release()

    def _copy_suggestion(self, sent: SentenceState) -> None:
        from ..formats.jsonl import dumps_record

        line = {"sentence_index": sent.index, "start": sent.start, "text": sent.text,
                "models": list(sent.record_models), "record": sent.record.to_json()}
        try:
            _append_durable(self.suggestions_path, (dumps_record(line) + "\n").encode("utf-8"))
        except OSError:
            pass

    # -- export -------------------------------------------------------------------------------

    def accepted_sentences(self) -> list[SentenceState]:
        return [s for s in self.sentences if s.status == ACCEPTED]

    def labelled_sentence(self, index: int) -> LabelledSentence:
        return self.sentences[index].labelled(f"{self.source_name}: sentence {index + 1}")

    def export_jsonl(self, path: str | Path) -> int:
        """The accepted sentences as labelled JSONL (offsets into each sentence's text). Returns the count."""
        from ..formats.jsonl import dumps_record, record_of

        lines = []
        for sent in self.accepted_sentences():
            rec = record_of(sent.labelled())
            rec.update({"sentence_index": sent.index, "start": sent.start, "source": self.source_name})
            lines.append(dumps_record(rec) + "\n")
        atomic_write(Path(path), "".join(lines).encode("utf-8"), mode_beside([self.input_path]))
        return len(lines)

    def export_conll(self, path: str | Path) -> tuple[int, int]:
        """The accepted sentences as CoNLL (token TAB BIO tag). Returns (sentences, spans not writable)."""
        import io

        from ..formats import write_conll

        buf = io.StringIO()
        sents = [s.labelled() for s in self.accepted_sentences()]
        lost = write_conll(sents, buf)
        atomic_write(Path(path), buf.getvalue().encode("utf-8"), mode_beside([self.input_path]))
        return len(sents), lost

    # -- summary ------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        out = {status: 0 for status in STATUSES}
        for sent in self.sentences:
            out[sent.status] += 1
        out["suggested"] = sum(1 for s in self.sentences if s.record is not None)
        return out

    def copy_state(self):
        """A deep copy of the sentences' decisions (for tests)."""
        return copy.deepcopy([(s.status, [(x.start, x.end, x.label, x.verdict, x.origin) for x in s.spans])
                              for s in self.sentences])
