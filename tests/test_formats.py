"""Readers and writers on the real corpora in ../shared/data and on small fixtures of other dialects."""

from __future__ import annotations

import io
import json
from functools import cache
from pathlib import Path

import pytest
from corpora import shared_data

from el4ner_local.documents import LabelledSentence, Span, make_document, tokenize
from el4ner_local.errors import UserError
from el4ner_local.formats import (
    detect_scheme,
    dumps_record,
    labels_of,
    read_conll,
    read_jsonl,
    read_labelled,
    read_text,
    record_of,
    write_conll,
)


def data_dir() -> Path:
    return shared_data()


@cache
def corpus(name: str) -> list[LabelledSentence]:
    """Each real file read once per test session (tests only read the result)."""
    return read_conll(data_dir() / name)


# (file, sentences, entity mentions), from shared/data/README.md
COUNTS = [
    ("wnut17/wnut17train.conll", 3394, 1975),
    ("wnut17/emerging.dev.conll", 1009, 836),
    ("wnut17/emerging.test.annotated", 1287, 1079),
    ("ncbi_disease/train.tsv", 5424, 5134),
    ("ncbi_disease/devel.tsv", 923, 787),
    ("ncbi_disease/test.tsv", 940, 960),
    ("crossner/politics/train.txt", 200, 1304),
    ("crossner/politics/dev.txt", 541, 3482),
    ("crossner/politics/test.txt", 651, 4209),
    ("crossner/science/train.txt", 200, 1075),
    ("crossner/science/dev.txt", 450, 2538),
    ("crossner/science/test.txt", 543, 3089),
]

LABELS = {
    "wnut17": ["corporation", "creative-work", "group", "location", "person", "product"],
    "ncbi_disease": ["Disease"],
    "crossner/politics": [
        "country",
        "election",
        "event",
        "location",
        "misc",
        "organisation",
        "person",
        "politicalparty",
        "politician",
    ],
}


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def spans_text(sentence: LabelledSentence) -> list[tuple[str, str]]:
    return [(span.text_in(sentence.text), span.label) for span in sentence.spans]


# --- real data -------------------------------------------------------------------------------


@pytest.mark.parametrize("name,n_sentences,n_mentions", COUNTS)
def test_real_corpus_counts_match_readme(name, n_sentences, n_mentions):
    sentences = corpus(name)
    assert len(sentences) == n_sentences
    assert sum(len(s.spans) for s in sentences) == n_mentions


@pytest.mark.parametrize("name", [c[0] for c in COUNTS])
def test_real_corpus_offsets_are_consistent(name):
    for sentence in corpus(name):
        assert " ".join(sentence.text[s:e] for s, e in sentence.tokens) == sentence.text
        token_starts = {s for s, _ in sentence.tokens}
        token_ends = {e for _, e in sentence.tokens}
        for span in sentence.spans:
            assert span.start in token_starts and span.end in token_ends
            assert span.text_in(sentence.text).strip() == span.text_in(sentence.text) != ""
        assert sentence.source.startswith(f"{data_dir() / name}:")


@pytest.mark.parametrize("folder,labels", LABELS.items())
def test_real_corpus_labels(folder, labels):
    found = set()
    for name, _, _ in COUNTS:
        if name.startswith(folder + "/"):
            found.update(labels_of(corpus(name)))
    assert sorted(found) == sorted(labels)


def test_crossner_science_has_17_types():
    assert len(labels_of(corpus("crossner/science/train.txt"))) == 17


def test_wnut_dev_zero_width_characters_are_stripped():
    sentences = corpus("wnut17/emerging.dev.conll")
    assert not any(c in s.text for s in sentences for c in "\ufeff\u200b")
    dubbz = next(s for s in sentences if s.text.endswith("poem Dubbz"))
    assert spans_text(dubbz) == [("Dubbz", "person")]
    assert dubbz.source.endswith("emerging.dev.conll:16728")


def test_wnut_train_tab_only_separators_end_sentences():
    sentences = corpus("wnut17/wnut17train.conll")
    assert sentences[0].text.startswith("@paulwalk It 's the view from where I")
    assert all(s.text and "\t" not in s.text for s in sentences)


def test_real_corpora_are_iob2_and_dispatch_as_conll():
    path = data_dir() / "crossner/politics/train.txt"
    tags = [line.split("\t")[-1] for line in path.read_text("utf-8").splitlines() if line.strip()]
    assert detect_scheme(tags) == "IOB2"
    assert read_labelled(path) == read_conll(path)


def test_real_corpus_round_trips_through_write_conll(tmp_path):
    original = corpus("wnut17/emerging.dev.conll")
    out = io.StringIO()
    assert write_conll(original, out) == 0
    again = read_conll(write(tmp_path, "dev.conll", out.getvalue()))
    assert [(s.text, s.tokens, s.spans) for s in again] == [(s.text, s.tokens, s.spans) for s in original]


# --- other dialects --------------------------------------------------------------------------

CONLL2003_IOB1 = """-DOCSTART- -X- -X- O

EU NNP I-NP I-ORG
rejects VBZ I-VP O
German JJ I-NP I-MISC
call NN I-NP O
. . O O

Kim NNP I-NP I-PER
Lee NNP I-NP B-PER
and CC O O
Peter NNP I-NP I-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O

Paris NNP I-NP I-LOC
"""


def test_iob1_four_columns_and_docstart(tmp_path):
    sentences = read_conll(write(tmp_path, "eng.train", CONLL2003_IOB1))
    assert [s.text for s in sentences] == ["EU rejects German call .", "Kim Lee and Peter Blackburn", "Paris"]
    assert spans_text(sentences[0]) == [("EU", "ORG"), ("German", "MISC")]
    # B- separates two adjacent entities of one type; I- after O opens one
    assert spans_text(sentences[1]) == [("Kim", "PER"), ("Lee", "PER"), ("Peter Blackburn", "PER")]
    assert [s.source.rsplit(":", 1)[1] for s in sentences] == ["3", "9", "17"]
    tags = [line.split()[-1] for line in CONLL2003_IOB1.splitlines() if line and "DOCSTART" not in line]
    assert detect_scheme(tags) == "IOB1"


def test_docstart_alone_and_without_blank_lines(tmp_path):
    sentences = read_conll(write(tmp_path, "d.conll", "-DOCSTART-\nA\tB-X\n-DOCSTART-\tO\nB\tO\n"))
    assert [s.text for s in sentences] == ["A", "B"]


@pytest.mark.parametrize(
    "scheme,tags",
    [
        ("BIOES", ["S-PER", "O", "B-LOC", "I-LOC", "E-LOC", "E-ORG", "S-ORG"]),
        ("BILOU", ["U-PER", "O", "B-LOC", "I-LOC", "L-LOC", "L-ORG", "U-ORG"]),
    ],
)
def test_bioes_and_bilou(tmp_path, scheme, tags):
    words = ["Ann", "in", "New", "York", "City", "IBM", "Sony"]
    path = write(tmp_path, "x.bio", "".join(f"{w}\t{t}\n" for w, t in zip(words, tags, strict=True)))
    [sentence] = read_conll(path)
    assert spans_text(sentence) == [("Ann", "PER"), ("New York City", "LOC"), ("IBM", "ORG"), ("Sony", "ORG")]
    assert detect_scheme(tags) == "BIOES"


def test_tag_first_columns(tmp_path):
    [sentence] = read_conll(write(tmp_path, "t.tsv", "B-PER\tJohn\nI-PER\tSmith\nO\tsaid\nB-ORG IBM\n"))
    assert sentence.text == "John Smith said IBM"
    assert spans_text(sentence) == [("John Smith", "PER"), ("IBM", "ORG")]


def test_tag_first_with_tag_like_tokens(tmp_path):
    # The token "O" looks like a tag; the first column is the only one that is all tags.
    [sentence] = read_conll(write(tmp_path, "t.tsv", "B-PER\tO\nO\tBrother\n"))
    assert sentence.text == "O Brother"
    assert spans_text(sentence) == [("O", "PER")]


def test_crlf_and_bom(tmp_path):
    path = write(tmp_path, "w.conll", b"\xef\xbb\xbfJohn\tB-PER\r\nSmith\tI-PER\r\n\r\nParis\tB-LOC\r\n")
    sentences = read_conll(path)
    assert [s.text for s in sentences] == ["John Smith", "Paris"]
    assert [spans_text(s) for s in sentences] == [[("John Smith", "PER")], [("Paris", "LOC")]]


def test_en_prefix_is_stripped_when_every_token_has_it(tmp_path):
    path = write(tmp_path, "wikiann.txt", "en:John B-PER\nen:lives O\nen:in O\n\nen:Paris B-LOC\nen:: O\n")
    sentences = read_conll(path)
    assert [s.text for s in sentences] == ["John lives in", "Paris :"]
    assert spans_text(sentences[1]) == [("Paris", "LOC")]


def test_en_prefix_kept_when_only_some_tokens_have_it(tmp_path):
    [sentence] = read_conll(write(tmp_path, "x.conll", "see\tO\nen:Foo\tB-MISC\n"))
    assert spans_text(sentence) == [("en:Foo", "MISC")]


def test_zero_width_token_dropped_and_offsets_stay_consistent(tmp_path):
    content = "\u200b\tB-PER\nJo\u200bhn\tI-PER\nSmith\tI-PER\n\ufeff\tO\nsaid\tO\n\n\u200b\tO\n"
    [sentence] = read_conll(write(tmp_path, "z.conll", content))
    assert sentence.text == "John Smith said"
    assert sentence.tokens == [(0, 4), (5, 10), (11, 15)]
    assert spans_text(sentence) == [("John Smith", "PER")]


def test_whitespace_only_lines_separate_sentences(tmp_path):
    sentences = read_conll(write(tmp_path, "s.conll", "a\tO\n\t\nb\tO\n   \nc\tO\n \t \r\n\n\nd\tO"))
    assert [s.text for s in sentences] == ["a", "b", "c", "d"]


def test_tab_separated_token_may_hold_spaces(tmp_path):
    [sentence] = read_conll(write(tmp_path, "s.conll", "New York\tB-LOC\nrocks\tO\n"))
    assert spans_text(sentence) == [("New York", "LOC")]


def test_three_columns_and_runs_of_spaces(tmp_path):
    [sentence] = read_conll(write(tmp_path, "s.conll", "Ann   NNP   B-PER\n  runs VBZ O  \n"))
    assert sentence.text == "Ann runs" and spans_text(sentence) == [("Ann", "PER")]


def test_read_labelled_dispatch(tmp_path):
    record = dumps_record({"text": "Ann runs", "entities": [{"start": 0, "end": 3, "label": "PER"}]})
    for name in ("a.jsonl", "a.json", "a.txt"):
        [sentence] = read_labelled(write(tmp_path, name, record + "\n"))
        assert spans_text(sentence) == [("Ann", "PER")]
    [sentence] = read_labelled(write(tmp_path, "b.txt", "{\tO\nAnn\tB-PER\n"))
    assert sentence.text == "{ Ann"


# --- writers ---------------------------------------------------------------------------------


def test_write_conll_from_documents(tmp_path):
    doc = make_document("Ann Lee visited Paris.\r\nShe liked it  a lot 😀.")
    doc.sentences[0].spans = [Span(0, 7, "PER"), Span(16, 21, "LOC")]
    out = io.StringIO()
    assert write_conll([doc], out) == 0
    assert out.getvalue().startswith("Ann\tB-PER\nLee\tI-PER\nvisited\tO\nParis\tB-LOC\n.\tO\n\nShe\tO\n")
    sentences = read_conll(write(tmp_path, "d.conll", out.getvalue()))
    assert [s.text for s in sentences] == ["Ann Lee visited Paris .", "She liked it a lot 😀 ."]
    assert spans_text(sentences[0]) == [("Ann Lee", "PER"), ("Paris", "LOC")]


def test_write_conll_counts_spans_it_cannot_write():
    text = "Ann Lee ran"
    sentence = LabelledSentence(text, tokenize(text), [Span(0, 2, "PER"), Span(4, 11, "X"), Span(8, 11, "Y")])
    out = io.StringIO()
    assert write_conll([sentence], out) == 2  # "An" cuts a token; "ran" overlaps "Lee ran"
    assert out.getvalue() == "Ann\tO\nLee\tB-X\nran\tI-X\n\n"


def test_write_conll_never_moves_a_span_onto_the_tokens_inside_it():
    text = "Ann Lee ran"
    sentence = LabelledSentence(text, tokenize(text), [Span(0, 6, "PER")])  # "Ann Le": cuts "Lee"
    out = io.StringIO()
    assert write_conll([sentence], out) == 1
    assert out.getvalue() == "Ann\tO\nLee\tO\nran\tO\n\n"  # not "Ann" alone as B-PER


def test_write_conll_rejects_a_token_that_would_break_the_format():
    sentence = LabelledSentence("a\tb", [(0, 3)], [])
    with pytest.raises(ValueError):
        write_conll([sentence], io.StringIO())


def test_dumps_record_is_one_readable_line():
    line = dumps_record({"text": "Zoë 😀 中文\r\n\u2028x\u0085", "entities": []})
    assert "Zoë 😀 中文" in line and len(line.splitlines()) == 1 and "\n" not in line
    assert json.loads(line)["text"] == "Zoë 😀 中文\r\n\u2028x\u0085"


def test_jsonl_reader_ignores_extra_keys_and_handles_crlf_bom(tmp_path):
    text = "Ann 😀 met Bob\r\nin Paris"
    record = {
        "text": text,
        "votes": {"qwen": []},
        "sentences": [[0, 13]],
        "entities": [
            {"start": 18, "end": 23, "label": "LOC", "text": "Paris", "score": 0.9},
            {"start": 0, "end": 3, "label": "PER"},
        ],
    }
    path = write(tmp_path, "t.jsonl", b"\xef\xbb\xbf" + (dumps_record(record) + "\r\n\r\n").encode())
    [sentence] = read_jsonl(path)
    assert sentence.text == text
    assert sentence.spans == [Span(0, 3, "PER"), Span(18, 23, "LOC")]
    assert sentence.tokens == tokenize(text)
    assert record_of(sentence)["entities"][1] == {"start": 18, "end": 23, "label": "LOC", "text": "Paris"}


# --- errors name the file and the line -------------------------------------------------------


def assert_user_error(call, path: Path, where: str, *fragments: str) -> None:
    with pytest.raises(UserError) as info:
        call(path)
    message = str(info.value)
    assert f"{path}{where}" in message, message
    assert "\n" not in message and "fix:" in message, message
    for fragment in fragments:
        assert fragment in message, message


@pytest.mark.parametrize(
    "content,line,fragment",
    [
        ("a\tO\nb\tX-FOO\n", 2, "'X-FOO' is not a NER tag"),
        ("a\tO\n\nb\tB-\n", 3, "'B-' is not a NER tag"),
        ("a\tO\nlonely\n", 2, "one column"),
        ("a\tO\nb\to\n", 2, "'o' is not a NER tag"),
        ("B-PER\tJohn\nZZ\tSmith\nO\tsaid\n", 2, "'ZZ' is not a NER tag"),  # tag-first file, bad tag
    ],
)
def test_conll_errors_name_file_and_line(tmp_path, content, line, fragment):
    path = write(tmp_path, "bad.conll", content)
    assert_user_error(read_conll, path, f":{line}:", fragment)


@pytest.mark.parametrize(
    "content,line,fragment",
    [
        (b"a\tO\nb\xe9b\tO\n", 2, "not UTF-8"),
        (b"a\tO\n\nb\x00\tO\n", 3, "binary"),
        (b"\xff\xfea\x00\t\x00O\x00", 1, "UTF-16"),
        (b"", 1, "no sentences"),
        (b"\n\t\n  \r\n", 1, "no sentences"),
        (b"-DOCSTART- -X- -X- O\n\n", 1, "no sentences"),
    ],
)
def test_conll_unreadable_files(tmp_path, content, line, fragment):
    path = write(tmp_path, "bad.conll", content)
    assert_user_error(read_conll, path, f":{line}:", fragment)


def test_conll_directory_and_missing_file(tmp_path):
    assert_user_error(read_conll, tmp_path, ":", "is a directory")
    assert_user_error(read_conll, tmp_path / "nope.conll", ":", "no such file")
    assert_user_error(read_labelled, tmp_path / "nope.jsonl", ":", "no such file")


@pytest.mark.parametrize(
    "line2,fragment",
    [
        ('{"text": "Ann", "entities": [', "not valid JSON"),
        ("[1, 2]", "expected an object"),
        ('{"entities": []}', '"text"'),
        ('{"text": "Ann"}', '"entities"'),
        ('{"text": "Ann", "entities": [{"start": 0, "end": 4, "label": "P"}]}', "outside the text"),
        ('{"text": "Ann", "entities": [{"start": 2, "end": 2, "label": "P"}]}', "outside the text"),
        ('{"text": "Ann", "entities": [{"start": -1, "end": 2, "label": "P"}]}', "outside the text"),
        ('{"text": "Ann", "entities": [{"start": "0", "end": 2, "label": "P"}]}', "integers"),
        ('{"text": "Ann", "entities": [{"start": false, "end": 2, "label": "P"}]}', "integers"),
        ('{"text": "Ann", "entities": [{"start": 0, "end": 2.0, "label": "P"}]}', "integers"),
        ('{"text": "Ann", "entities": [{"start": 0, "end": 2}]}', '"label"'),
        ('{"text": "Ann", "entities": [7]}', "entity 1 is not an object"),
        ('{"text": "Ann", "entities": [{"start": 0, "end": 2, "label": "P", "text": "An!"}]}', "not 'An!'"),
    ],
)
def test_jsonl_errors_name_file_and_line(tmp_path, line2, fragment):
    path = write(tmp_path, "bad.jsonl", '{"text": "ok", "entities": []}\n' + line2 + "\n")
    assert_user_error(read_jsonl, path, ":2:", fragment)


def test_jsonl_offset_unit_hints(tmp_path):
    # "😀 Ann": code points 2..5; UTF-16 units 3..6; UTF-8 bytes 5..8
    for start, end, unit in ((3, 6, "UTF-16 code units"), (5, 8, "UTF-8 bytes")):
        record = {"text": "😀 Ann!!!", "entities": [{"start": start, "end": end, "label": "P", "text": "Ann"}]}
        path = write(tmp_path, "u.jsonl", dumps_record(record))
        assert_user_error(read_jsonl, path, ":1:", unit)


def test_jsonl_empty_file(tmp_path):
    assert_user_error(read_jsonl, write(tmp_path, "e.jsonl", "\n \n"), ":1:", "no records")


# --- plain text --------------------------------------------------------------------------------


def test_read_text_keeps_crlf_and_drops_bom(tmp_path):
    path = write(tmp_path, "in.txt", b"\xef\xbb\xbfZo\xc3\xab met Bob.\r\nNext line\r\n")
    assert read_text(path) == "Zoë met Bob.\r\nNext line\r\n"


@pytest.mark.parametrize(
    "content,where,fragment",
    [
        (b"ok\nstill ok\ncaf\xe9\n", ":3:", "not UTF-8"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", ":3:", "binary"),
        (b"\xfe\xff\x00a", ":1:", "UTF-16"),
        (b"", ":1:", "empty"),
        (b" \r\n\t\n", ":1:", "empty"),
    ],
)
def test_read_text_errors(tmp_path, content, where, fragment):
    assert_user_error(read_text, write(tmp_path, "in.txt", content), where, fragment)


def test_read_text_directory_and_missing(tmp_path):
    assert_user_error(read_text, tmp_path, ":", "is a directory")
    assert_user_error(read_text, tmp_path / "missing.txt", ":", "no such file")
