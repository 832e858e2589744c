"""Model work for the annotator, off the interface thread: load the tagger, compute the suggestions
of the sentence in view and of a few sentences ahead, add accepted sentences to the demonstration
index. One thread owns the tagger and the index (neither is thread-safe); it reports through
`post(event)`, which must be thread-safe and must not block (Textual's `post_message` is both).

Stopping: `stop()` sets a flag that every model call checks first, so a quitting annotator waits
for at most one model call, never for a whole sentence.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from textual.message import Message

from ..documents import LabelledSentence
from ..errors import UserError
from ..pipeline.records import SentenceRecord

if TYPE_CHECKING:
    from ..llm.backend import LLM
    from ..pipeline.stages import SentenceInput
    from ..pipeline.tagger import Tagger


class Cancelled(Exception):
    """Raised inside a model call once the annotator is quitting."""


# -- events (posted to the interface) ------------------------------------------------------------
# Textual messages: the app handles each in its own `on_model_<event>` method (namespace "model",
# so that Idle is not Textual's own idle event).


@dataclass
class Progress(Message, namespace="model"):
    message: str  # "loading the models", "building the demonstration index", ...


@dataclass
class Loaded(Message, namespace="model"):
    models: tuple[str, ...]
    labels: tuple[str, ...]
    index: str | None  # a description of the demonstration index, None when zero-shot
    index_sentences: int = 0


@dataclass
class LoadFailed(Message, namespace="model"):
    message: str


@dataclass
class Computing(Message, namespace="model"):
    sentence: int


@dataclass
class Suggested(Message, namespace="model"):
    sentence: int
    record: SentenceRecord
    models: tuple[str, ...]
    seconds: float


@dataclass
class SuggestFailed(Message, namespace="model"):
    sentence: int
    message: str


@dataclass
class Indexed(Message, namespace="model"):
    sentence: int
    error: str | None = None
    index_sentences: int = 0
    added: bool = False  # False: the index held this very sentence already


@dataclass
class Idle(Message, namespace="model"):
    pass


# -- the work --------------------------------------------------------------------------------------


class _Cancellable:
    """A model whose calls first check the stop flag (everything else is the model's own)."""

    def __init__(self, model: LLM, stop: threading.Event) -> None:
        self._model = model
        self._stop = stop

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def _check(self) -> None:
        if self._stop.is_set():
            raise Cancelled()

    def generate(self, *args: Any, **kwargs: Any) -> str:
        self._check()
        return self._model.generate(*args, **kwargs)

    def score(self, *args: Any, **kwargs: Any) -> list[float]:
        self._check()
        return self._model.score(*args, **kwargs)


def cancellable(tagger: Tagger, stop: threading.Event) -> Tagger:
    """The same tagger (same schema, settings and index) whose models stop when `stop` is set."""
    from ..pipeline.tagger import Tagger

    return Tagger(
        [_Cancellable(m, stop) for m in tagger.models],
        tagger.schema,
        tagger.settings,
        tagger.index,
        tagger.retrieval_mode,
    )


@dataclass
class _Job:
    sentence: int
    payload: SentenceInput | LabelledSentence  # SentenceInput for a suggestion, LabelledSentence for the index


@dataclass
class Suggester:
    """`factory(progress)` returns a loaded Tagger; it is called in the worker thread."""

    factory: Callable[[Callable[[str], None]], Tagger]
    post: Callable[[Message], object]  # what it returns is not used
    tagger: Tagger | None = None
    models: tuple[str, ...] = ()
    _wanted: list[tuple[int, SentenceInput]] = field(default_factory=list)  # most urgent first
    _index_jobs: deque[_Job] = field(default_factory=deque)
    _done: set[int] = field(default_factory=set)  # sentences computed by this run (until the interface has them)
    _failed: set[int] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _wake: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)

    # called from the interface thread
    def want(self, wanted: list[tuple[int, SentenceInput]]) -> None:
        """The sentences that still need suggestions, most urgent first: [(index, SentenceInput)]."""
        with self._lock:
            self._wanted = list(wanted)
            self._done &= {i for i, _ in wanted}
        self._wake.set()

    def add_to_index(self, sentence: int, labelled: LabelledSentence) -> None:
        with self._lock:
            self._index_jobs.append(_Job(sentence, labelled))
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    # the worker thread
    def _send(self, event: Message) -> None:
        try:
            self.post(event)
        except RuntimeError:  # the interface has gone
            self._stop.set()

    def _next(self) -> _Job | None:
        with self._lock:
            if self._index_jobs:
                return self._index_jobs.popleft()
            for i, inp in self._wanted:
                if i not in self._done and i not in self._failed:
                    return _Job(i, inp)
        return None

    def run(self) -> None:
        try:
            self._send(Progress("loading the models"))
            tagger = self.factory(lambda message: self._send(Progress(message)))
        except Cancelled:
            return
        except UserError as exc:
            self._send(LoadFailed(exc.one_line()))
            return
        except Exception as exc:  # a broken model file or backend: say so, keep the interface usable
            self._send(LoadFailed(f"{exc.__class__.__name__}: {exc}"))
            traceback.print_exc()
            return
        self.tagger = working = cancellable(tagger, self._stop)
        self.models = tuple(m.name for m in tagger.models)
        index = tagger.index
        self._send(
            Loaded(
                self.models,
                tuple(tagger.schema.labels),
                str(index.path) if index is not None else None,
                len(index) if index is not None else 0,
            )
        )
        idle_sent = False
        while not self._stop.is_set():
            job = self._next()
            if job is None:
                if not idle_sent:
                    self._send(Idle())
                    idle_sent = True
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            idle_sent = False
            if isinstance(job.payload, LabelledSentence):
                self._index(working, job.sentence, job.payload)
            else:
                self._suggest(working, job.sentence, job.payload)

    def _index(self, tagger: Tagger, sentence: int, new: LabelledSentence) -> None:
        index = tagger.index
        if index is None:
            return
        if any(s.text == new.text and sorted(set(s.spans)) == sorted(set(new.spans)) for s in index.pool):
            self._send(Indexed(sentence, None, len(index), added=False))
            return
        try:
            index.add([new])
            self._send(Indexed(sentence, None, len(index), added=True))
        except (UserError, OSError, ValueError) as exc:
            message = exc.one_line() if isinstance(exc, UserError) else f"{exc.__class__.__name__}: {exc}"
            self._send(Indexed(sentence, message, len(index)))

    def _suggest(self, tagger: Tagger, sentence: int, inp: SentenceInput) -> None:
        self._send(Computing(sentence))
        began = time.perf_counter()
        try:
            record = tagger.tag_sentence(inp)
        except Cancelled:
            return
        except Exception as exc:  # one bad sentence must not stop the others
            with self._lock:
                self._failed.add(sentence)
            self._send(SuggestFailed(sentence, f"{exc.__class__.__name__}: {exc}"))
            return
        with self._lock:
            self._done.add(sentence)
        self._send(Suggested(sentence, record, self.models, time.perf_counter() - began))
