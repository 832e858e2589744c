"""The one protocol every backend implements (LLM), what the backends share (the load-once
registry, the stop rules of an answer) and the token accounting the pipeline keeps. No backend
module imports another: each imports only this module (and sources)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TypeVar, cast

if TYPE_CHECKING:
    from llama_cpp.llama_types import ChatCompletionRequestMessage

    from ..config import ModelSpec

_T = TypeVar("_T")
_LOADED: dict[tuple, object] = {}
_LOAD_LOCK = threading.Lock()


def once(key: tuple, make: Callable[[], _T]) -> _T:
    """The model for `key`, made once per process and shared (a model is never loaded twice)."""
    with _LOAD_LOCK:
        if key not in _LOADED:
            _LOADED[key] = make()
        return cast(_T, _LOADED[key])


def loaded() -> list[object]:
    """Every model made by `once` so far."""
    with _LOAD_LOCK:
        return list(_LOADED.values())


def cut_answer(text: str, stop: Sequence[str], max_lines: int | None) -> str | None:
    """The text to keep when generation should stop now (a stop string seen, or max_lines lines
    complete), else None. Every backend applies it token by token, so answers end alike."""
    for s in stop:
        if s and s in text:
            return text[: text.index(s)]
    if max_lines is not None:
        lead = len(text) - len(text.lstrip())  # blank lines before the answer are not lines of it
        body = text[lead:]
        if body.count("\n") >= max_lines:
            return text[:lead] + "\n".join(body.split("\n")[:max_lines])
    return None


@dataclass
class TokenStats:
    """What a model spent: tokens evaluated, served from the KV cache, generated; calls; seconds."""

    evaluated: int = 0
    reused: int = 0
    generated: int = 0
    calls: int = 0
    seconds: float = 0.0

    def add(self, other: TokenStats) -> None:
        self.evaluated += other.evaluated
        self.reused += other.reused
        self.generated += other.generated
        self.calls += other.calls
        self.seconds += other.seconds

    def minus(self, before: TokenStats) -> TokenStats:
        return TokenStats(
            self.evaluated - before.evaluated,
            self.reused - before.reused,
            self.generated - before.generated,
            self.calls - before.calls,
            self.seconds - before.seconds,
        )

    def copy(self) -> TokenStats:
        return TokenStats(self.evaluated, self.reused, self.generated, self.calls, self.seconds)

    def as_dict(self) -> dict:
        return {
            "evaluated": self.evaluated,
            "reused": self.reused,
            "generated": self.generated,
            "calls": self.calls,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class Prompt:
    """A prompt in two parts. `shared` is what several calls have in common (instructions,
    demonstrations, the sentence) and goes first so the KV cache serves it; `question` differs."""

    system: str
    shared: str
    question: str = ""

    def completion(self) -> str:
        """The text for a base model: instructions, a blank line, then the user part."""
        user = self.shared + self.question
        return f"{self.system}\n\n{user}" if self.system else user

    def messages(self) -> list[ChatCompletionRequestMessage]:
        """The conversation for a chat template, typed as llama_cpp's messages (its formatter renders
        the templates of both backends)."""
        return [{"role": "system", "content": self.system}, {"role": "user", "content": self.shared + self.question}]


class LLM(Protocol):
    """An ensemble member, as llm.load_model returns it (llama_cpp_backend, openai_backend)."""

    name: str
    spec: ModelSpec
    stats: TokenStats
    load_seconds: float  # what load() took; 0.0 until it ran

    def load(self) -> None:
        """Make the model ready now (a GGUF loaded, a server found answering), so that a bad model
        is reported before any work and load time is measured apart; calls load it otherwise."""

    @property
    def threads(self) -> int:
        """llama.cpp threads this model runs with in this process; 0 if not loaded or served elsewhere."""

    def render(self, prompt: Prompt) -> str:
        """The text handed to the model: its chat template applied, or plain completion."""

    def generate(
        self,
        prompt: Prompt,
        *,
        stop: Sequence[str] = (),
        max_tokens: int = 128,
        max_lines: int | None = None,
        prefill: str = "",
        stop_on_line: Callable[[str], bool] | None = None,
    ) -> str:
        """Greedy continuation after `prefill`, cut at a stop string or after max_lines lines;
        `stop_on_line(text_so_far)` is asked after each completed line and may end it early."""

    def score(self, prompt: Prompt, continuations: Sequence[str], prefill: str = "") -> list[float]:
        """Log-probability of each continuation after the rendered prompt + prefill, summed over
        its tokens up to the one that tells it apart from the other continuations."""

    def measure_speed(self, *, prompt_tokens: int = 128, generated_tokens: int = 32) -> tuple[float, float]:
        """Prompt and generation speed in tokens per second (`models check`)."""


@dataclass
class StageStats:
    """Token accounting split by pipeline stage and model."""

    by_stage_model: dict[tuple[str, str], TokenStats] = field(default_factory=dict)

    def add(self, stage: str, model: str, delta: TokenStats) -> None:
        self.by_stage_model.setdefault((stage, model), TokenStats()).add(delta)

    def as_dict(self) -> dict:
        out: dict = {}
        for (stage, model), stats in sorted(self.by_stage_model.items()):
            out.setdefault(stage, {})[model] = stats.as_dict()
        return out
