"""The llama.cpp backend on the real default models (SmolLM2-135M and Qwen2.5-Coder-0.5B),
fetched once into the user cache by the session fixture: real text, real log-probabilities."""

from __future__ import annotations

import math

import numpy as np
import pytest

from el4ner_local.errors import UserError
from el4ner_local.llm import load_model, sources
from el4ner_local.llm.backend import Prompt, cut_answer

pytestmark = pytest.mark.models

SYSTEM = "You are a helpful assistant."
FRANCE = Prompt(SYSTEM, "What is the capital of France? Answer in one word.")


@pytest.fixture(scope="module")
def qwen(default_models):
    return load_model(default_models.model("qwen2.5-coder-0.5b"))


@pytest.fixture(scope="module")
def smol(default_models):
    return load_model(default_models.model("smollm2-135m"))


def test_qwen_knows_the_capital_of_france(qwen):
    assert "Paris" in qwen.generate(FRANCE, max_tokens=8)


def test_chat_template_is_applied(qwen, smol):
    for model in (qwen, smol):
        text = model.render(FRANCE)
        assert "<|im_start|>system\nYou are a helpful assistant." in text
        assert text.rstrip().endswith("<|im_start|>assistant")


def test_generation_is_deterministic_whatever_the_cache_holds(qwen, smol):
    for model in (smol, qwen):
        prompt = Prompt(SYSTEM, "Name three colours.")
        first = model.generate(prompt, max_tokens=12)
        again = model.generate(prompt, max_tokens=12)  # fully cached prefix
        model.generate(Prompt("Be brief.", "Say hello."), max_tokens=5)  # something else in between
        third = model.generate(prompt, max_tokens=12)
        assert first and first == again == third


def test_stop_string_cuts_the_answer_where_it_appears(smol):
    prompt = Prompt(SYSTEM, "Name the capital of France in one word.")
    full = smol.generate(prompt, max_tokens=24)
    assert "Paris" in full
    assert smol.generate(prompt, max_tokens=24, stop=["Paris"]) == full[: full.index("Paris")]
    # the first of several stop strings found wins, wherever it is in the list
    word = full.split()[1]
    cut = smol.generate(prompt, max_tokens=24, stop=["Paris", word])
    assert cut == full[: full.index(word)] and word not in cut


def test_max_lines_bounds_a_long_answer(qwen):
    prompt = Prompt(SYSTEM, "List ten fruits, one per line, nothing else.")
    full = qwen.generate(prompt, max_tokens=32)
    assert len(full.strip().splitlines()) >= 4
    before = qwen.stats.copy()
    two = qwen.generate(prompt, max_tokens=32, max_lines=2)
    spent = qwen.stats.minus(before)
    assert two.strip().splitlines() == full.strip().splitlines()[:2]
    assert spent.generated < len(qwen.llm.tokenize(full.encode(), add_bos=False))  # it stopped early


def test_cut_ignores_blank_lines_before_the_answer():
    assert cut_answer("\n\nParis\nLondon", (), 1) == "\n\nParis"
    assert cut_answer("\n\nParis", (), 1) is None
    assert cut_answer("a\nb\nc", ("b",), 5) == "a\n"


def test_shared_prefix_is_served_from_the_kv_cache(smol):
    shared = "Sentence: Ada Lovelace worked with Charles Babbage in London on the Analytical Engine.\n" * 3
    smol.generate(Prompt("Unrelated.", "Clear the cache."), max_tokens=2)
    before = smol.stats.copy()
    smol.generate(Prompt(SYSTEM, shared, "Question: who is mentioned?"), max_tokens=8)
    first = smol.stats.minus(before)
    before = smol.stats.copy()
    smol.generate(Prompt(SYSTEM, shared, "Question: which city is named?"), max_tokens=8)
    second = smol.stats.minus(before)
    shared_tokens = len(smol.llm.tokenize(shared.encode(), add_bos=False))
    assert second.reused > shared_tokens
    assert second.evaluated < first.evaluated
    assert second.calls == first.calls == 1
    # every prompt token is either reused or evaluated; generated tokens are evaluated too,
    # except possibly the last one (generation stopped before feeding it back)
    prompt_tokens = len(
        smol.llm.tokenize(
            smol.render(Prompt(SYSTEM, shared, "Question: which city is named?")).encode(), add_bos=True, special=True
        )
    )
    assert second.reused + second.evaluated - second.generated in (prompt_tokens - 1, prompt_tokens)


def test_scores_prefer_the_right_answer_and_are_log_probabilities(qwen):
    prompt = Prompt(SYSTEM, "What is the capital of France?")
    prefill = "The capital of France is"
    paris, london = qwen.score(prompt, [" Paris", " London"], prefill=prefill)
    assert paris > london
    assert all(math.isfinite(s) and s < 0 for s in (paris, london))
    # the same floats, to the bit, in another order and whatever the KV cache holds: this prompt,
    # the same instructions with another question, or other instructions (llama.cpp rounds
    # differently when the same tokens are batched differently; Qwen's scores moved by up to 0.12)
    london2, paris2 = qwen.score(prompt, [" London", " Paris"], prefill=prefill)
    qwen.generate(Prompt(SYSTEM, "What is the capital of France? Say more."), max_tokens=4)
    paris3, london3 = qwen.score(prompt, [" Paris", " London"], prefill=prefill)
    qwen.generate(Prompt("Be brief.", "Say hello."), max_tokens=4)
    paris4, london4 = qwen.score(prompt, [" Paris", " London"], prefill=prefill)
    assert (paris, london) == (paris2, london2) == (paris3, london3) == (paris4, london4)


def _distinguishing(seq: list[int], others: list[list[int]]) -> int:
    """Tokens of seq up to the first one no other candidate shares (all of it if it is a prefix of another)."""
    for n in range(1, len(seq) + 1):
        if not any(o != seq and o[:n] == seq[:n] for o in others):
            return n
    return len(seq)


def test_scores_equal_a_fresh_evaluation_of_the_whole_sequence(smol):
    """Reference path: a second llama.cpp context with logits for every position evaluates
    prompt + continuation in one batch from an empty cache; log-softmax summed by hand over the
    continuation's tokens up to the one that tells it apart from the other candidates (what
    score() promises: the rest of " Paris, France" is near certain once " Paris" "," is chosen)."""
    from llama_cpp import Llama

    prompt = Prompt(SYSTEM, "Where is the Eiffel Tower?")
    prefill = "The Eiffel Tower is in"
    candidates = [" Paris", " Paris, France", " the city of Paris", " the capital of France", " Berlin"]
    fast = smol.score(prompt, candidates, prefill=prefill)

    reference = Llama(model_path=str(sources.resolve(smol.spec)), n_ctx=1024, logits_all=True, verbose=False)
    base = reference.tokenize((smol.render(prompt) + prefill).encode(), add_bos=True, special=True)
    seqs = [reference.tokenize(c.encode(), add_bos=False, special=False) for c in candidates]
    lengths = [_distinguishing(seq, seqs) for seq in seqs]
    assert lengths == [1, 2, 2, 2, 1]  # so that the multi-token path is exercised
    slow = []
    for seq, n in zip(seqs, lengths, strict=True):
        reference.reset()
        reference.eval(base + seq)
        logits = np.asarray(reference.scores[: len(base) + len(seq)], dtype=np.float64)
        total = 0.0
        for i, tok in enumerate(seq[:n]):
            row = logits[len(base) - 1 + i]
            row = row - row.max()
            total += float(row[tok] - np.log(np.exp(row).sum()))
        slow.append(total)
    del reference
    assert fast == pytest.approx(slow, abs=0.02)
    assert fast[0] > fast[4]  # Paris over Berlin
    assert all(math.isfinite(s) and s < 0 for s in fast)


def test_prompt_longer_than_the_context_is_a_user_error(smol):
    with pytest.raises(UserError, match=r"exceeds n_ctx=4096.*raise n_ctx"):
        smol.generate(Prompt(SYSTEM, "word " * 5000), max_tokens=1)


def test_measure_speed_reports_positive_rates_and_leaves_generation_intact(smol):
    before = smol.generate(FRANCE, max_tokens=12)
    prompt_tps, gen_tps = smol.measure_speed(prompt_tokens=64, generated_tokens=8)
    assert math.isfinite(prompt_tps) and prompt_tps > 0
    assert math.isfinite(gen_tps) and gen_tps > 0
    assert smol.generate(FRANCE, max_tokens=12) == before


def test_a_model_loads_once_per_process(default_models, smol):
    assert load_model(default_models.model("smollm2-135m")) is smol
    assert smol.load_seconds > 0
