"""The evaluation harness: sample selection, scoring arithmetic, rescoring from records, the record cache,
the eval command, and one small real run."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from el4ner_local.documents import LabelledSentence, Span, tokenize
from el4ner_local.evaluation.cache import RecordCache
from el4ner_local.evaluation.records import recording_tagger, run_records, sample, sentence_id
from el4ner_local.evaluation.report import format_report
from el4ner_local.evaluation.scoring import (
    Counts,
    entity_set,
    estimate_weights,
    gold_tags,
    rescore,
    restrict,
    score_entries,
    seqeval_scores,
    throughput,
)
from el4ner_local.llm.backend import TokenStats
from el4ner_local.pipeline.records import Candidate, SentenceRecord
from el4ner_local.pipeline.votes import VoteRule


def labelled(text: str, entities: list[tuple[str, str]]) -> LabelledSentence:
    spans = []
    for surface, label in entities:
        start = text.index(surface)
        spans.append(Span(start, start + len(surface), label))
    return LabelledSentence(text, tokenize(text), spans)


def cand(
    text: str,
    surface: str,
    by: dict[str, str],
    probs: dict[str, dict[str, float]] | None = None,
    verification: dict[str, float] | None = None,
) -> Candidate:
    start = text.index(surface)
    return Candidate(
        start,
        start + len(surface),
        surface,
        extracted_by=list(by),
        extracted_types=dict(by),
        type_probs=probs or {},
        verification=verification or {},
    )


def entry(sent: LabelledSentence, cands: list[Candidate], verified: list | None = None) -> dict:
    record = SentenceRecord(0, len(sent.text), candidates=cands)
    return {
        "id": sentence_id(sent.text),
        "text": sent.text,
        "record": record.to_json(),
        "verified_labels": verified or [None] * len(cands),
        "seconds": 2.0,
        "stats": {"2-extraction": {"a": {"evaluated": 100, "reused": 50, "generated": 10, "calls": 1, "seconds": 1.0}}},
        "peak_rss_mb": 123.0,
    }


S1 = labelled("Ada Lovelace lives in London .", [("Ada Lovelace", "person"), ("London", "location")])
S2 = labelled("Paris Hilton visited Berlin today .", [("Paris Hilton", "person"), ("Berlin", "location")])


def records():
    """Model a finds Ada Lovelace/person, London/location, Paris/location (wrong span), Berlin/location.
    Model b finds Ada Lovelace/person, London/person (wrong type), Paris Hilton/person, today/person."""
    e1 = entry(
        S1,
        [
            cand(S1.text, "Ada Lovelace", {"a": "person", "b": "person"}),
            cand(S1.text, "London", {"a": "location", "b": "person"}),
        ],
    )
    e2 = entry(
        S2,
        [
            cand(S2.text, "Paris", {"a": "location"}),
            cand(S2.text, "Paris Hilton", {"b": "person"}),
            cand(S2.text, "Berlin", {"a": "location"}),
            cand(S2.text, "today", {"b": "person"}),
        ],
    )
    return [e1, e2], [S1, S2]


EXTRACT = VoteRule(extract_min_votes=1, type_source="extract", verify=False)


def test_member_alone_scores_by_hand():
    entries, gold = records()
    a = score_entries(entries, gold, EXTRACT, ["a"])
    # a: Ada Lovelace/person ok, London/location ok, Paris/location wrong, Berlin/location ok: 3 of 4, 3 of 4 gold
    assert (a["precision"], a["recall"], a["f1"]) == (0.75, 0.75, 0.75)
    b = score_entries(entries, gold, EXTRACT, ["b"])
    # b: Ada Lovelace ok, London/person wrong, Paris Hilton ok, today wrong: P 2/4, R 2/4
    assert (b["precision"], b["recall"], b["f1"]) == (0.5, 0.5, 0.5)
    assert b["per_type"]["person"] == {
        "precision": round(2 / 4, 4),
        "recall": 1.0,
        "f1": round(2 * 0.5 / 1.5, 4),
        "support": 2,
    }
    assert b["per_type"]["location"]["recall"] == 0.0


def test_union_and_vote_by_hand():
    entries, gold = records()
    union = score_entries(entries, gold, EXTRACT)
    # London: a says location, b person: a tie of one vote each, alphabetical tie-break -> location (right).
    # Paris (location) and Paris Hilton (person) overlap with equal confidence 1.0: the longer one wins.
    # Accepted: Ada Lovelace, London/location, Paris Hilton, Berlin, today -> 4 of 5 right, 4 of 4 gold.
    assert union["counts"] == {"tp": 4, "pred": 5, "gold": 4}
    assert (union["precision"], union["recall"]) == (0.8, 1.0)
    assert union["f1"] == round(2 * 0.8 / 1.8, 4)
    vote = score_entries(entries, gold, replace(EXTRACT, extract_min_votes=2))
    assert vote["counts"] == {"tp": 2, "pred": 2, "gold": 4}  # Ada Lovelace and London, both right
    weighted = score_entries(entries, gold, replace(EXTRACT, weights={"a": 1.0, "b": 0.2}))
    # London: a's location outweighs b's person; Paris (a) now outranks Paris Hilton (b): its support is larger
    assert weighted["counts"] == {"tp": 3, "pred": 5, "gold": 4}


def test_seqeval_agrees_with_exact_span_counting():
    entries, gold = records()
    for rule in (EXTRACT, replace(EXTRACT, extract_min_votes=2), replace(EXTRACT, weights={"b": 3.0})):
        for models in (None, ["a"], ["b"]):
            res = rescore(entries, gold, rule, models)
            seq = seqeval_scores(gold_tags(gold), res.tags)
            p, r, f = Counts.prf(res.counts.tp, res.counts.pred, res.counts.gold)
            assert (seq["precision"], seq["recall"], seq["f1"]) == (round(p, 4), round(r, 4), round(f, 4))


def test_entity_set_is_strict_iob2():
    assert entity_set(["B-x", "I-x", "O", "B-y", "B-y", "I-x"]) == {(0, 2, "x"), (3, 4, "y"), (4, 5, "y")}


def test_verification_only_counts_for_the_label_it_was_asked_about():
    sent = labelled("Ada Lovelace lives in London .", [("Ada Lovelace", "person")])
    probs = {"a": {"person": 0.9, "location": 0.05, "none": 0.05}, "b": {"person": 0.2, "location": 0.7, "none": 0.1}}
    c = cand(sent.text, "Ada Lovelace", {"a": "", "b": ""}, probs, {"a": 0.2, "b": 0.3})
    e = entry(sent, [c], verified=["person"])
    rule = VoteRule(extract_min_votes=1, type_source="classify", verify=True, verify_threshold=0.5)
    assert score_entries([e], [sent], rule)["counts"]["pred"] == 0  # person, rejected by its verifiers
    assert score_entries([e], [sent], replace(rule, verify=False))["counts"]["tp"] == 1
    # b alone labels it location, which nobody verified: accepted unverified, and counted as such
    alone = score_entries([e], [sent], rule, ["b"], ["b"])
    assert alone["counts"]["pred"] == 1 and alone["unverified"] == 1


def test_restrict_keeps_only_one_models_answers():
    c = cand(
        S1.text,
        "London",
        {"a": "location", "b": "person"},
        {"a": {"location": 1.0}, "b": {"person": 1.0}},
        {"a": 0.9, "b": 0.1},
    )
    only_b = restrict(c, {"b"}, {"b"})
    assert only_b.extracted_by == ["b"] and list(only_b.type_probs) == ["b"] and only_b.verification == {"b": 0.1}
    assert restrict(cand(S1.text, "London", {"a": "location"}), {"b"}) is None
    assert c.extracted_by == ["a", "b"]  # the original is untouched


def test_sample_is_fixed_and_prefix_stable():
    sents = [labelled(f"s{i} x .", []) for i in range(50)]
    assert sample(sents, 10, 3) == sample(sents, 10, 3)
    assert sample(sents, 20, 3)[:10] == sample(sents, 10, 3)
    assert sample(sents, 10, 3) != sample(sents, 10, 4)
    assert sample(sents, None) == sents


def test_estimated_weights_favour_the_better_member():
    entries, gold = records()
    w = estimate_weights(entries, gold, ["a", "b"], EXTRACT)
    assert w["a"] == 1.0 and w["b"] == round(0.5 / 0.75, 4)


def test_throughput_from_entries():
    entries, _ = records()
    t = throughput(entries)
    assert t["sentences"] == 2 and t["sentences_per_second"] == 0.5
    assert t["tokens_per_sentence"]["2-extraction"]["a"]["evaluated"] == 100


# -- the pipeline and the cache, with stand-in models ---------------------------------------------------------


class FakeLLM:
    """Answers extraction with fixed lines; scores by a fixed preference. Counts its calls in stats."""

    def __init__(self, name: str, answer: str, prefer: str):
        self.name, self.answer, self.prefer = name, answer, prefer
        self.identity = f"fake:{name}:{answer}:{prefer}"
        self.stats = TokenStats()

    def render(self, prompt) -> str:
        return prompt.system + prompt.shared + prompt.question

    def generate(self, prompt, *, stop=(), max_tokens=128, max_lines=None, prefill="", **more):
        self.stats.calls += 1
        self.stats.evaluated += 10
        self.stats.generated += 3
        return self.answer

    def score(self, prompt, continuations, prefill=""):
        self.stats.calls += 1
        self.stats.evaluated += 2
        return [0.0 if c.strip().lower() == self.prefer else -3.0 for c in continuations]


def fake_models():
    return [FakeLLM("a", "Ada Lovelace | person\nLondon | location", "person"), FakeLLM("b", "London | person", "yes")]


def test_cache_resumes_without_model_calls(tmp_path):
    gold = [S1, S2]
    llms = fake_models()
    tagger = recording_tagger(None, "none", labels=["person", "location"], llms=llms)
    cache = RecordCache.for_tagger(tagger, "none", tmp_path)
    first = run_records(tagger, gold[:1], cache)  # "interrupted" after one sentence
    calls = sum(m.stats.calls for m in llms)
    assert calls > 0 and cache.path.exists()
    with open(cache.path, "a", encoding="utf-8") as f:
        f.write('{"id": "torn line')  # a write cut by a crash
    tagger2 = recording_tagger(None, "none", labels=["person", "location"], llms=llms)
    cache2 = RecordCache.for_tagger(tagger2, "none", tmp_path)
    assert cache2.path == cache.path
    both = run_records(tagger2, gold, cache2)
    after_resume = sum(m.stats.calls for m in llms)
    assert after_resume > calls  # only the second sentence ran
    assert both[0] == first[0]
    tagger3 = recording_tagger(None, "none", labels=["person", "location"], llms=llms)
    again = run_records(tagger3, gold, RecordCache.for_tagger(tagger3, "none", tmp_path))
    assert sum(m.stats.calls for m in llms) == after_resume  # no model call at all
    assert again == both
    assert [c["text"] for c in again[0]["record"]["candidates"]] == ["Ada Lovelace", "London"]
    assert again[0]["verified_labels"][0] == "person"
    assert set(again[0]["stats"]) >= {"2-extraction", "3-classification"}
    # a changed setting is a new configuration: a new file
    tagger4 = recording_tagger(
        None, "none", labels=["person", "location"], llms=[FakeLLM("a", "London | location", "person")]
    )
    assert RecordCache.for_tagger(tagger4, "none", tmp_path).path != cache.path
    cut = recording_tagger(None, "none", labels=["person", "location"], llms=llms, overrides={"demo_words": 12})
    assert RecordCache.for_tagger(cut, "none", tmp_path).path != cache.path  # what the models are shown is in the key
    score = score_entries(again, gold, VoteRule(extract_min_votes=1, type_source="both", verify=False))
    assert score["counts"]["gold"] == 4


@pytest.fixture
def stand_in_corpus(tmp_path, monkeypatch):
    """A two-sentence pool and a one-sentence test file, indexed with a stand-in embedder."""
    import numpy as np

    from el4ner_local.retrieval import DemoIndex
    from el4ner_local.retrieval.embedder import EmbedderIdentity

    class HashEmbedder:
        def identity(self):
            return EmbedderIdentity("hash", 16, "0" * 64)

        def encode(self, texts):
            out = np.zeros((len(texts), 16), dtype=np.float32)
            for i, t in enumerate(texts):
                for w in t.lower().split():
                    out[i, hash(w) % 16] += 1
                out[i] /= max(np.linalg.norm(out[i]), 1e-6)
            return out

    pool = tmp_path / "pool.conll"
    pool.write_text("Ada\tB-person\nLovelace\tI-person\nwrote\tO\n\nLondon\tB-location\nrains\tO\n\n", encoding="utf-8")
    test = tmp_path / "test.conll"
    test.write_text(
        "Ada\tB-person\nLovelace\tI-person\nlives\tO\nin\tO\nLondon\tB-location\n.\tO\n\n", encoding="utf-8"
    )
    real_build, real_load = DemoIndex.build.__func__, DemoIndex.load.__func__
    monkeypatch.setattr(
        DemoIndex, "build", classmethod(lambda cls, *a, **kw: real_build(cls, *a, **{**kw, "embedder": HashEmbedder()}))
    )
    monkeypatch.setattr(
        DemoIndex, "load", classmethod(lambda cls, *a, **kw: real_load(cls, *a, **{**kw, "embedder": HashEmbedder()}))
    )
    return test, pool


def test_eval_of_one_member_scores_the_vote_of_that_member(tmp_path, stand_in_corpus):
    """`eval --only` one model under the default 2-vote rule: the ensemble line is that member's own vote
    (at most one vote each; zero-shot, so no pool names stand in for it)."""
    from el4ner_local.evaluation.run import evaluate

    test, pool = stand_in_corpus
    from el4ner_local.config import load_config

    first = load_config(None).models[0].name
    one = [FakeLLM(first, "Ada Lovelace | person\nLondon | location", "person")]
    report = evaluate(test, pool, limit=1, retrieval=["none"], root=tmp_path / "c", llms=one, only=[first])
    counts = report["runs"]["none"]["ensemble"]["counts"]
    assert counts["pred"] == 2 and counts["tp"] >= 1  # both spans accepted; stage 3 types London a person


def test_eval_command_on_stand_ins(tmp_path, stand_in_corpus):
    """The whole report (all four retrieval modes) with stand-in models and a stand-in embedder."""
    from el4ner_local.evaluation.run import evaluate

    test, pool = stand_in_corpus
    report = evaluate(
        test,
        pool,
        limit=1,
        retrieval=["span", "none", "random", "sentence"],
        root=tmp_path / "c",
        llms=fake_models(),
        rule=EXTRACT,  # the stand-ins' types are their extraction answers (their stage-3 favourite is fixed)
    )
    assert set(report["runs"]) == {"span", "none", "random", "sentence"}
    assert report["runs"]["span"]["computed"] == 1 and report["runs"]["none"]["k"] == 0
    assert report["runs"]["span"]["members"]["a"]["f1"] == 1.0
    abl = report["runs"]["span"]["ablations"]
    assert any(name.startswith(("no verification", "verification (")) for name in abl)  # the default's opposite
    assert "vote at extraction (2 of 2)" in abl and "type source: classify" in abl
    # the default rule uses the pool's names and unlabelled words: each is an ablation
    assert "without the pool's names" in abl and "keeping the words the pool leaves unlabelled" in abl
    again = evaluate(test, pool, limit=1, retrieval=["span"], root=tmp_path / "c", llms=fake_models())
    assert again["runs"]["span"]["cached"] == 1 and again["runs"]["span"]["computed"] == 0
    text = format_report(report)
    assert "ensemble, span retrieval" in text and "a alone" in text
    json.dumps(report)


@pytest.mark.models
def test_real_run_on_two_wnut_sentences(tmp_path, default_models):
    """Qwen alone, zero-shot, on two WNUT-17 test sentences: real records, scores and token counts."""

    from corpora import shared_data

    from el4ner_local.formats import read_labelled

    data = shared_data() / "wnut17" / "emerging.test.annotated"
    gold = sample(read_labelled(data), 2, seed=0)
    labels = ["person", "location", "group", "creative-work", "corporation", "product"]
    tagger = recording_tagger(None, "none", labels=labels, only=["qwen2.5-coder-0.5b"])
    cache = RecordCache.for_tagger(tagger, "none", tmp_path)
    entries = run_records(tagger, gold, cache)
    assert len(entries) == 2 and all(e["seconds"] > 0 for e in entries)
    t = throughput(entries)
    assert t["tokens_per_sentence"]["2-extraction"]["qwen2.5-coder-0.5b"]["generated"] > 0
    score = score_entries(entries, gold, VoteRule(extract_min_votes=1, type_source="both", verify=True))
    assert 0.0 <= score["f1"] <= 1.0 and score["counts"]["gold"] == sum(len(s.spans) for s in gold)
    calls = tagger.stats.as_dict()
    again = run_records(tagger, gold, RecordCache.for_tagger(tagger, "none", tmp_path))
    assert again == entries and tagger.stats.as_dict() == calls


def test_zero_shot_votes_can_be_taken_back_out():
    sent = labelled("Ada Lovelace lives in London .", [("Ada Lovelace", "person"), ("London", "location")])
    london = cand(sent.text, "London", {"a": "location", "b": "location"})
    london.zero_shot_only = ["b"]
    only_zs = cand(sent.text, "Ada Lovelace", {"b": "person"})
    only_zs.zero_shot_only = ["b"]
    e = entry(sent, [only_zs, london])
    assert score_entries([e], [sent], EXTRACT)["counts"]["tp"] == 2
    without = score_entries([e], [sent], EXTRACT, zero_shot=False)
    assert without["counts"] == {"tp": 1, "pred": 1, "gold": 2}
    assert restrict(london, None, None, zero_shot=False).extracted_by == ["a"]
    assert score_entries([e], [sent], replace(EXTRACT, extract_min_votes=2), zero_shot=False)["counts"]["pred"] == 0


def test_eval_command_is_mounted_and_checks_its_options(tmp_path):
    from typer.testing import CliRunner

    from el4ner_local.cli import app
    from el4ner_local.errors import UserError

    runner = CliRunner()
    assert "--limit" in runner.invoke(app, ["eval", "--help"]).output
    bad = runner.invoke(app, ["eval", "--data", "x", "--pool", "y", "--retrieval", "spam"])
    assert isinstance(bad.exception, UserError) and "spam" in str(bad.exception)
    missing = runner.invoke(app, ["eval", "--data", str(tmp_path / "nope.conll"), "--pool", "y", "--retrieval", "none"])
    assert isinstance(missing.exception, UserError) and "nope.conll" in str(missing.exception)


def test_lean_records_hold_extraction_only_and_have_their_own_cache(tmp_path):
    """Lean records (the large-sample runs) skip classification and verification; they still score
    every rule that takes types from extraction without verification, the same as full records."""
    full_tagger = recording_tagger(None, "none", labels=["person", "location"], llms=fake_models())
    lean_llms = fake_models()
    lean_tagger = recording_tagger(None, "none", labels=["person", "location"], llms=lean_llms, stages="lean")
    full = run_records(full_tagger, [S1, S2], RecordCache.for_tagger(full_tagger, "none", tmp_path))
    lean = run_records(lean_tagger, [S1, S2], RecordCache.for_tagger(lean_tagger, "none", tmp_path))
    assert (
        RecordCache.for_tagger(lean_tagger, "none", tmp_path).path
        != RecordCache.for_tagger(full_tagger, "none", tmp_path).path
    )
    assert sum(m.stats.calls for m in lean_llms) == 4  # one extraction per model and sentence, nothing else
    for entry in lean:
        assert all(not c["type_probs"] and not c["verification"] for c in entry["record"]["candidates"])
    rule = VoteRule(extract_min_votes=1, type_source="extract", verify=False)
    for ev in (1, 2):
        assert score_entries(lean, [S1, S2], replace(rule, extract_min_votes=ev)) == score_entries(
            full, [S1, S2], replace(rule, extract_min_votes=ev)
        )


def test_the_retrieval_span_source_keys_span_records_only(tmp_path):
    def path(mode, source):
        tagger = recording_tagger(
            None, mode, labels=["person"], llms=fake_models(), overrides={"retrieval_spans": source}
        )
        return RecordCache.for_tagger(tagger, mode, tmp_path).path

    assert path("span", "words") != path("span", "models")
    assert path("random", "words") == path("random", "models")  # no stage-1 spans without span retrieval


def test_the_cache_key_keeps_the_spelling_and_values_of_old_records():
    """A changed key silently orphans every cached record, so the key names retrieval_spans by the name it
    had when the first records were taken ("candidates"), and leaves out a setting added later while it
    has the value that behaves as before it existed."""
    from el4ner_local.evaluation.cache import config_description

    def keyed(**overrides):
        tagger = recording_tagger(None, "span", labels=["person"], llms=fake_models(), overrides=overrides)
        return config_description(tagger, "span")["settings"]

    words = keyed(retrieval_spans="words", demo_words=12, max_junk_lines=2)
    assert (words["candidates"], words["demo_words"], words["max_junk_lines"]) == ("words", 12, 2)
    assert "retrieval_spans" not in words
    before = keyed(retrieval_spans="models", demo_words=0, max_junk_lines=0)
    assert not {"candidates", "demo_words", "max_junk_lines"} & set(before)
