"""The names the pool knows (pipeline/lexicon.py): which strings become entries, where they match (character
offsets through emoji, CJK, CRLF and tabs), and how decide accepts them after the vote. The tagger test
uses a real index on disk (real embedder) with stand-in models that name nothing, so every entity it
returns is the lexicon's."""

from __future__ import annotations

from dataclasses import replace

import pytest
from corpora import labelled

from el4ner_local.documents import make_document, tokenize
from el4ner_local.llm.backend import TokenStats
from el4ner_local.pipeline.lexicon import NOT_A_NAME, Lexicon, LexiconMatch
from el4ner_local.pipeline.records import Candidate
from el4ner_local.pipeline.votes import VoteRule, decide

POOL = [
    labelled("Aspirin eased the migraine .", ("Aspirin", "drug"), ("migraine", "disease")),
    labelled("A migraine can last days .", ("migraine", "disease")),
    labelled("Her migraine returned .", ("migraine", "disease")),
    labelled("The cluster headache came back .", ("cluster headache", "disease")),
    labelled("A headache is common .", ("headache", "disease")),
    labelled("My headache is gone .", ("headache", "disease")),
    # "US" is labelled once but occurs four times: a word, not a name, to this pool
    labelled("The US said no .", ("US", "location")),
    labelled("Tell US more ."),
    labelled("Join US today ."),
    labelled("Give US time ."),
    # "patients" occurs three times and is never labelled: no entity, by this pool's conventions
    labelled("The patients had a migraine .", ("migraine", "disease")),
    labelled("Most patients recovered ."),
    labelled("Few patients came ."),
]


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon.from_pool(POOL)


def test_an_entry_needs_the_pool_to_label_most_of_its_occurrences(lexicon):
    assert lexicon.entries[("migraine",)] == ("disease", 1.0)  # labelled at each of its 4 occurrences
    assert lexicon.entries[("cluster", "headache")] == ("disease", 1.0)
    assert ("US",) not in lexicon.entries  # labelled 1 of 4 times
    assert ("US",) in Lexicon.from_pool(POOL, min_share=0.25).entries
    # "headache" is labelled twice and occurs three times (once inside "cluster headache"): kept, share 2/3
    assert lexicon.entries[("headache",)] == ("disease", pytest.approx(2 / 3))


def test_the_majority_label_wins_and_a_tie_goes_to_the_first_label_alphabetically():
    pool = [
        labelled("Jordan spoke .", ("Jordan", "person")),
        labelled("Jordan said it .", ("Jordan", "person")),
        labelled("Jordan is dry .", ("Jordan", "location")),
        labelled("Mercury rose .", ("Mercury", "planet")),
        labelled("Mercury fell .", ("Mercury", "element")),
    ]
    lex = Lexicon.from_pool(pool)
    assert lex.entries[("Jordan",)] == ("person", pytest.approx(2 / 3))
    assert lex.entries[("Mercury",)] == ("element", 0.5)


def test_matches_are_document_offsets_longest_first_through_emoji_cjk_crlf_and_tabs(lexicon):
    text = "😍 東京: my migraine\tand a cluster headache.\r\nAgain a migraine, and a migraine 🤕 again."
    doc = make_document(text)
    found = []
    for sent in doc.sentences:
        found += lexicon.matches(sent.text_of(text), sent.tokens, sent.start)
    for m in found:
        assert text[m.start : m.end] == m.text
    assert [m.text for m in found] == ["cluster headache", "migraine", "headache", "migraine", "migraine"]
    starts = [m.start for m in found if m.text == "migraine"]
    assert starts == [i for i in range(len(text)) if text.startswith("migraine", i)]  # every repeated mention


def test_a_span_whose_words_the_pool_holds_often_and_leaves_unlabelled_is_matched_as_no_name(lexicon):
    text = "Both patients and the US saw Aspirin work ."
    tokens = tokenize(text)
    spans = [(text.index(w), text.index(w) + len(w)) for w in ("patients", "US", "Aspirin", "patients and")]
    spans.append((text.index("patients") + 1, text.index("patients") + 8))  # not on token ends
    found = lexicon.unlabelled(text, tokens, spans)
    # "US": labelled 1 of 4 times (over a tenth); "Aspirin": seen once; "patients and": never seen
    assert [(m.text, m.label, m.share) for m in found] == [("patients", NOT_A_NAME, 1.0)]
    assert lexicon.occurrences(("patients",)) == 3 and lexicon.occurrences(("US",)) == 4


def test_a_name_of_a_type_outside_the_schema_is_neither_an_entry_nor_an_unlabelled_word():
    from el4ner_local.schema import Schema

    pool = [labelled(f"{w} Apple shares rose .", ("Apple", "corporation")) for w in ("Monday", "Today")]
    lex = Lexicon.from_pool(pool, Schema(("person",)).restrict)  # `--labels person` over this pool
    text = "Apple hired Ada ."
    assert lex.entries == {} and lex.occurrences(("Apple",)) == 2
    assert lex.unlabelled(text, tokenize(text), [(0, 5)]) == []  # labelled, though not as a person


def match(text: str, name: str, label: str, share: float = 1.0) -> LexiconMatch:
    start = text.index(name)
    return LexiconMatch(start, start + len(name), name, label, share)


TEXT = "Aspirin eased her cluster headache today ."
ON = VoteRule(extract_min_votes=2, type_source="extract", lexicon=True)


def test_a_name_no_model_accepted_is_accepted_with_the_pools_label_and_share():
    lone = Candidate(0, 7, "Aspirin", ["a"], {"a": "drug"})  # one vote of the two needed
    cands = decide([lone], 3, ON, [match(TEXT, "cluster headache", "disease", 0.8), match(TEXT, "Aspirin", "drug")])
    by_text = {c.text: c for c in cands}
    assert [c.text for c in cands] == ["Aspirin", "cluster headache"]  # in document order
    new = by_text["cluster headache"]
    assert (new.accepted, new.label, new.confidence, new.lexicon, new.extracted_by) == (
        True,
        "disease",
        0.8,
        "disease",
        [],
    )
    assert by_text["Aspirin"].accepted and by_text["Aspirin"].reason == ""  # the vote's rejection is overruled
    assert by_text["Aspirin"].extracted_by == ["a"]  # the evidence stays as it was


def test_an_accepted_span_wins_over_an_overlapping_name_and_names_do_not_overlap_each_other():
    wide = Candidate(18, 34, "cluster headache", ["a", "b"], {"a": "disease", "b": "disease"})
    names = [match(TEXT, "cluster headache", "symptom"), match(TEXT, "headache", "disease")]
    cands = decide([wide], 3, ON, names)
    assert [(c.text, c.label, c.accepted) for c in cands] == [("cluster headache", "disease", True)]
    assert cands[0].lexicon == "symptom"  # shown as evidence, but the vote decided
    only_names = decide([], 3, ON, names)
    assert [(c.text, c.accepted) for c in only_names] == [("cluster headache", True)]


def test_without_the_rule_the_names_change_nothing_and_a_threshold_holds_them_too():
    names = [match(TEXT, "cluster headache", "disease", 0.6)]
    assert decide([], 3, VoteRule(lexicon=False), names) == []
    held = decide([], 3, VoteRule(lexicon=True, label_thresholds={"disease": 0.7}), names)
    assert not held[0].accepted and "under disease's threshold" in held[0].reason


def test_the_filter_rejects_what_the_pool_leaves_unlabelled_before_overlaps_are_settled():
    text = "Her patients had migraine ."
    both = Candidate(0, 12, "Her patients", ["a", "b"], {"a": "disease", "b": "disease"})
    junk = Candidate(4, 12, "patients", ["a", "b", "c"], {"a": "disease", "b": "disease", "c": "disease"})
    plain = [match(text, "patients", NOT_A_NAME)]
    kept = decide([both, junk], 3, replace(ON, lexicon_filter=False), plain)
    assert [(c.text, c.accepted) for c in kept] == [("Her patients", False), ("patients", True)]
    assert junk.lexicon == NOT_A_NAME  # shown as evidence either way
    filtered = decide([both, junk], 3, replace(ON, lexicon_filter=True), plain)
    # rejected before the overlaps: the span it would have beaten stays
    assert [(c.text, c.accepted) for c in filtered] == [("Her patients", True), ("patients", False)]
    assert junk.reason == "your pool leaves these words unlabelled (100% of the times they occur)"


def test_a_match_round_trips_through_json():
    m = match(TEXT, "Aspirin", "drug", 0.75)
    assert LexiconMatch.from_json(m.to_json()) == m
    record = Candidate(0, 7, "Aspirin", lexicon="drug")
    assert Candidate.from_json(record.to_json()) == record
    old = {k: v for k, v in record.to_json().items() if k != "lexicon"}  # a record written before the lexicon
    assert Candidate.from_json(old).lexicon == ""


class Silent:
    """A stand-in model that names nothing, or only `says` (its answer)."""

    def __init__(self, name: str, says: str = "none"):
        self.name, self.says = name, says
        self.stats = TokenStats()

    def render(self, prompt) -> str:
        return prompt.system + prompt.shared + prompt.question

    def generate(self, prompt, **more) -> str:
        return self.says

    def score(self, prompt, continuations, prefill=""):
        return [0.0] * len(continuations)


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    from el4ner_local.retrieval import DemoIndex

    return DemoIndex.build(POOL, tmp_path_factory.mktemp("lexicon") / "index")


def test_the_tagger_accepts_the_names_of_the_pool_as_the_schema_labels_them(index):
    from el4ner_local import Tagger

    text = "Aspirin 💊 helped my migraine.\r\nThe US agreed."
    tagger = Tagger.load(index=index, llms=[Silent("a"), Silent("b")])
    doc = tagger(text)
    assert [(e.text, e.label) for e in doc.entities] == [("Aspirin", "drug"), ("migraine", "disease")]
    assert all(text[e.start : e.end] == e.text for e in doc.entities)
    assert Tagger.load(index=index, llms=[Silent("a")], labels="disease")(text).entities[0].text == "migraine"
    assert len(Tagger.load(index=index, llms=[Silent("a")], labels="disease")(text).entities) == 1
    assert Tagger.load(index=index, llms=[Silent("a")], lexicon=False)(text).entities == []
    # a view that holds a sentence out (index tune) does not know the names only it labels
    held = index.without([0])
    assert [e.text for e in Tagger.load(index=held, llms=[Silent("a")])(text).entities] == ["migraine"]


def test_the_tagger_rejects_what_the_pool_leaves_unlabelled(index):
    from el4ner_local import Tagger

    text = "Two patients and Ada came."
    says = "patients | disease\nAda | person"
    doc = Tagger.load(index=index, labels="disease,person", llms=[Silent("a", says)], type_source="extract")(text)
    assert [(e.text, e.label) for e in doc.entities] == [("Ada", "person")]
    (patients,) = [c for c in doc.sentences[0].candidates if c.text == "patients"]
    assert (
        not patients.accepted and patients.lexicon == NOT_A_NAME and "leaves these words unlabelled" in patients.reason
    )
    kept = Tagger.load(
        index=index, labels="disease,person", llms=[Silent("a", says)], lexicon_filter=False, type_source="extract"
    )(text)
    assert [(e.text, e.label) for e in kept.entities] == [("patients", "disease"), ("Ada", "person")]
