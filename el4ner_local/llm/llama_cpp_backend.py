"""The LLM protocol over llama-cpp-python: greedy decoding, KV-cache reuse, log-prob scoring.

Answers are a function of the prompt alone, whatever the KV cache held before. llama.cpp's CPU
kernels round differently for different batch shapes (a token evaluated alone, or at another row
of a batch, gets other floats), so a prompt is always evaluated in the same segments (the
instructions, the shared part, the question, the prefill: `_prompt_tokens`), each one batch from the end
of the one before; the cache serves only whole segments that were cut at the same places.

Prompt-lookup drafting (`draft_tokens`, EL4NER_DRAFT_TOKENS; off by default) evaluates a generated token
together with the tokens that followed its last n-gram in the prompt, as one batch: for the reason above
its answers may differ from one-token-at-a-time greedy decoding, so it is only for measuring (docs/speed.md)."""

from __future__ import annotations

import atexit
import ctypes
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..config import ModelSpec
from ..errors import UserError
from . import sources
from .backend import Prompt, TokenStats, cut_answer, loaded

if TYPE_CHECKING:
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

_LLAMA_ERRORS: deque[str] = deque(maxlen=8)  # llama.cpp's last error lines, for our messages
_LOG_CALLBACK = None  # kept referenced: llama.cpp holds a pointer to it


def _quiet_llama_logs() -> None:
    """Route llama.cpp's log through a callback that keeps its error lines and prints nothing
    (everything with EL4NER_LLAMA_LOG=1). llama-cpp-python's own callback maps ggml's levels
    one off (a WARN is taken for an ERROR), so warnings such as Gemma's "using full-size SWA
    cache" would reach stderr and break the one-line error contract of the CLI."""
    global _LOG_CALLBACK
    if _LOG_CALLBACK is not None:
        return
    import llama_cpp

    verbose = os.environ.get("EL4NER_LLAMA_LOG") == "1"
    last = [0]

    # ggml's levels: 1 debug, 2 info, 3 warn, 4 error, 5 continue
    @llama_cpp.llama_log_callback
    def callback(level: int, text: bytes | None, user_data: object) -> None:
        level = last[0] if level == 5 else level
        last[0] = level
        message = text.decode("utf-8", errors="replace") if text else ""
        if verbose:
            sys.stderr.write(message)
        elif level == 4 and message.strip():
            _LLAMA_ERRORS.append(message.strip())

    _LOG_CALLBACK = callback
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))


@atexit.register
def _close_all() -> None:
    """Free the models before interpreter shutdown, when llama-cpp-python's own finaliser would
    run with half-torn-down modules and print a traceback."""
    for model in loaded():
        if isinstance(model, LlamaCppModel) and model._llm is not None:
            model._llm.close()


class LlamaCppModel:
    """One GGUF model (made by llm.load_model). Loads on first use. One caller at a time (a lock guards it)."""

    def __init__(self, spec: ModelSpec):
        self.spec = spec
        self.name = spec.name
        self.stats = TokenStats()
        self.load_seconds = 0.0
        self._llm: Llama | None = None
        self._threads = 0
        self._lock = threading.RLock()
        self._formatter: Jinja2ChatFormatter | None = None
        self._cached_bounds: list[int] = []  # segment ends of what the cache holds (see _eval_to)
        self._prefix_tokens: dict[str, list[int]] = {}  # tokenized prompt prefixes, for _prompt_tokens
        self.draft_tokens = _draft_tokens_setting()  # prompt-lookup drafts per generation step, 0 = off
        self.drafts = [0, 0]  # drafted tokens proposed, accepted (for scripts/bench_speed.py)

    # -- loading -------------------------------------------------------------------------
    def load(self) -> None:
        """Load the GGUF now (once): a missing or broken file is a UserError here."""
        with self._lock:
            if self._llm is not None:
                return
            path = sources.resolve(self.spec)
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise UserError(
                    f"llama-cpp-python cannot be imported ({exc})",
                    fix="pip install llama-cpp-python (it compiles llama.cpp, about 10 minutes)",
                ) from None

            _quiet_llama_logs()
            started = time.perf_counter()
            # EL4NER_THREADS caps the threads: a Ray worker's share of its node's cores (tagging/ray_driver.py), so
            # that workers x threads never exceeds the cores (llama.cpp's threads spin-wait on each other).
            threads = self.spec.n_threads or (os.cpu_count() or 2)
            cap = int(os.environ.get("EL4NER_THREADS") or 0)
            threads = min(threads, cap) if cap > 0 else threads
            _LLAMA_ERRORS.clear()
            try:
                llm = Llama(
                    model_path=str(path),
                    n_ctx=self.spec.n_ctx,
                    n_gpu_layers=self.spec.n_gpu_layers,
                    seed=self.spec.seed,
                    n_threads=threads,
                    n_threads_batch=threads,
                    n_batch=512,
                    verbose=False,
                )
            except (ValueError, RuntimeError) as exc:
                reason = _LLAMA_ERRORS[0] if _LLAMA_ERRORS else str(exc)  # the first says why
                fix = (
                    "check the file, or that it is a GGUF this llama.cpp supports"
                    if self.spec.source.kind == "path"
                    else f"delete the file and run `el4ner-local models fetch {self.name}`"
                )
                raise UserError(f"model {self.name!r}: llama.cpp cannot load {path}: {reason}", fix=fix) from None
            self.load_seconds = time.perf_counter() - started
            self._n_vocab = llm.n_vocab()
            self._vocab = __import__("llama_cpp").llama_model_get_vocab(llm._model.model)
            self._rng = np.random.default_rng(self.spec.seed)
            self._threads = threads
            self._llm = llm

    @property
    def llm(self) -> Llama:
        """The llama_cpp.Llama (its tokenizer, metadata, context), loaded on first use."""
        if self._llm is None:
            self.load()
        assert self._llm is not None
        return self._llm

    @property
    def threads(self) -> int:
        """Threads llama.cpp runs this model with (prompt batches and generation alike); 0 until loaded."""
        return self._threads

    # -- prompts ---------------------------------------------------------------------------
    def render(self, prompt: Prompt) -> str:
        if self.spec.prompt_style == "completion":
            return prompt.completion()
        return self._chat_formatter()(messages=prompt.messages()).prompt

    def _chat_formatter(self) -> Jinja2ChatFormatter:
        if self._formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            llm = self.llm
            template = llm.metadata.get("tokenizer.chat_template")
            if not template:
                raise UserError(
                    f"model {self.name!r} has no chat template in its GGUF",
                    fix='set prompt_style = "completion" for it in models.toml',
                )
            text = llm._model.token_get_text
            self._formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=text(llm.token_eos()),
                bos_token=text(llm.token_bos()),
                add_generation_prompt=True,
            )
        return self._formatter

    def _tokens(self, text: str) -> list[int]:
        llm = self.llm
        tokens = llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)
        if len(tokens) >= llm.n_ctx():
            raise UserError(
                f"model {self.name!r}: prompt of {len(tokens)} tokens exceeds n_ctx={llm.n_ctx()}",
                fix="raise n_ctx in models.toml or lower k (demonstrations)",
            )
        return tokens

    # -- evaluation --------------------------------------------------------------------------
    def _prompt_tokens(self, prompt: Prompt, prefill: str) -> tuple[list[int], list[int]]:
        """The tokens of the rendered prompt + prefill, and where its segments end: after the
        instructions (and the chat template's turn change), after the shared part, after the
        question, and the end. Each end is the tokens the whole prompt has in common with the text
        up to there tokenized alone, so the cuts are a function of the prompt and split no token."""
        rendered = self.render(prompt)
        text = rendered + prefill
        tokens = self._tokens(text)
        user = prompt.shared + prompt.question
        cuts = []
        start = rendered.rfind(user) if user else -1
        if start > 0:
            cuts += [start, start + len(prompt.shared)] if prompt.question else [start]
        cuts.append(len(rendered))
        bounds = set()
        for cut in cuts:
            if 0 < cut < len(text):
                head = self._prefix_tokens.get(text[:cut])
                if head is None:
                    head = self.llm.tokenize(text[:cut].encode("utf-8"), add_bos=True, special=True)
                    if len(self._prefix_tokens) >= 64:
                        self._prefix_tokens.pop(next(iter(self._prefix_tokens)))
                    self._prefix_tokens[text[:cut]] = head
                common = 0
                for a, b in zip(head, tokens, strict=False):
                    if a != b:
                        break
                    common += 1
                if 0 < common < len(tokens):
                    bounds.add(common)
        return tokens, sorted(bounds) + [len(tokens)]

    def _eval_to(self, tokens: list[int], bounds: list[int], stats: TokenStats) -> np.ndarray:
        """Make the context hold exactly `tokens`, evaluated segment by segment (`bounds`, each
        segment one batch), reusing the cached segments that end where these do and hold the same
        tokens; return the log-softmax of the next-token logits. The last segment is always
        evaluated, for its logits. So the KV state and the logits depend on the prompt alone.
        All evaluation goes through here (or resets `_cached_bounds`)."""
        llm = self.llm
        cached = llm.input_ids[: llm.n_tokens]
        start = 0
        for i, end in enumerate(bounds[:-1]):
            if (
                i >= len(self._cached_bounds)
                or self._cached_bounds[i] != end
                or end > len(cached)
                or list(cached[start:end]) != tokens[start:end]
            ):
                break
            start = end
        stats.reused += start
        stats.evaluated += len(tokens) - start
        self._cached_bounds = [end for end in bounds if end <= start]
        llm.n_tokens = start
        for end in bounds:
            if end > start:
                llm.eval(tokens[start:end])
                start = end
                self._cached_bounds.append(end)
        return self._logprobs()

    def _logprobs(self, row: int = -1) -> np.ndarray:
        ptr = self.llm._ctx.get_logits_ith(row)
        logits = np.ctypeslib.as_array(ptr, shape=(self._n_vocab,)).astype(np.float64)
        logits -= logits.max()
        return logits - np.log(np.exp(logits).sum())

    def _pick(self, logprobs: np.ndarray) -> int:
        if self.spec.temperature > 0:
            p = np.exp(logprobs / self.spec.temperature)
            return int(self._rng.choice(len(p), p=p / p.sum()))
        return int(np.argmax(logprobs))

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
        import llama_cpp

        with self._lock:
            started = time.perf_counter()
            stats = TokenStats(calls=1)
            tokens, bounds = self._prompt_tokens(prompt, prefill)
            logprobs = self._eval_to(tokens, bounds, stats)
            out: list[int] = []
            ahead: list[int] = []  # drafted tokens the cache holds after `out`, not yet confirmed
            rows: list[int] = []  # the batch row of each, whose logits follow it
            drafting = self.draft_tokens > 0 and self.spec.temperature <= 0
            text = ""
            for _ in range(max_tokens):
                token = self._pick(logprobs)
                if llama_cpp.llama_vocab_is_eog(self._vocab, token):
                    break
                out.append(token)
                stats.generated += 1
                text = self.llm.detokenize(out).decode("utf-8", errors="ignore")
                cut = cut_answer(text, stop, max_lines)
                if cut is not None:
                    text = cut
                    break
                if stop_on_line and text.endswith("\n") and stop_on_line(text):
                    break
                if ahead and ahead[0] == token:  # the draft was right: its logits are computed
                    ahead.pop(0)
                    self.drafts[1] += 1
                    logprobs = self._logprobs(rows.pop(0))
                    continue
                self.llm.n_tokens = len(tokens) + len(out) - 1  # drops the drafts that were wrong
                room = min(self.draft_tokens, max_tokens - len(out), self.llm.n_ctx() - self.llm.n_tokens - 2)
                ahead = _lookup(tokens + out, room) if drafting else []
                self.drafts[0] += len(ahead)
                rows = self._eval_rows([token, *ahead])
                stats.evaluated += 1 + len(ahead)
                logprobs = self._logprobs(rows.pop(0))
            stats.seconds = time.perf_counter() - started
            self.stats.add(stats)
            return text

    def _eval_rows(self, batch: list[int]) -> list[int]:
        """Evaluate `batch` as one batch after what the context holds; the rows whose logits follow
        each of its tokens (one token: llm.eval, as generation has always run)."""
        llm = self.llm
        if len(batch) == 1:
            llm.eval(batch)
            return [-1]
        start = llm.n_tokens
        llm._ctx.kv_cache_seq_rm(-1, start, -1)
        llm._batch.set_batch(batch=batch, n_past=start, logits_all=True)
        llm._ctx.decode(llm._batch)
        llm.input_ids[start : start + len(batch)] = batch
        llm.n_tokens = start + len(batch)
        return list(range(len(batch)))

    def reset(self) -> None:
        """Forget what the KV cache holds: the next call evaluates its prompt from the start."""
        with self._lock:
            if self._llm is not None:
                self._llm.reset()
            self._cached_bounds = []

    def measure_speed(self, *, prompt_tokens: int = 128, generated_tokens: int = 32) -> tuple[float, float]:
        """Prompt evaluation and generation speed in tokens per second, measured apart: a fixed
        text evaluated from an empty context (no KV reuse), then `generated_tokens` greedy steps
        of one token each. Not counted in `stats`; the next call re-evaluates what it needs."""
        with self._lock:
            llm = self.llm
            text = "The quick brown fox jumps over the lazy dog. " * (prompt_tokens // 8 + 1)
            room = max(llm.n_ctx() - generated_tokens - 1, 1)
            tokens = llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)[: min(prompt_tokens, room)]
            self.reset()
            started = time.perf_counter()
            llm.eval(tokens)
            logprobs = self._logprobs()
            prompt_seconds = time.perf_counter() - started
            started = time.perf_counter()
            for _ in range(generated_tokens):
                llm.eval([int(np.argmax(logprobs))])
                logprobs = self._logprobs()
            generation_seconds = time.perf_counter() - started
            return len(tokens) / max(prompt_seconds, 1e-9), generated_tokens / max(generation_seconds, 1e-9)

    def score(self, prompt: Prompt, continuations: Sequence[str], prefill: str = "") -> list[float]:
        """Log-probability of each continuation after the prompt, up to the token that tells it
        apart from the others (the rest of a label such as " creative-work" is all but certain
        once " creative" is chosen). The prefix is evaluated once; a continuation that needs more
        than its first token rewinds to the prefix (n_tokens) and evaluates only its own tokens."""
        with self._lock:
            started = time.perf_counter()
            stats = TokenStats(calls=1)
            base, bounds = self._prompt_tokens(prompt, prefill)
            # token prefix -> next-token log-probs
            after: dict[tuple[int, ...], np.ndarray] = {(): self._eval_to(base, bounds, stats)}
            n_base = len(base)
            seqs = [tuple(self.llm.tokenize(c.encode("utf-8"), add_bos=False, special=False)) for c in continuations]
            results = []
            for seq in seqs:
                needed = _distinguishing_length(seq, seqs)
                total = 0.0
                for i in range(needed):
                    head = seq[:i]
                    if head not in after:
                        self.llm.n_tokens = n_base
                        self.llm.eval(list(head))
                        stats.evaluated += len(head)
                        after[head] = self._logprobs()
                    total += float(after[head][seq[i]])
                results.append(total)
            self.llm.n_tokens = n_base
            stats.seconds = time.perf_counter() - started
            self.stats.add(stats)
            return results


def _draft_tokens_setting() -> int:
    value = os.environ.get("EL4NER_DRAFT_TOKENS") or "0"
    if not value.isdigit() or int(value) > 64:  # a draft and its token are one batch (n_batch = 512)
        raise UserError(
            f"EL4NER_DRAFT_TOKENS={value!r} is not a number of tokens up to 64",
            fix="set it to 0 (off) or e.g. 4, or unset it",
        )
    return int(value)


def _lookup(context: list[int], limit: int, longest: int = 3) -> list[int]:
    """Prompt lookup: up to `limit` tokens that followed the latest earlier occurrence of the
    context's last n tokens (n = `longest` down to 1); none if it has no such occurrence."""
    if limit <= 0:
        return []
    for n in range(min(longest, len(context) - 1), 0, -1):
        tail = context[-n:]
        for i in range(len(context) - n - 1, -1, -1):
            if context[i : i + n] == tail:
                return context[i + n : i + n + limit]
    return []


def _distinguishing_length(seq: tuple, seqs: list[tuple]) -> int:
    """Tokens of `seq` needed before no other sequence shares its prefix (all of it if it is
    a prefix of another)."""
    for n in range(1, len(seq) + 1):
        if not any(other != seq and other[:n] == seq[:n] for other in seqs):
            return n
    return len(seq)
