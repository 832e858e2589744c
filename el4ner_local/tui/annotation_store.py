"""The files of one annotation session: `AnnotationStore.open` reads an input and its earlier
annotations, suggestions and position into an annotation_state.AnnotationState, then writes every
change that state tells it (its `Listener`); exports; the annotations file's lock.

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

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from ..durable import append_durable, atomic_write
from ..errors import UserError
from ..file_lock import FileLock
from ..pipeline.records import SentenceRecord
from ..private_files import mode_beside, private_dir
from ..same_file import refuse_input_as_output
from .annotation_state import STATUSES, TODO, AnnotationState, Listener, SentenceState, SpanState

FORMAT_VERSION = 1


def default_out_path(input_path: Path) -> Path:
    return input_path.with_name(input_path.stem + ".annotations.jsonl")


def followed(out_path: Path) -> Path:
    """The file a symlinked annotations path names: it is written (atomic_write would replace the link
    by a file) and locked (file_lock resolves links) there, so every session on it shares one lock."""
    return Path(os.path.realpath(out_path)) if out_path.is_symlink() else out_path


def state_dir_for(out_path: Path) -> Path:
    name = out_path.name[: -len(".jsonl")] if out_path.name.endswith(".jsonl") else out_path.name
    return out_path.with_name(name + ".session")


def lock_annotations(
    out_path: Path, *, writer: bool, fix: str = "quit that session first, or give --out another annotations file"
) -> FileLock:
    """Hold the annotations file `out_path` for this process (one session at a time on it): the
    lock file `.NAME.lock` beside it (el4ner_local/file_lock.py). UserError, one line naming the
    holder's PID and command line, when another session holds it. A `writer` makes the folder first."""
    if writer:
        try:
            private_dir(Path(out_path).parent)  # as save() would
        except OSError:
            pass  # the session says so itself when it cannot write there
    return FileLock(out_path, busy="open in another annotate session", fix=fix).acquire()


def _why(exc: OSError) -> str:
    return exc.strerror or exc.__class__.__name__


class AnnotationStore(Listener):
    """The files of one input's annotation state (`state`); every change is saved at once."""

    def __init__(
        self,
        input_path: Path,
        out_path: Path,
        state: AnnotationState,
        inputs: tuple[Path, ...] = (),
        input_folders: tuple[Path, ...] = (),
    ):
        self.input_path = Path(input_path)
        self.out_path = Path(out_path)
        # what the session reads, which no file it writes may replace: the input text, the files the
        # command got (pool, schema, keys, models) and the folders (--index DIR)
        self.inputs = (self.input_path, *inputs)
        self.input_folders = input_folders
        self.state = state
        self.input_sha256 = hashlib.sha256(state.text.encode("utf-8")).hexdigest()
        self.save_error: str | None = None  # why the last save failed; None when all is on disk
        self.unsaved = False
        self.suggestions_error: str | None = None
        self.lock: FileLock | None = None  # the annotations file's lock, when the session holds one
        state.listener = self

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        input_path: str | Path,
        out_path: str | Path | None = None,
        *,
        inputs: Iterable[str | Path | None] = (),
        input_folders: Iterable[str | Path | None] = (),
    ) -> AnnotationStore:
        """Read the input and any earlier annotations of it; UserError (one line) when unreadable.
        `inputs`/`input_folders`: the session's other inputs (None: not given), never written over."""
        from ..formats import read_text

        input_path = Path(input_path)
        text = read_text(input_path)
        out = followed(Path(out_path) if out_path else default_out_path(input_path))
        if out.exists() and out.is_dir():
            raise UserError(f"{out}: is a directory, not an annotations file", fix="give --out a file name")
        others = tuple(Path(p) for p in inputs if p is not None)
        folders = tuple(Path(p) for p in input_folders if p is not None)
        refuse_input_as_output(out, [input_path, *others], option="--out", folders=folders)
        state = AnnotationState(text, input_path.name)
        if not state.sentences:
            raise UserError(f"{input_path}:1: no sentences to annotate", fix="give a file that holds text")
        store = cls(input_path, out, state, others, folders)
        store._load_annotations()
        store._load_suggestions()
        store._load_position()
        return store

    @property
    def state_dir(self) -> Path:
        return state_dir_for(self.out_path)

    @property
    def state_path(self) -> Path:
        return self.state_dir / "state.json"

    @property
    def suggestions_path(self) -> Path:
        return self.state_dir / "suggestions.jsonl"

    def _load_annotations(self) -> None:
        path, state = self.out_path, self.state
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise UserError(
                f"{path}: cannot read the annotations ({_why(exc)})", fix="check its permissions or give another --out"
            ) from None
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
                sent = state.sentences[i] if isinstance(i, int) and 0 <= i < len(state.sentences) else None
                if sent is None:
                    raise UserError(
                        f"{where}: sentence {i!r} does not exist in {self.input_path.name} "
                        f"({len(state.sentences)} sentences)",
                        fix=fix,
                    )
                if obj["text"] != sent.text or obj["start"] != sent.start:
                    raise UserError(
                        f"{where}: sentence {i + 1} of {self.input_path.name} has changed since it was "
                        f"annotated (the annotations are of other text)",
                        fix=fix,
                    )
                status = obj["status"]
                if status not in STATUSES:
                    raise UserError(f"{where}: unknown status {status!r}", fix=fix)
                sent.status = status
                sent.spans = [self._span_from_json(s, sent) for s in obj["spans"]]
                sent.sort()
            except UserError:
                raise
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                raise UserError(
                    f"{where}: not an annotation record of el4ner-local ({exc.__class__.__name__}: {exc})", fix=fix
                ) from None
            for s in sent.spans:
                if s.label and s.label not in state.labels:
                    state.labels.append(s.label)

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
        return SpanState(
            start, end, obj.get("label"), verdict, origin, (int(ms[0]) + base, int(ms[1]) + base) if ms else None
        )

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
                sent = self.state.sentences[obj["sentence_index"]]
                if obj["text"] != sent.text or obj["start"] != sent.start:
                    continue
                record = SentenceRecord.from_json(obj["record"])
                self.state.attach(sent, record, tuple(obj.get("models", ())))
            except (ValueError, KeyError, TypeError, IndexError):
                continue

    def _load_position(self) -> None:
        cursor = focus = None
        try:
            saved = json.loads(self.state_path.read_text(encoding="utf-8"))
            if saved.get("input_sha256") == self.input_sha256:
                cursor, focus = saved["cursor"], saved.get("focus")
        except (OSError, ValueError, KeyError, TypeError):
            pass
        self.state.resume_at(cursor, focus)

    # -- what the state tells ---------------------------------------------------------------------

    def decided(self) -> None:
        self.save()

    def moved(self) -> None:
        self.save_state()

    def suggested(self, sent: SentenceState) -> None:
        """Append the record to the suggestions cache, so a restart does not compute it again."""
        try:
            private_dir(self.state_dir, ours_from=self.state_dir)
            self._append_suggestion(sent)
            self.suggestions_error = None
        except OSError as exc:  # only a cache: the suggestion is kept in memory all the same
            self.suggestions_error = f"{self.suggestions_path}: cannot cache suggestions ({_why(exc)})"

    def _append_suggestion(self, sent: SentenceState) -> None:
        from ..formats.jsonl import dumps_record

        assert sent.record is not None  # only a sentence with suggestions is cached
        line = {
            "sentence_index": sent.index,
            "start": sent.start,
            "text": sent.text,
            "models": list(sent.record_models),
            "record": sent.record.to_json(),
        }
        append_durable(self.suggestions_path, (dumps_record(line) + "\n").encode("utf-8"))

    # -- saving -------------------------------------------------------------------------------

    def records(self) -> list[dict]:
        """The annotations file's lines: every sentence the person touched."""
        out, text = [], self.state.text
        for sent in self.state.sentences:
            decided = [s for s in sent.spans if s.verdict is not None or s.origin == "person"]
            if sent.status == TODO and not decided:
                continue
            base = sent.start
            out.append(
                {
                    "text": sent.text,
                    "entities": [
                        {"start": s.start - base, "end": s.end - base, "label": s.label, "text": text[s.start : s.end]}
                        for s in sent.entities()
                        if s.label
                    ],
                    "sentence_index": sent.index,
                    "start": sent.start,
                    "end": sent.end,
                    "status": sent.status,
                    "spans": [
                        {
                            "start": s.start - base,
                            "end": s.end - base,
                            "label": s.label,
                            "text": text[s.start : s.end],
                            "verdict": s.verdict,
                            "origin": s.origin,
                            "model_span": [s.model_span[0] - base, s.model_span[1] - base] if s.model_span else None,
                        }
                        for s in decided
                    ],
                    "source": self.state.source_name,
                }
            )
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
        state = {
            "version": FORMAT_VERSION,
            "input": str(self.input_path),
            "input_sha256": self.input_sha256,
            "cursor": self.state.cursor,
            "focus": self.state.focus,
        }
        try:
            private_dir(self.state_dir, ours_from=self.state_dir)
            atomic_write(self.state_path, (json.dumps(state) + "\n").encode("utf-8"))
        except OSError as exc:
            if not self.unsaved:
                self.save_error = (
                    f"cannot write {self.state_path} ({_why(exc)}); the decisions are saved, the position is not"
                )
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
        self.out_path = followed(Path(out_path).expanduser())
        if self.out_path.exists() and self.out_path.is_dir():
            self.out_path = old
            self.save_error = f"{out_path}: is a directory"
            return False
        try:
            self.check_output(self.out_path, "save as")
            self._check_replaceable(self.out_path, old)
        except UserError as exc:
            self.out_path = old
            self.save_error = exc.one_line()
            return False
        if self.lock is not None and not self.lock.covers(self.out_path):
            try:
                new_lock = lock_annotations(
                    self.out_path, writer=True, fix="quit that session first, or choose another path"
                )
            except UserError as exc:
                self.out_path = old
                self.save_error = exc.one_line()
                return False
            self.lock.release()
            self.lock = new_lock
        ok = self.save()
        if ok and self.suggestions_path != state_dir_for(old) / "suggestions.jsonl":
            for sent in self.state.sentences:  # carry the cached suggestions along
                if sent.record is not None:
                    try:
                        self._append_suggestion(sent)
                    except OSError:
                        pass
        return ok

    def check_output(self, path: Path, option: str) -> None:
        """UserError (one line naming both) if writing `path` would replace one of the session's inputs."""
        refuse_input_as_output(path, self.inputs, option=option, folders=self.input_folders)

    def _check_replaceable(self, path: Path, current: Path) -> None:
        """UserError unless `path` is new, empty, the current annotations file, or one of this input's."""
        try:
            if not path.exists() or path.stat().st_size == 0 or os.path.samefile(path, current):
                return
        except OSError:  # the current file is not there yet (nothing saved): `path` is another file
            pass
        probe = AnnotationStore(self.input_path, path, AnnotationState(self.state.text, self.state.source_name))
        try:
            probe._load_annotations()
        except UserError:
            raise UserError(
                f"{path}: exists and is not an annotations file of {self.input_path.name}, so it is not replaced",
                fix="choose a new name",
            ) from None

    def release_lock(self) -> None:
        """The session ends: give back its annotations file's lock."""
        if self.lock is not None:
            self.lock.release()

    # -- export -------------------------------------------------------------------------------

    def export_jsonl(self, path: str | Path) -> int:
        """The accepted sentences as labelled JSONL (offsets into each sentence's text). Returns the count."""
        from ..formats.jsonl import dumps_record, record_of

        lines = []
        for sent in self.state.accepted_sentences():
            rec = record_of(sent.labelled())
            rec.update({"sentence_index": sent.index, "start": sent.start, "source": self.state.source_name})
            lines.append(dumps_record(rec) + "\n")
        atomic_write(Path(path), "".join(lines).encode("utf-8"), mode_beside([self.input_path]))
        return len(lines)

    def export_conll(self, path: str | Path) -> tuple[int, int]:
        """The accepted sentences as CoNLL (token TAB BIO tag). Returns (sentences, spans not writable)."""
        import io

        from ..formats import write_conll

        buf = io.StringIO()
        sents = [s.labelled() for s in self.state.accepted_sentences()]
        lost = write_conll(sents, buf)
        atomic_write(Path(path), buf.getvalue().encode("utf-8"), mode_beside([self.input_path]))
        return len(sents), lost

    def export_as(self, path: str | Path, fmt: str) -> tuple[int, int, str]:
        """The accepted sentences in a labelling tool's format (formats/outputs.py), each with where it
        comes from. Returns (sentences, spans not written as they are, why)."""
        from ..formats.outputs import write_all
        from ..formats.tagged import OutText

        items = [
            OutText.of_labelled(
                s.labelled(), {"source": self.state.source_name, "sentence_index": s.index, "start": s.start}
            )
            for s in self.state.accepted_sentences()
        ]
        lost, why = write_all(items, fmt, Path(path), mode_beside([self.input_path]))
        return len(items), lost, why
