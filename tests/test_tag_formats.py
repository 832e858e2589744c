"""`tag --format` in the labelling tools' formats, through the tag drivers' own output functions
(tag_io.open_output / write_block / close_output) with tagged blocks made here, so no model runs;
and once through the real CLI with a real model."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from el4ner_local.errors import UserError
from el4ner_local.formats import read_labelled
from el4ner_local.pipeline.records import Candidate, SentenceRecord, TaggedDocument
from el4ner_local.tagging.tag_io import close_output, open_output, write_block
from el4ner_local.tagging.writers import FORMATS

BLOCKS = [
    ("Ana met Bob in 東京.\r\n", [(0, 3, "person", 0.9), (8, 11, "person", 0.4), (15, 17, "location", 0.8)]),
    ("Li Wei 😀 flew to Paris.\n", [(0, 6, "person", 0.7), (17, 22, "location", 0.95)]),
]


def tagged(text: str, entities, name: str = "notes.txt") -> TaggedDocument:
    candidates = [
        Candidate(
            s,
            e,
            text[s:e],
            extracted_by=["qwen", "gemma"],
            type_probs={"qwen": {label: c}},
            label=label,
            verification={"gemma": 0.5},
            confidence=c,
            accepted=True,
        )
        for s, e, label, c in entities
    ]
    candidates.append(Candidate(0, 2, text[:2], extracted_by=["smollm2"], reason="one vote"))  # rejected: not written
    return TaggedDocument(text, [SentenceRecord(0, len(text), candidates=candidates)], name=name)


def run_tag_output(fmt: str, output, inputs=()):
    sink, console = open_output(output, "w", inputs=list(inputs), fmt=fmt)
    start = 0
    for text, entities in BLOCKS:
        write_block(tagged(text, entities), start, fmt, sink, console, output)
        start += len(text)
    close_output(sink, output)


def test_every_tool_format_is_a_tag_format():
    assert set(FORMATS) >= {"prodigy", "doccano", "label-studio", "spacy", "hf"}


@pytest.mark.parametrize(
    "fmt,name", [("prodigy", "t.jsonl"), ("doccano", "t.jsonl"), ("spacy", "t.spacy"), ("hf", "t-dataset")]
)
def test_tag_output_in_each_format_reads_back_with_the_accepted_entities(tmp_path, fmt, name):
    run_tag_output(fmt, tmp_path / name)
    back = read_labelled(tmp_path / name)
    assert [s.text for s in back] == [text for text, _ in BLOCKS]  # CRLF, CJK and emoji kept
    assert [[(x.start, x.end, x.label) for x in s.spans] for s in back] == [
        [(s, e, label) for s, e, label, _ in entities] for _, entities in BLOCKS
    ]


def test_label_studio_tasks_from_tag_carry_the_confidences(tmp_path, capsys):
    run_tag_output("label-studio", None)  # standard output: the array is closed all the same
    tasks = json.loads(capsys.readouterr().out)
    assert [t["data"]["start"] for t in tasks] == [0, len(BLOCKS[0][0])]
    result = tasks[0]["predictions"][0]["result"]
    assert [(r["value"]["text"], r["value"]["labels"], r["score"]) for r in result] == [
        ("Ana", ["person"], 0.9),
        ("Bob", ["person"], 0.4),
        ("東京", ["location"], 0.8),
    ]
    assert tasks[0]["predictions"][0]["score"] == 0.4


def test_prodigy_meta_holds_each_entitys_votes(tmp_path):
    run_tag_output("prodigy", tmp_path / "t.jsonl")
    first = json.loads((tmp_path / "t.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert first["meta"]["name"] == "notes.txt" and first["meta"]["score"] == 0.4
    assert first["meta"]["votes"][0] == {
        "start": 0,
        "end": 3,
        "label": "person",
        "confidence": 0.9,
        "extracted_by": ["qwen", "gemma"],
        "type_votes": {"qwen": "person"},
        "verification": {"gemma": 0.5},
    }


def test_a_whole_file_format_needs_a_path_and_says_what_it_left_out(tmp_path, capsys):
    from el4ner_local.formats.outputs import FILE_FORMATS

    assert FILE_FORMATS == ("spacy", "hf")
    sink, console = open_output(tmp_path / "ds", "w", fmt="hf")
    # "Ana m" ends inside the token "met": kept in spans, never moved onto "Ana" in ner_tags
    write_block(tagged("Ana met Bob.", [(0, 5, "person", 0.5)]), 0, "hf", sink, console, tmp_path / "ds")
    close_output(sink, tmp_path / "ds")
    assert "ds: 1 entities left out of ner_tags (kept in spans): not on token boundaries" in capsys.readouterr().err
    # read back from the character spans, exactly; the token tags hold no entity
    assert [(x.start, x.end, x.label) for x in read_labelled(tmp_path / "ds")[0].spans] == [(0, 5, "person")]
    import datasets

    assert datasets.load_from_disk(str(tmp_path / "ds"))[0]["ner_tags"] == [0, 0, 0, 0]


def test_tag_conll_says_how_many_entities_it_could_not_write(tmp_path, capsys):
    sink, console = open_output(tmp_path / "t.conll", "w", fmt="conll")
    write_block(tagged("Ana met Bob.", [(0, 5, "person", 0.5)]), 0, "conll", sink, console, tmp_path / "t.conll")
    close_output(sink, tmp_path / "t.conll")
    assert "notes.txt: 1 entities left out of the CoNLL output: not on token boundaries" in capsys.readouterr().err
    assert "B-" not in (tmp_path / "t.conll").read_text()


def test_a_folder_that_is_no_dataset_is_refused_before_any_block(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("x")
    with pytest.raises(UserError, match="not a saved dataset, so it is not replaced"):
        open_output(tmp_path / "mine", "w", fmt="hf")


def test_the_cli_refuses_a_whole_file_format_without_o():
    proc = subprocess.run(
        [sys.executable, "-m", "el4ner_local.cli", "tag", "-", "--format", "spacy"],
        input=b"x",
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.decode().strip() == (
        "el4ner-local: error: --format spacy writes a whole DocBin file, not a stream (fix: add -o OUT.spacy)"
    )


def test_cli_tag_writes_label_studio_tasks_with_a_real_model(default_models, tmp_path):
    (tmp_path / "a.txt").write_text("Maria flew from Lisbon to Berlin.\n", encoding="utf-8")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "el4ner_local.cli",
            "tag",
            str(tmp_path / "a.txt"),
            "--format",
            "label-studio",
            "-o",
            str(tmp_path / "tasks.json"),
            "--only",
            "smollm2-135m",
            "--index",
            "none",
            "--labels",
            "person,location",
        ],
        capture_output=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    [task] = json.loads((tmp_path / "tasks.json").read_text(encoding="utf-8"))
    assert task["data"] == {"text": "Maria flew from Lisbon to Berlin.\n", "name": str(tmp_path / "a.txt"), "start": 0}
    [prediction] = task["predictions"]
    assert prediction["model_version"].startswith("el4ner-local ")
    assert prediction["result"]  # greedy decoding: the model names Maria and Lisbon here
    for r in prediction["result"]:
        assert (r["from_name"], r["to_name"], r["type"]) == ("label", "text", "labels")
        assert task["data"]["text"][r["value"]["start"] : r["value"]["end"]] == r["value"]["text"]
        assert r["value"]["labels"][0] in ("person", "location") and 0 <= r["score"] <= 1


def test_a_whole_file_format_with_no_block_is_not_written(tmp_path, capsys):
    sink, console = open_output(tmp_path / "t.spacy", "w", fmt="spacy")
    close_output(sink, tmp_path / "t.spacy")  # e.g. interrupted before the first block was done
    assert "t.spacy: no block was tagged, so it is not written" in capsys.readouterr().err
    assert not (tmp_path / "t.spacy").exists()
