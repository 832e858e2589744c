"""The labelling tools' formats (issue 17): spaCy DocBin and Hugging Face datasets through the real
libraries, Prodigy and doccano JSONL, Label Studio tasks. Written and read back, they keep the text,
the tokens (where the format carries them) and every span's exact character offsets."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from corpora import shared_data

from el4ner_local.documents import LabelledSentence, Span, tokenize
from el4ner_local.errors import UserError
from el4ner_local.formats import INPUT_FORMATS, detect_format, read_conll, read_labelled
from el4ner_local.formats.outputs import StreamWriter, write_all
from el4ner_local.formats.tagged import OutSpan, OutText

# emoji (a flag of two code points, a ZWJ family), CJK, CRLF, a tab, a double space
TRICKY = [
    "Ana 🇫🇷 met 東京 people\r\nin Paris.",
    "👨‍👩‍👧 Bob\tand  Li Wei flew to São Paulo",
    "plain words only",
]
TRICKY_SPANS = [
    [Span(0, 3, "person"), Span(11, 13, "location"), Span(25, 30, "location")],
    [Span(6, 9, "person"), Span(15, 21, "person"), Span(30, 39, "location")],
    [],
]
# (format, file name): every format that reads back what it writes
FORMATS = [
    ("prodigy", "out.jsonl"),
    ("doccano", "out.jsonl"),
    ("spacy", "out.spacy"),
    ("hf", "out-dataset"),
    ("hf", "out.parquet"),
]
CARRIES_TOKENS = {"prodigy", "spacy", "hf"}  # doccano has no tokens: el4ner-local's tokenizer gives them


def tricky_sentences() -> list[LabelledSentence]:
    out = []
    for text, spans in zip(TRICKY, TRICKY_SPANS, strict=True):
        for s in spans:
            assert text[s.start : s.end].strip() == text[s.start : s.end]  # the fixture itself is right
        out.append(LabelledSentence(text, tokenize(text), spans, "fixture"))
    return out


def key(sentence: LabelledSentence, tokens: bool = True):
    return (sentence.text, sentence.tokens if tokens else None, sentence.spans)


def test_the_fixture_spans_are_the_words_meant():
    [first, second, _] = tricky_sentences()
    assert [first.text[s.start : s.end] for s in first.spans] == ["Ana", "東京", "Paris"]
    assert [second.text[s.start : s.end] for s in second.spans] == ["Bob", "Li Wei", "São Paulo"]


@pytest.mark.parametrize("fmt,name", FORMATS)
def test_each_format_reads_back_the_sentences_it_wrote(tmp_path, fmt, name):
    sentences = tricky_sentences()
    lost, _ = write_all([OutText.of_labelled(s) for s in sentences], fmt, tmp_path / name, 0o600)
    assert lost == 0
    back = read_labelled(tmp_path / name)  # detected from the name and the content
    assert detect_format(tmp_path / name) == fmt
    assert [key(s, fmt in CARRIES_TOKENS) for s in back] == [key(s, fmt in CARRIES_TOKENS) for s in sentences]
    assert read_labelled(tmp_path / name, fmt) == back


@pytest.fixture(scope="module")
def politics() -> list[LabelledSentence]:
    return read_conll(shared_data() / "crossner" / "politics" / "dev.txt")[:50]


@pytest.mark.parametrize("fmt,name", FORMATS)
def test_a_real_corpus_in_each_format_reads_as_its_conll(tmp_path, politics, fmt, name):
    assert sum(len(s.spans) for s in politics) > 200
    lost, _ = write_all([OutText.of_labelled(s) for s in politics], fmt, tmp_path / name, 0o600)
    assert lost == 0
    back = read_labelled(tmp_path / name)
    assert [key(s, fmt in CARRIES_TOKENS) for s in back] == [key(s, fmt in CARRIES_TOKENS) for s in politics]


def test_doccano_sentences_get_our_tokens(tmp_path, politics):
    write_all([OutText.of_labelled(s) for s in politics], "doccano", tmp_path / "d.jsonl", 0o600)
    assert [s.tokens for s in read_labelled(tmp_path / "d.jsonl")] == [tokenize(s.text) for s in politics]


# -- spaCy, through spaCy ------------------------------------------------------------------------


def suggestions() -> list[OutText]:
    """What `tag` writes: the tagger's spans with confidence and votes."""
    out = []
    for i, (text, spans) in enumerate(zip(TRICKY, TRICKY_SPANS, strict=True)):
        out.append(
            OutText(
                text,
                [
                    OutSpan(
                        s.start,
                        s.end,
                        s.label,
                        0.5 + 0.1 * j,
                        {"extracted_by": ["qwen", "gemma"], "type_votes": {"qwen": s.label}},
                    )
                    for j, s in enumerate(spans)
                ],
                {"name": "notes.txt", "start": 100 * i},
                predicted=True,
            )
        )
    return out


def test_spacy_reads_the_docbin_with_the_same_text_entities_and_offsets(tmp_path):
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    write_all(suggestions(), "spacy", tmp_path / "tags.spacy", 0o600)
    docs = list(DocBin().from_disk(tmp_path / "tags.spacy").get_docs(Vocab()))
    assert [doc.text for doc in docs] == TRICKY
    assert [[(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in docs] == [
        [(s.start, s.end, s.label) for s in spans] for spans in TRICKY_SPANS
    ]
    assert [e.text for e in docs[1].ents] == ["Bob", "Li Wei", "São Paulo"]
    stored = docs[0].user_data["el4ner_local"]
    assert stored["meta"] == {"name": "notes.txt", "start": 0}
    assert [e["confidence"] for e in stored["entities"]] == pytest.approx([0.5, 0.6, 0.7])
    assert list(stored["entities"][0]["extracted_by"]) == ["qwen", "gemma"]


def test_a_span_inside_a_token_becomes_an_entity_of_its_own_tokens(tmp_path):
    """DocBin words are cut at span ends: a span that cuts a word of our tokenizer is kept exactly."""
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    text = "the NATO-led force"
    item = OutText(text, [OutSpan(4, 8, "org")])  # "NATO" inside the token "NATO-led"
    assert (4, 12) in tokenize(text)
    lost, _ = write_all([item], "spacy", tmp_path / "a.spacy", 0o600)
    [doc] = DocBin().from_disk(tmp_path / "a.spacy").get_docs(Vocab())
    assert lost == 0 and doc.text == text and [(e.start_char, e.end_char) for e in doc.ents] == [(4, 8)]


def test_overlapping_spans_are_counted_not_written_to_the_docbin(tmp_path):
    text = "New York City"
    items = [OutText(text, [OutSpan(0, 8, "location"), OutSpan(4, 13, "location")])]
    lost, why = write_all(items, "spacy", tmp_path / "o.spacy", 0o600)
    assert lost == 1 and "overlap" in why
    assert [s.spans for s in read_labelled(tmp_path / "o.spacy")] == [[Span(0, 8, "location")]]


# -- Hugging Face datasets, through datasets ---------------------------------------------------------


def test_datasets_loads_the_saved_dataset_with_its_classlabel_names(tmp_path):
    from datasets import load_from_disk

    write_all(suggestions(), "hf", tmp_path / "ds", 0o600)
    dataset = load_from_disk(str(tmp_path / "ds"))
    names = dataset.features["ner_tags"].feature.names
    assert names == ["O", "B-location", "I-location", "B-person", "I-person"]
    row = dataset[1]
    assert row["text"] == TRICKY[1]
    assert row["tokens"] == [
        "👨",
        "\u200d",
        "👩",
        "\u200d",
        "👧",
        "Bob",
        "and",
        "Li",
        "Wei",
        "flew",
        "to",
        "São",
        "Paulo",
    ]  # el4ner-local's tokenizer: word runs, or one other character
    assert [names[i] for i in row["ner_tags"]] == ["O"] * 5 + [
        "B-person",
        "O",
        "B-person",
        "I-person",
        "O",
        "O",
        "B-location",
        "I-location",
    ]
    assert row["spans"] == [{"start": s.start, "end": s.end, "label": s.label} for s in TRICKY_SPANS[1]]
    assert (row["name"], row["start"]) == ("notes.txt", 100)


def test_a_span_off_the_token_boundaries_is_counted_and_kept_out_of_ner_tags(tmp_path):
    from datasets import load_from_disk

    text = "the NATO-led force"
    items = [OutText(text, [OutSpan(4, 8, "org"), OutSpan(13, 18, "thing")])]
    lost, why = write_all(items, "hf", tmp_path / "ds", 0o600)
    assert lost == 1 and "token boundaries" in why
    row = load_from_disk(str(tmp_path / "ds"))[0]
    assert row["tokens"] == ["the", "NATO-led", "force"]
    names = load_from_disk(str(tmp_path / "ds")).features["ner_tags"].feature.names
    assert [names[i] for i in row["ner_tags"]] == ["O", "O", "B-thing"]  # never moved onto "NATO-led"
    assert row["spans"][0] == {"start": 4, "end": 8, "label": "org"}


def test_a_dataset_without_text_is_read_with_its_tokens_joined_by_spaces(tmp_path):
    from datasets import ClassLabel, Dataset, Features, Sequence, Value

    features = Features(
        {
            "tokens": Sequence(Value("string")),
            "ner_tags": Sequence(ClassLabel(names=["O", "B-PER", "I-PER", "B-LOC", "I-LOC"])),
        }
    )
    Dataset.from_dict(
        {"tokens": [["Ann", "Lee", "lives", "in", "Oslo", "."]], "ner_tags": [[1, 2, 0, 0, 3, 0]]}, features=features
    ).save_to_disk(str(tmp_path / "plain"))
    [sentence] = read_labelled(tmp_path / "plain")
    assert sentence.text == "Ann Lee lives in Oslo ."
    assert [sentence.text[s.start : s.end] for s in sentence.spans] == ["Ann Lee", "Oslo"]
    assert sentence.source == f"{tmp_path / 'plain'}: row 1"


def test_a_datasetdict_folder_of_one_split_and_tags_given_as_strings(tmp_path):
    from datasets import Dataset, DatasetDict

    split = Dataset.from_dict({"tokens": [["Ann", "ran"]], "ner_tags": [["B-PER", "O"]]})
    DatasetDict({"train": split}).save_to_disk(str(tmp_path / "dd"))
    [sentence] = read_labelled(tmp_path / "dd")
    assert (sentence.text, sentence.spans) == ("Ann ran", [Span(0, 3, "PER")])


def test_writing_a_dataset_again_replaces_it_but_never_another_folder(tmp_path):
    write_all(suggestions(), "hf", tmp_path / "ds", 0o600)
    write_all(suggestions()[:1], "hf", tmp_path / "ds", 0o600)
    assert len(read_labelled(tmp_path / "ds")) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # no temporary folder left
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(UserError, match="not a saved dataset, so it is not replaced"):
        write_all(suggestions(), "hf", tmp_path / "mine", 0o600)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    with pytest.raises(UserError, match="is a directory"):
        write_all(suggestions(), "spacy", tmp_path / "mine", 0o600)


def test_written_files_get_the_mode_asked_for(tmp_path):
    write_all(suggestions(), "spacy", tmp_path / "a.spacy", 0o640)
    write_all(suggestions(), "hf", tmp_path / "ds", 0o640)
    assert (tmp_path / "a.spacy").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "ds").stat().st_mode & 0o777 == 0o750
    assert {p.stat().st_mode & 0o777 for p in (tmp_path / "ds").iterdir()} == {0o640}


# -- Prodigy and doccano ---------------------------------------------------------------------------


def test_prodigy_tasks_carry_tokens_cut_at_span_ends_and_the_votes_in_meta(tmp_path):
    text = "the NATO-led force"
    with open(tmp_path / "p.jsonl", "w", encoding="utf-8") as handle:
        writer = StreamWriter("prodigy", handle)
        writer.write(
            OutText(
                text,
                [OutSpan(4, 8, "org", 0.75, {"extracted_by": ["qwen"]})],
                {"name": "n.txt", "start": 0},
                predicted=True,
            )
        )
        writer.close()
    task = json.loads((tmp_path / "p.jsonl").read_text(encoding="utf-8"))
    assert [t["text"] for t in task["tokens"]] == ["the", "NATO", "-led", "force"]
    assert task["spans"] == [{"start": 4, "end": 8, "label": "org", "text": "NATO", "token_start": 1, "token_end": 1}]
    assert task["meta"]["score"] == 0.75 and task["meta"]["votes"][0]["extracted_by"] == ["qwen"]
    assert "answer" not in task  # suggestions, not yet decided
    assert writer.lost == 0


def test_prodigy_rejected_and_ignored_tasks_are_skipped(tmp_path):
    lines = [
        {"text": "Ann ran", "spans": [{"start": 0, "end": 3, "label": "PER"}], "answer": "accept"},
        {"text": "Bob ran", "spans": [{"start": 0, "end": 3, "label": "PER"}], "answer": "reject"},
        {"text": "Cy ran", "spans": [], "answer": "ignore"},
        {"text": "Di ran", "spans": [{"start": 0, "end": 2, "label": "PER", "text": "Di"}]},
    ]
    path = tmp_path / "db-out.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert [s.text for s in read_labelled(path)] == ["Ann ran", "Di ran"]


@pytest.mark.parametrize(
    "record",
    [
        {"id": 7, "text": "Ann met Bo", "label": [[8, 10, "PER"], [0, 3, "PER"]], "Comments": []},
        {"text": "Ann met Bo", "labels": [[0, 3, "PER"], [8, 10, "PER"]]},
        {
            "id": 1,
            "text": "Ann met Bo",
            "entities": [
                {"id": 3, "label": "PER", "start_offset": 0, "end_offset": 3},
                {"id": 4, "label": "PER", "start_offset": 8, "end_offset": 10},
            ],
            "relations": [],
        },
    ],
)
def test_doccano_exports_of_either_kind_are_read(tmp_path, record):
    path = tmp_path / "export.jsonl"
    path.write_text(json.dumps(record) + "\n")
    assert detect_format(path) == "doccano"
    [sentence] = read_labelled(path)
    assert sentence.spans == [Span(0, 3, "PER"), Span(8, 10, "PER")]


def test_jsonl_kind_is_told_by_the_first_record_that_says(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"text": "x", "entities": []}\n{"text": "Ann", "label": [[0, 3, "PER"]]}\n')
    assert detect_format(path) == "doccano"
    ours = tmp_path / "ours.txt"  # any name: the content says JSON
    ours.write_text('{"text": "Ann", "entities": [{"start": 0, "end": 3, "label": "PER"}]}\n')
    assert detect_format(ours) == "jsonl"
    annotations = tmp_path / "notes.annotations.jsonl"  # the annotator's records hold "spans" with verdicts too
    annotations.write_text(
        '{"text": "Ann", "entities": [], "spans": [{"start": 0, "end": 3, "label": "P", "verdict": "rejected"}]}\n'
    )
    assert detect_format(annotations) == "jsonl" and read_labelled(annotations)[0].spans == []
    assert detect_format(shared_data() / "crossner" / "politics" / "dev.txt") == "conll"


def test_an_explicit_format_is_used_as_given(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"text": "Ann", "spans": [{"start": 0, "end": 3, "label": "PER"}]}\n')
    assert read_labelled(path, "prodigy")[0].spans == [Span(0, 3, "PER")]
    with pytest.raises(UserError, match='no "entities" list'):
        read_labelled(path, "jsonl")
    with pytest.raises(UserError, match="unknown input format 'brat'"):
        read_labelled(path, "brat")
    assert INPUT_FORMATS == ("conll", "jsonl", "prodigy", "doccano", "spacy", "hf")


# -- Label Studio -----------------------------------------------------------------------------------

NER_CONFIG = """<View>
  <Labels name="label" toName="text">
    <Label value="person"/><Label value="location"/>
  </Labels>
  <Text name="text" value="$text"/>
</View>"""


def check_task(task: dict, config: str) -> list[str]:
    """The rules Label Studio's SDK applies to a task's predictions and annotations (LabelInterface.
    validate_prediction: from_name a control of the config, to_name its object, type the control's tag,
    a Labels value {start, end, labels} with labels of the config), plus exact offsets."""
    root = ET.fromstring(config)
    controls = {el.get("name"): el for el in root.iter() if el.get("toName")}
    objects = {el.get("name"): el for el in root.iter() if el.get("value", "").startswith("$")}
    problems = []
    data = task.get("data")
    if not isinstance(data, dict):
        return ["no data object"]
    for obj in objects.values():
        if not isinstance(data.get(obj.get("value")[1:]), str):
            problems.append(f"data has no {obj.get('value')}")
    for kind in ("predictions", "annotations"):
        for prediction in task.get(kind, []):
            if "score" in prediction and not isinstance(prediction["score"], (int, float)):
                problems.append("prediction score is not a number")
            ids = [r.get("id") for r in prediction["result"]]
            if len(set(ids)) != len(ids):
                problems.append("result ids repeat")
            for r in prediction["result"]:
                missing = [k for k in ("from_name", "to_name", "type", "value") if k not in r]
                if missing:
                    problems.append(f"missing {missing}")
                    continue
                control = controls.get(r["from_name"])
                if (
                    control is None
                    or r["to_name"] not in control.get("toName").split(",")
                    or r["to_name"] not in objects
                ):
                    problems.append(f"from_name/to_name {r['from_name']}/{r['to_name']} not in the config")
                    continue
                if r["type"] != control.tag.lower():
                    problems.append(f"type {r['type']} is not {control.tag.lower()}")
                value = r["value"]
                allowed = {label.get("value") for label in control}
                if not (
                    type(value.get("start")) is int
                    and type(value.get("end")) is int
                    and value.get("labels")
                    and set(value["labels"]) <= allowed
                ):
                    problems.append(f"bad value {value}")
                text = data[objects[r["to_name"]].get("value")[1:]]
                if value.get("text") != text[value["start"] : value["end"]]:
                    problems.append(f"value text {value.get('text')!r} is not the text at its offsets")
                if "score" in r and not 0 <= r["score"] <= 1:
                    problems.append("region score outside 0..1")
    return problems


def test_label_studio_tasks_fit_the_standard_ner_config_with_scores(tmp_path):
    with open(tmp_path / "tasks.json", "w", encoding="utf-8") as handle:
        writer = StreamWriter("label-studio", handle)
        for item in suggestions():
            writer.write(item)
        writer.close()
    tasks = json.loads((tmp_path / "tasks.json").read_text(encoding="utf-8"))  # one JSON array, as LS imports
    assert len(tasks) == 3
    for task in tasks:
        assert check_task(task, NER_CONFIG) == []
    [prediction] = tasks[1]["predictions"]
    assert prediction["model_version"].startswith("el4ner-local ")
    assert [r["score"] for r in prediction["result"]] == [0.5, 0.6, 0.7] and prediction["score"] == 0.5
    assert [r["value"]["text"] for r in prediction["result"]] == ["Bob", "Li Wei", "São Paulo"]
    assert tasks[1]["data"] == {"text": TRICKY[1], "name": "notes.txt", "start": 100}
    assert "score" not in tasks[2]["predictions"][0] and tasks[2]["predictions"][0]["result"] == []


def test_the_checker_catches_what_label_studio_refuses():
    good = {
        "data": {"text": "Ann"},
        "predictions": [
            {
                "result": [
                    {
                        "id": "a",
                        "from_name": "label",
                        "to_name": "text",
                        "type": "labels",
                        "value": {"start": 0, "end": 3, "text": "Ann", "labels": ["person"]},
                    }
                ]
            }
        ],
    }
    assert check_task(good, NER_CONFIG) == []
    for change in (
        {"from_name": "tag"},
        {"type": "choices"},
        {"value": {"start": 0, "end": 3, "text": "Ann", "labels": ["PER"]}},
        {"value": {"start": 0, "end": 2, "text": "Ann", "labels": ["person"]}},
    ):
        bad = json.loads(json.dumps(good))
        bad["predictions"][0]["result"][0].update(change)
        assert check_task(bad, NER_CONFIG), change


def test_accepted_sentences_go_to_label_studio_as_annotations(tmp_path):
    write_all(
        [OutText.of_labelled(s, {"source": "notes.txt"}) for s in tricky_sentences()],
        "label-studio",
        tmp_path / "a.json",
        0o600,
    )
    tasks = json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))
    assert all("predictions" not in t and check_task(t, NER_CONFIG) == [] for t in tasks)
    assert [r["value"]["labels"] for r in tasks[0]["annotations"][0]["result"]] == [
        ["person"],
        ["location"],
        ["location"],
    ]


def test_an_empty_label_studio_output_is_an_empty_array(tmp_path):
    write_all([], "label-studio", tmp_path / "none.json", 0o600)
    assert json.loads((tmp_path / "none.json").read_text()) == []


# -- bad files: one line naming the file, the line or record, and the fix ---------------------------


def one_line_error(path: Path, fmt: str | None = None) -> str:
    with pytest.raises(UserError) as info:
        read_labelled(path, fmt)
    message = str(info.value)
    assert "\n" not in message and "(fix: " in message and str(path) in message, message
    return message


@pytest.mark.parametrize(
    "fmt,content,where,fragment",
    [
        (
            "prodigy",
            '{"text": "Ann", "spans": [{"start": 0, "end": 3, "label": "P"}]}\n{"text": "Bo", "spans": [{"start": 0, "end": 9, "label": "P"}]}\n',
            ":2: span 1",
            "outside the text",
        ),
        (
            "prodigy",
            '{"text": "Ann", "spans": [{"start": 0, "end": 3, "label": "P", "text": "An"}]}\n',
            ":1: span 1",
            "not 'An'",
        ),
        (
            "prodigy",
            '{"text": "Ann", "spans": [], "tokens": [{"start": 0, "end": 7}]}\n',
            ":1: token 1",
            "character offsets",
        ),
        ("prodigy", '{"text": "Ann"}\n', ":1", 'no "spans" list'),
        ("doccano", '{"text": "Ann", "label": [[0, 3]]}\n', ":1: label 1", "is not [start, end, label]"),
        (
            "doccano",
            '{"text": "Ann", "entities": [{"start_offset": 0, "label": "P"}]}\n',
            ":1: entities 1",
            '"start_offset"',
        ),
        ("doccano", '{"text": "Ann"}\n', ":1", 'no "label" list'),
        ("doccano", '{"text": "Ann", "label": []}\n{"text": \n', ":2", "not valid JSON"),
    ],
)
def test_a_bad_jsonl_line_is_named_with_its_line_and_the_fix(tmp_path, fmt, content, where, fragment):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    message = one_line_error(path, fmt)
    assert f"{path}{where}" in message and fragment in message, message


def test_a_bad_docbin_is_one_line(tmp_path):
    path = tmp_path / "bad.spacy"
    path.write_bytes(b"\x00not a docbin")
    assert "not a spaCy DocBin" in one_line_error(path)
    write_all([], "spacy", tmp_path / "empty.spacy", 0o600)
    assert "holds no documents" in one_line_error(tmp_path / "empty.spacy")


def test_bad_datasets_are_one_line(tmp_path):
    from datasets import ClassLabel, Dataset, Features, Sequence, Value

    Dataset.from_dict({"words": [["a"]], "ner_tags": [[0]]}).save_to_disk(str(tmp_path / "no-tokens"))
    assert "no 'tokens' column" in one_line_error(tmp_path / "no-tokens")
    Dataset.from_dict({"tokens": [["a"]], "ner_tags": [[0]]}).save_to_disk(str(tmp_path / "no-names"))
    assert "without ClassLabel names" in one_line_error(tmp_path / "no-names")
    features = Features({"tokens": Sequence(Value("string")), "ner_tags": Sequence(ClassLabel(names=["O", "PER"]))})
    Dataset.from_dict({"tokens": [["a"]], "ner_tags": [[1]]}, features=features).save_to_disk(str(tmp_path / "not-bio"))
    assert "'PER' of 'ner_tags' is not a NER tag" in one_line_error(tmp_path / "not-bio")
    Dataset.from_dict({"tokens": [["a", "b"], ["c"]], "ner_tags": [["O", "O"], ["O", "O"]]}).save_to_disk(
        str(tmp_path / "short")
    )
    assert f"{tmp_path / 'short'}: row 2: 1 tokens but 2 ner_tags" in one_line_error(tmp_path / "short")
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 nonsense")
    assert "not a readable parquet file" in one_line_error(tmp_path / "broken.parquet")
    (tmp_path / "folder").mkdir()
    assert "not a saved Hugging Face dataset" in one_line_error(tmp_path / "folder", "hf")


def test_a_missing_extra_is_one_line_naming_the_pip_command(tmp_path, monkeypatch):
    write_all(suggestions(), "spacy", tmp_path / "a.spacy", 0o600)
    monkeypatch.setitem(sys.modules, "spacy", None)  # import spacy now raises ImportError
    monkeypatch.setitem(sys.modules, "datasets", None)
    assert "pip install -e '.[spacy]'" in one_line_error(tmp_path / "a.spacy")
    with pytest.raises(UserError, match=r"pip install -e '\.\[hf\]'"):
        write_all(suggestions(), "hf", tmp_path / "ds", 0o600)


# -- a pool in each format builds the same demonstrations -------------------------------------------


def test_a_pool_in_each_format_gives_the_demonstrations_of_its_conll(tmp_path, politics):
    from el4ner_local.retrieval import DemoIndex

    pool = politics[:30]
    queries = [(s.text, [s.text[x.start : x.end] for x in s.spans]) for s in politics[30:36]]

    def demonstrations(sentences, name):
        index = DemoIndex.build(sentences, tmp_path / name)
        return [[(d.text, d.spans) for d in index.retrieve(text, spans, k=3)] for text, spans in queries]

    expected = demonstrations(pool, "conll-index")
    assert all(len(demos) == 3 for demos in expected)
    for fmt, name in FORMATS:
        write_all([OutText.of_labelled(s) for s in pool], fmt, tmp_path / f"{fmt}-{name}", 0o600)
        assert demonstrations(read_labelled(tmp_path / f"{fmt}-{name}"), f"{fmt}-{name}-index") == expected, fmt


def test_a_pools_digest_follows_its_content_and_the_format_it_is_read_in(tmp_path, politics):
    from el4ner_local.checksums import sha256_file
    from el4ner_local.formats import checked_format, labelled_digest

    write_all([OutText.of_labelled(s) for s in politics[:5]], "prodigy", tmp_path / "p.jsonl", 0o600)
    assert labelled_digest(tmp_path / "p.jsonl") == sha256_file(tmp_path / "p.jsonl")  # as the caches keyed it before
    assert labelled_digest(tmp_path / "p.jsonl", "prodigy") == sha256_file(tmp_path / "p.jsonl")
    assert labelled_digest(tmp_path / "p.jsonl", "jsonl") != sha256_file(tmp_path / "p.jsonl")
    write_all([OutText.of_labelled(s) for s in politics[:5]], "hf", tmp_path / "ds", 0o600)
    before = labelled_digest(tmp_path / "ds")
    assert labelled_digest(tmp_path / "ds") == before
    write_all([OutText.of_labelled(s) for s in politics[:6]], "hf", tmp_path / "ds", 0o600)
    assert labelled_digest(tmp_path / "ds") != before
    assert checked_format(None) is None and checked_format("hf") == "hf"
    with pytest.raises(UserError, match="unknown input format 'csv'"):
        checked_format("csv")


def test_an_empty_dataset_is_refused_in_one_line_not_written(tmp_path):
    with pytest.raises(UserError, match="no texts to write, and a dataset of none cannot be loaded"):
        write_all([], "hf", tmp_path / "ds", 0o600)
    assert not (tmp_path / "ds").exists()
