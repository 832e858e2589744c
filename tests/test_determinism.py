"""A document is tagged the same whatever was tagged before it in the process: the models' KV
caches then hold other text, and llama.cpp's floats depend on how tokens were batched, so the
backend evaluates every prompt in the same segments whatever the cache holds (llama_cpp_backend)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from el4ner_local.llm import load_model
from el4ner_local.pipeline.prompts import EXTRACT_PREFILL, PromptBook, classify_prefill
from el4ner_local.schema import parse_labels

pytestmark = pytest.mark.models

# News-like text written for this test. A and B share no names, so that B's spans are embedded
# for retrieval (and cached by the embedder) the same way in both runs: only the models' caches differ.
A = (
    "Angela Merkel met Emmanuel Macron in Berlin on Tuesday. "
    "The two leaders discussed a trade deal with executives from Siemens.\n"
)
B = "Taylor Swift performed in London last night. Fans travelled from Manchester to see her at Wembley Stadium.\n"


FULL = """
[profiles.full]
models = ["qwen2.5-coder-0.5b", "smollm2-135m", "gemma3-270m"]
k = 2
demo_words = 12
extract_min_votes = 1
retrieval_spans = "models"
type_source = "both"
verify = true
"""


def _full_method(tmp_path, default_models):
    """The default models.toml with a profile of all four stages of EL4NER on the three small models (the
    fast profile's demonstrations), so that generation (stages 1-2) and scoring (stage 3 classification,
    stage 4 verification) all run; `_tag` runs it."""
    path = tmp_path / "models.toml"
    path.write_text(default_models.path.read_text(encoding="utf-8") + FULL, encoding="utf-8")
    return path


def _tag(models, out, *files) -> dict[str, dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "el4ner_local.cli", "tag", *map(str, files), "-o", str(out), "--models", str(models)]
        + ["--profile", "full"],
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return {r["name"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}


def test_a_document_is_tagged_the_same_alone_or_after_another(tmp_path, default_models):
    """The user's view, through the CLI. Only B's first call per model sees A in the cache (later
    calls share B's own prompts), so a difference shows here only where it flips that greedy
    answer or a rounded probability; the next test compares the floats themselves."""
    models = _full_method(tmp_path, default_models)
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text(A, encoding="utf-8")
    b.write_text(B, encoding="utf-8")
    alone = _tag(models, tmp_path / "alone.jsonl", b)  # a fresh process: caches that never saw A
    after = _tag(models, tmp_path / "after.jsonl", a, b)
    assert set(alone) == {str(b)} and set(after) == {str(a), str(b)}
    record = alone[str(b)]
    # every stage ran on B: zero-shot spans, extraction, every model's type scores and verification
    candidates = [c for s in record["sentences"] for c in s["candidates"]]
    assert all(s["stage1_spans"] for s in record["sentences"])
    assert any(c["type_probs"] and c["verification"] for c in candidates)
    # (the small models' verification rejects most spans, so the labels are checked on the candidates)
    assert {(c["text"], c["label"]) for c in candidates} & {("Taylor Swift", "person"), ("London", "location")}
    assert after[str(b)] == record  # every answer, vote and rounded probability


def test_each_model_answers_the_same_floats_with_an_empty_cache_or_after_another_sentence(default_models):
    """The pipeline's own prompts, on each default model: B's scores and generation from an empty
    KV cache equal, to the bit, those after A's prompt (same instructions, another sentence)
    filled the cache. The cache then serves B's instructions; before the backend evaluated fixed
    segments, Qwen's and Gemma's logits moved by up to 0.8 with where the cached prefix ended."""
    book = PromptBook(parse_labels("person,location"))
    a = book.extract(book.shared("Angela Merkel met Emmanuel Macron in Berlin on Tuesday."))
    b = book.extract(book.shared("Taylor Swift performed in London last night."))
    prefill = classify_prefill("Taylor Swift")
    for spec in default_models.models:
        model = load_model(spec)
        model.reset()
        fresh_scores = model.score(b, book.classify_options(), prefill=prefill)
        model.reset()
        fresh_text = model.generate(b, prefill=EXTRACT_PREFILL, max_tokens=24)
        model.generate(a, prefill=EXTRACT_PREFILL, max_tokens=8)
        after_scores = model.score(b, book.classify_options(), prefill=prefill)
        model.generate(a, prefill=EXTRACT_PREFILL, max_tokens=8)
        after_text = model.generate(b, prefill=EXTRACT_PREFILL, max_tokens=24)
        assert model.stats.reused > 0  # the cache did serve part of B's prompt
        assert fresh_text.strip() and (after_scores, after_text) == (fresh_scores, fresh_text), spec.name


def test_prompt_lookup_drafting_runs_on_llama_cpp_and_answers_whatever_the_cache_held(default_models):
    """Issue 18: drafting (off by default: its batched floats change some real answers, docs/speed.md;
    tests/test_prompt_lookup.py checks its bookkeeping exactly) on llama.cpp itself: drafts are taken,
    a prompt gets the same drafted answer from an empty cache or after another, and the next call
    without drafting answers as it does from an empty cache."""
    book = PromptBook(parse_labels("person,location"))
    a = book.extract(book.shared("Angela Merkel met Emmanuel Macron in Berlin on Tuesday."))
    b = book.extract(book.shared("Taylor Swift performed in London last night."))
    for spec in default_models.models[:2]:
        model = load_model(spec)
        try:
            model.reset()
            model.draft_tokens = 0
            plain_b = model.generate(b, prefill=EXTRACT_PREFILL, max_tokens=32)
            model.draft_tokens = 4
            accepted = model.drafts[1]
            drafted_a = model.generate(a, prefill=EXTRACT_PREFILL, max_tokens=32)  # after b
            assert model.drafts[1] > accepted, spec.name
            model.reset()
            assert model.generate(a, prefill=EXTRACT_PREFILL, max_tokens=32) == drafted_a, spec.name
            model.draft_tokens = 0
            assert model.generate(b, prefill=EXTRACT_PREFILL, max_tokens=32) == plain_b, spec.name
        finally:
            model.draft_tokens = 0
