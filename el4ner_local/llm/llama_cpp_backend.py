"""The LLM protocol over llama-cpp-python: greedy decoding, KV-cache reuse, log-prob scoring,
and grammar checks that test the greedy token first (a full-vocabulary check only on rejection)."""

from __future__ import annotations

import ctypes
import os
import threading
import time
from typing import Sequence

import numpy as np

from ..config import ModelSpec
from ..errors import UserError
from . import sources
from .backend import Prompt, TokenStats

_LOADED: dict[tuple, "LlamaCppModel"] = {}
_LOAD_LOCK = threading.Lock()

_TOKEN_DATA = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True)


def load(spec: ModelSpec) -> "LlamaCppModel":
    """The model for a spec, loaded once per process and shared."""
    key = (spec.name, str(sources.expected_path(spec)), spec.n_ctx, spec.n_gpu_layers, spec.prompt_style)
    with _LOAD_LOCK:
        if key not in _LOADED:
            _LOADED[key] = LlamaCppModel(spec)
        return _LOADED[key]


class LlamaCppModel:
    """One GGUF model. Loads on first use. Not thread-safe: one caller at a time (a lock guards it)."""

    def __init__(self, spec: ModelSpec):
        self.spec = spec
        self.name = spec.name
        self.stats = TokenStats()
        self.load_seconds = 0.0
        self._llm = None
        self._lock = threading.RLock()
        self._formatter = None

    # -- loading -------------------------------------------------------------------------
    @property
    def llm(self):
        if self._llm is None:
            path = sources.resolve(self.spec)
            from llama_cpp import Llama

            started = time.perf_counter()
            threads = self.spec.n_threads or (os.cpu_count() or 2)
            try:
                self._llm = Llama(model_path=str(path), n_ctx=self.spec.n_ctx, n_gpu_layers=self.spec.n_gpu_layers,
                                  seed=self.spec.seed, n_threads=threads, n_batch=512, verbose=False)
            except (ValueError, RuntimeError) as exc:
                raise UserError(f"model {self.name!r}: llama.cpp cannot load {path}: {exc}",
                                fix=f"delete the file and run `el4ner-local models fetch {self.name}`")
            self.load_seconds = time.perf_counter() - started
            self._n_vocab = self._llm.n_vocab()
            self._vocab = __import__("llama_cpp").llama_model_get_vocab(self._llm._model.model)
            self._rng = np.random.default_rng(self.spec.seed)
        return self._llm

    # -- prompts ---------------------------------------------------------------------------
    def render(self, prompt: Prompt) -> str:
        user = prompt.shared + prompt.question
        if self.spec.prompt_style == "completion":
            return f"{prompt.system}\n\n{user}" if prompt.system else user
        return self._chat_formatter()(messages=[{"role": "system", "content": prompt.system},
                                                {"role": "user", "content": user}]).prompt

    def _chat_formatter(self):
        if self._formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            llm = self.llm
            template = llm.metadata.get("tokenizer.chat_template")
            if not template:
                raise UserError(f"model {self.name!r} has no chat template in its GGUF",
                                fix='set prompt_style = "completion" for it in models.toml')
            text = llm._model.token_get_text
            self._formatter = Jinja2ChatFormatter(template=template, eos_token=text(llm.token_eos()),
                                                  bos_token=text(llm.token_bos()), add_generation_prompt=True)
        return self._formatter

    def _tokens(self, text: str) -> list[int]:
        llm = self.llm
        tokens = llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)
        if len(tokens) >= llm.n_ctx():
            raise UserError(f"model {self.name!r}: prompt of {len(tokens)} tokens exceeds n_ctx={llm.n_ctx()}",
                            fix="raise n_ctx in models.toml or lower k (demonstrations)")
        return tokens

    # -- evaluation --------------------------------------------------------------------------
    def _eval_to(self, tokens: list[int], stats: TokenStats) -> np.ndarray:
        """Make the context hold exactly `tokens`, reusing the longest cached prefix;
        return the log-softmax of the next-token logits."""
        llm = self.llm
        cached = llm.input_ids[: llm.n_tokens]
        common = 0
        limit = min(len(cached), len(tokens) - 1)  # the last token is always evaluated, for its logits
        while common < limit and cached[common] == tokens[common]:
            common += 1
        llm.n_tokens = common
        llm.eval(tokens[common:])
        stats.reused += common
        stats.evaluated += len(tokens) - common
        return self._logprobs()

    def _logprobs(self) -> np.ndarray:
        ptr = self.llm._ctx.get_logits_ith(-1)
        logits = np.ctypeslib.as_array(ptr, shape=(self._n_vocab,)).astype(np.float64)
        logits -= logits.max()
        return logits - np.log(np.exp(logits).sum())

    def _pick(self, logprobs: np.ndarray, grammar) -> int:
        if self.spec.temperature > 0:
            p = np.exp(logprobs / self.spec.temperature)
            token = int(self._rng.choice(len(p), p=p / p.sum()))
        else:
            token = int(np.argmax(logprobs))
        if grammar is None or grammar.allows(token):
            return token
        return grammar.best_allowed(logprobs)

    def generate(self, prompt: Prompt, *, stop: Sequence[str] = (), max_tokens: int = 128,
                 max_lines: int | None = None, grammar: str | None = None, prefill: str = "") -> str:
        import llama_cpp

        with self._lock:
            started = time.perf_counter()
            stats = TokenStats(calls=1)
            tokens = self._tokens(self.render(prompt) + prefill)
            logprobs = self._eval_to(tokens, stats)
            checker = _Grammar(self, grammar) if grammar else None
            out: list[int] = []
            text = ""
            try:
                for _ in range(max_tokens):
                    token = self._pick(logprobs, checker)
                    if llama_cpp.llama_vocab_is_eog(self._vocab, token):
                        break
                    if checker:
                        checker.accept(token)
                    out.append(token)
                    stats.generated += 1
                    text = self.llm.detokenize(out).decode("utf-8", errors="ignore")
                    cut = _cut(text, stop, max_lines)
                    if cut is not None:
                        text = cut
                        break
                    self.llm.eval([token])
                    stats.evaluated += 1
                    logprobs = self._logprobs()
            finally:
                if checker:
                    checker.free()
            stats.seconds = time.perf_counter() - started
            self.stats.add(stats)
            return text

    def score(self, prompt: Prompt, continuations: Sequence[str], prefill: str = "") -> list[float]:
        """Sum of token log-probabilities of each continuation. The prefix is evaluated once;
        each candidate rewinds to it (n_tokens) and evaluates only its own tokens."""
        with self._lock:
            started = time.perf_counter()
            stats = TokenStats(calls=1)
            base = self._tokens(self.render(prompt) + prefill)
            first = self._eval_to(base, stats)
            n_base = len(base)
            results = []
            for cont in continuations:
                toks = self.llm.tokenize(cont.encode("utf-8"), add_bos=False, special=False)
                total, logprobs = 0.0, first
                for i, tok in enumerate(toks):
                    total += float(logprobs[tok])
                    if i + 1 < len(toks):
                        self.llm.n_tokens = n_base + i
                        self.llm.eval([tok])
                        stats.evaluated += 1
                        logprobs = self._logprobs()
                results.append(total)
            self.llm.n_tokens = n_base
            stats.seconds = time.perf_counter() - started
            self.stats.add(stats)
            return results


def _cut(text: str, stop: Sequence[str], max_lines: int | None) -> str | None:
    """The text to keep when generation should stop now, else None."""
    for s in stop:
        if s and s in text:
            return text[: text.index(s)]
    if max_lines is not None and text.count("\n") >= max_lines:
        return "\n".join(text.split("\n")[:max_lines])
    return None


class _Grammar:
    """A GBNF grammar sampler. Checking one token is cheap; the full-vocabulary pass runs
    only when the greedy token is rejected."""

    def __init__(self, model: LlamaCppModel, gbnf: str):
        import llama_cpp

        self._lib = llama_cpp
        self._model = model
        self._smpl = llama_cpp.llama_sampler_init_grammar(model._vocab, gbnf.encode("utf-8"), b"root")
        if not self._smpl:
            raise ValueError("invalid GBNF grammar")

    def _apply(self, ids: np.ndarray, logits: np.ndarray) -> np.ndarray:
        data = np.zeros(len(ids), dtype=_TOKEN_DATA)
        data["id"], data["logit"] = ids, logits
        arr = self._lib.llama_token_data_array(
            data=data.ctypes.data_as(self._lib.llama_token_data_p), size=len(ids), selected=-1, sorted=False)
        self._lib.llama_sampler_apply(self._smpl, ctypes.byref(arr))
        return data["logit"]

    def allows(self, token: int) -> bool:
        return bool(np.isfinite(self._apply(np.array([token]), np.zeros(1))[0]))

    def best_allowed(self, logprobs: np.ndarray) -> int:
        masked = self._apply(np.arange(len(logprobs)), logprobs.astype(np.single))
        return int(np.argmax(masked))

    def accept(self, token: int) -> None:
        self._lib.llama_sampler_accept(self._smpl, token)

    def free(self) -> None:
        self._lib.llama_sampler_free(self._smpl)
