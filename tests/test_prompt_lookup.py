"""Prompt-lookup drafting (llama_cpp_backend): the lookup, its setting, and its bookkeeping, the last on
a stand-in for llama.cpp whose logits are a function of the tokens in the context alone (however they
were batched), where drafting must give exactly the answers of one-token-at-a-time greedy decoding.
With llama.cpp's own kernels the floats depend on the batch, and answers can differ (docs/speed.md)."""

from __future__ import annotations

import ctypes
from dataclasses import replace

import llama_cpp
import numpy as np
import pytest

from el4ner_local.config import load_config
from el4ner_local.errors import UserError
from el4ner_local.llm.backend import Prompt
from el4ner_local.llm.llama_cpp_backend import LlamaCppModel, _lookup


def test_drafts_follow_the_latest_earlier_occurrence_of_the_longest_tail():
    #          0  1  2  3  4  5  6  7  8  9
    context = [5, 6, 7, 1, 6, 7, 2, 3, 9, 6, 7]
    assert _lookup(context, 3) == [2, 3, 9]  # "6 7" last seen at 4-5 (not the earlier 1-2)
    assert _lookup(context, 1) == [2]
    assert _lookup([4, 8, 1, 2, 8], 2) == [1, 2]  # only a one-token tail matches
    assert _lookup([1, 2, 3], 4) == []  # the tail never occurred before
    assert _lookup(context, 0) == []


def test_the_draft_setting_is_read_from_the_environment(monkeypatch):
    spec = load_config().models[0]
    assert LlamaCppModel(spec).draft_tokens == 0  # off by default
    monkeypatch.setenv("EL4NER_DRAFT_TOKENS", "3")
    assert LlamaCppModel(spec).draft_tokens == 3
    for wrong in ("many", "-1", "65"):
        monkeypatch.setenv("EL4NER_DRAFT_TOKENS", wrong)
        with pytest.raises(UserError, match="EL4NER_DRAFT_TOKENS"):
            LlamaCppModel(spec)


VOCAB = 30
EOG = 0


def _next(seq: list[int]) -> int:
    """The stand-in model's greedy choice: mostly what followed the last token's latest earlier
    occurrence (so drafts are often right), every fifth position something else, the end at 90."""
    if len(seq) >= 90:
        return EOG
    if len(seq) % 5:
        for i in range(len(seq) - 2, -1, -1):
            if seq[i] == seq[-1]:
                return seq[i + 1]
    return len(seq) * 7 % (VOCAB - 1) + 1


class _Batch:
    def set_batch(self, batch, n_past, logits_all):
        self.tokens, self.n_past = list(batch), n_past


class _Context:
    def __init__(self, llm: _Llama):
        self.llm = llm
        self.rows = np.zeros((1, VOCAB), dtype=np.float32)

    def kv_cache_seq_rm(self, seq_id, p0, p1):
        self.llm.held[p0:] = -1  # what is removed is gone

    def decode(self, batch: _Batch):
        seq = [int(t) for t in self.llm.held[: batch.n_past]]
        assert -1 not in seq, "a batch placed after positions the cache does not hold"
        rows = []
        for token in batch.tokens:
            seq.append(token)
            row = np.full(VOCAB, -4.0, dtype=np.float32)
            row[_next(seq)] = 4.0
            rows.append(row)
        self.rows = np.array(rows)
        self.llm.held[batch.n_past : batch.n_past + len(batch.tokens)] = batch.tokens

    def get_logits_ith(self, i):
        return self.rows[i].ctypes.data_as(ctypes.POINTER(ctypes.c_float))


class _Llama:
    """What the backend uses of llama_cpp.Llama; `held` is what the KV cache holds."""

    def __init__(self):
        self.n_tokens = 0
        self.input_ids = np.zeros(512, dtype=np.intc)
        self.held = np.full(512, -1, dtype=np.intc)
        self._ctx = _Context(self)
        self._batch = _Batch()

    def n_ctx(self):
        return 512

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = False):
        return [b % (VOCAB - 1) + 1 for b in text]

    def detokenize(self, tokens, prev_tokens=None, special=False):
        return bytes(ord("a") + t % 26 for t in tokens)

    def reset(self):
        self.n_tokens = 0

    def eval(self, tokens):
        self._ctx.kv_cache_seq_rm(-1, self.n_tokens, -1)
        self._batch.set_batch(tokens, self.n_tokens, False)
        self._ctx.decode(self._batch)
        self.input_ids[self.n_tokens : self.n_tokens + len(tokens)] = tokens
        self.n_tokens += len(tokens)


def test_drafting_gives_the_greedy_answer_where_floats_do_not_depend_on_the_batch(monkeypatch):
    monkeypatch.setattr(llama_cpp, "llama_vocab_is_eog", lambda vocab, token: token == EOG)
    model = LlamaCppModel(replace(load_config().models[0], prompt_style="completion"))
    model._llm, model._n_vocab, model._vocab = _Llama(), VOCAB, None
    prompts = [Prompt("Name the entities.", "Sentence: Ada Lovelace met Charles Babbage in London.\n")]
    prompts.append(Prompt("Name the entities.", "Sentence: the cat sat on the mat, the cat sat.\n", "Which?"))

    def answers(draft: int, max_tokens: int) -> list[str]:
        model.draft_tokens = draft
        return [model.generate(p, max_tokens=max_tokens, prefill="Entities:") for p in prompts + prompts[::-1]]

    for max_tokens in (7, 200):  # cut while drafts are pending, and ended by the model
        plain = answers(0, max_tokens)
        assert model.drafts == [0, 0] and all(plain)
        for draft in (1, 3, 8):
            assert answers(draft, max_tokens) == plain, (draft, max_tokens)
        proposed, accepted = model.drafts
        assert 0 < accepted < proposed  # drafts taken and drafts dropped
        model.drafts = [0, 0]
