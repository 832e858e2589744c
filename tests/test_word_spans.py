"""The model-free stage-1 proposer (`retrieval_spans = "words"`) and what the setting changes in the stages."""

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from el4ner_local.config import PipelineSettings
from el4ner_local.documents import tokenize
from el4ner_local.llm.backend import TokenStats
from el4ner_local.pipeline.records import SentenceRecord
from el4ner_local.pipeline.stages import SentenceInput, Stages
from el4ner_local.pipeline.votes import VoteRule
from el4ner_local.retrieval.word_spans import word_spans
from el4ner_local.schema import Schema


def spans(text: str, **kw) -> list[str]:
    return word_spans(text, tokenize(text), **kw)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Ada Lovelace was born in London.", ["Ada Lovelace", "born", "London"]),
        ("Barack Obama visited the Eiffel Tower", ["Barack Obama", "visited", "Eiffel Tower"]),
        (
            "Breast cancer in patients with ataxia-telangiectasia",
            ["Breast cancer", "patients", "ataxia-telangiectasia"],
        ),
        ("@justinbieber new song #Believe is out", ["@justinbieber", "new song", "#Believe"]),
        ("It was her and it is 2012 !", []),  # pronouns, stopwords, numbers: nothing to propose
        ("London , London and London", ["London"]),  # repeated mentions: one candidate
        ("北京 is in China 😀 tonight", ["北京", "China", "tonight"]),
    ],
)
def test_runs_of_name_like_and_noun_like_words(text, expected):
    assert spans(text) == expected


def test_long_runs_are_cut_and_offsets_follow_the_base():
    assert spans("alpha beta gamma delta epsilon zeta", max_words=4) == ["alpha beta gamma delta", "epsilon zeta"]
    doc = "Intro.\r\n\tBarack Obama 😀 met Angela Merkel"
    start = doc.index("Barack")
    sentence = doc[start:]
    assert word_spans(sentence, tokenize(sentence, start), base=start) == ["Barack Obama", "met", "Angela Merkel"]


class CountingLLM:
    """Counts calls; answers extraction with one line. Stand-in for checking which stages call a model."""

    def __init__(self, name):
        self.name, self.stats = name, TokenStats()
        self.calls: list[str] = []

    def generate(self, prompt, **kw):
        self.calls.append("generate")
        return "Ada Lovelace | person"

    def score(self, prompt, continuations, prefill=""):
        self.calls.append("score")
        return [0.0] + [-5.0] * (len(continuations) - 1)


def run_stages(settings: PipelineSettings):
    models = [CountingLLM("a"), CountingLLM("b")]
    stages = Stages(models, Schema(("person", "location")), settings, VoteRule.from_settings(settings))
    text = "Ada Lovelace was born in London."
    sent = SentenceInput(text, 0, tokenize(text))
    record = SentenceRecord(start=0, end=len(text))
    spans = stages.retrieval_spans(sent, record)
    stages.run(sent, [], record)
    return models, spans, record


def test_word_retrieval_spans_call_no_model_before_extraction():
    base = PipelineSettings(verify=False, type_source="both")
    models, found, _ = run_stages(replace(base, retrieval_spans="words"))
    assert found == ["Ada Lovelace", "born", "London"]
    assert [m.calls.count("generate") for m in models] == [1, 1]  # stage 2 only
    models, found, _ = run_stages(replace(base, retrieval_spans="models"))
    assert found == ["Ada Lovelace"]
    assert [m.calls.count("generate") for m in models] == [2, 2]  # stage 1 and stage 2


def test_classification_runs_only_when_its_votes_count():
    base = PipelineSettings(verify=False, retrieval_spans="words")
    models, _, record = run_stages(replace(base, type_source="extract"))
    assert all("score" not in m.calls for m in models)
    assert [c.label for c in record.candidates if c.accepted] == ["person"]
    models, _, record = run_stages(replace(base, type_source="both"))
    assert all(m.calls.count("score") == 1 for m in models)
    assert set(record.candidates[0].type_probs) == {"a", "b"}
    # types from extraction with the classify confidence: stage 3 is asked, for the confidence only
    models, _, record = run_stages(replace(base, type_source="extract", confidence_source="classify"))
    assert all(m.calls.count("score") == 1 for m in models)
    (ada,) = [c for c in record.candidates if c.accepted]
    assert ada.label == "person" and set(ada.type_probs) == {"a", "b"}
    assert ada.confidence == ada.type_probs["a"]["person"] < 1.0  # both extracted it: support 1


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(list("aZ@#-' \t\r\n.,😀北京") + ["The ", "London ", "of ", "it "]), max_size=30).map(
        "".join
    ),
    st.integers(0, 5),
)
def test_every_proposal_is_a_piece_of_the_sentence(text, pad):
    found = word_spans(text, tokenize(text, pad), base=pad)  # the sentence starts `pad` characters into its document
    assert len(found) == len(set(found))
    for span in found:
        assert span in text and span == span.strip() and span
        assert tokenize(span)  # never punctuation or space alone
