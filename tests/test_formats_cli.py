"""The labelling tools' formats on the command line (issue 17), without the LLMs: pools in any format
for `index build/add` (and the pool caches of `eval` and `annotate`), --input-format where the
content is ambiguous, and `annotate --export` in each tool's format."""

from __future__ import annotations

import json

import pytest
from corpora import shared_data
from test_tui_cli import annotated
from typer.testing import CliRunner

from el4ner_local.cli import app
from el4ner_local.errors import UserError
from el4ner_local.formats import read_conll, read_labelled
from el4ner_local.formats.outputs import write_all
from el4ner_local.formats.tagged import OutText

runner = CliRunner()


@pytest.fixture(scope="module")
def pools(tmp_path_factory):
    """The first 20 sentences of a real corpus as a saved dataset folder, a DocBin and Prodigy tasks in a .txt."""
    folder = tmp_path_factory.mktemp("pools")
    sentences = read_conll(shared_data() / "crossner" / "politics" / "dev.txt")[:20]
    items = [OutText.of_labelled(s) for s in sentences]
    write_all(items, "hf", folder / "pool-dataset", 0o600)
    write_all(items, "spacy", folder / "pool.spacy", 0o600)
    write_all(items, "prodigy", folder / "prodigy-tasks.txt", 0o600)
    return folder, sentences


def built(result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output.strip().splitlines()[-1]


def test_index_build_reads_a_dataset_folder_and_a_docbin(tmp_path, pools):
    folder, sentences = pools
    spans = sum(len(s.spans) for s in sentences)
    for pool in ("pool-dataset", "pool.spacy"):
        line = built(runner.invoke(app, ["index", "build", str(folder / pool), "-o", str(tmp_path / pool)]))
        assert line.startswith(f"{tmp_path / pool}: 20 sentences, {spans} spans"), line


def test_input_format_names_what_the_suffix_does_not(tmp_path, pools):
    folder, _ = pools
    # a .txt whose lines are JSON: detected by its records' keys; named, the same
    assert built(runner.invoke(app, ["index", "build", str(folder / "prodigy-tasks.txt"), "-o", str(tmp_path / "a")]))
    result = runner.invoke(
        app, ["index", "add", str(tmp_path / "a"), str(folder / "pool.spacy"), "--input-format", "spacy"]
    )
    assert "added 20 sentences; now 40 sentences" in built(result)
    result = runner.invoke(
        app, ["index", "build", str(folder / "prodigy-tasks.txt"), "-o", str(tmp_path / "b"), "--input-format", "jsonl"]
    )
    assert isinstance(result.exception, UserError) and 'no "entities" list' in str(result.exception)
    result = runner.invoke(app, ["index", "build", str(folder / "pool.spacy"), "-o", str(tmp_path / "c"),
                                 "--input-format", "brat"])  # fmt: skip
    assert isinstance(result.exception, UserError) and "unknown input format 'brat'" in str(result.exception)


def test_the_eval_pool_cache_takes_a_dataset_folder(tmp_path, pools):
    from el4ner_local.evaluation.cache import pool_index

    folder, sentences = pools
    index = pool_index(folder / "pool-dataset", tmp_path)
    assert index.manifest["counts"]["sentences"] == 20
    assert pool_index(folder / "pool-dataset", tmp_path).path == index.path  # built once, found again


def test_the_annotators_session_index_takes_a_docbin(tmp_path, pools):
    from el4ner_local.commands.annotate import session_index

    folder, _ = pools
    index = session_index(tmp_path / "index", folder / "pool.spacy", lambda message: None, "spacy")
    assert index.manifest["counts"]["sentences"] == 20


@pytest.mark.parametrize(
    "args,fmt",
    [
        (["x.spacy"], "spacy"),
        (["x.parquet"], "hf"),
        (["x-dataset", "--export-format", "hf"], "hf"),
        (["x.jsonl", "--export-format", "prodigy"], "prodigy"),
        (["x.jsonl", "--export-format", "doccano"], "doccano"),
    ],
)
def test_annotate_exports_the_accepted_sentences_in_each_tools_format(tmp_path, args, fmt):
    doc = annotated(tmp_path)
    result = runner.invoke(app, ["annotate", str(doc), "--export", str(tmp_path / args[0]), *args[1:]])
    assert result.exit_code == 0, (result.output, result.exception)
    assert f"1 accepted sentences ({fmt})" in result.output
    runner.invoke(app, ["annotate", str(doc), "--export", str(tmp_path / "ours.jsonl")])
    [sentence] = read_labelled(tmp_path / args[0], fmt)
    [ours] = read_labelled(tmp_path / "ours.jsonl")
    assert (sentence.text, sentence.spans) == (ours.text, ours.spans)
    assert [sentence.text[s.start : s.end] for s in sentence.spans] == ["Ada Lovelace", "Charles Babbage"]


def test_annotate_exports_label_studio_annotations(tmp_path):
    doc = annotated(tmp_path)
    result = runner.invoke(
        app, ["annotate", str(doc), "--export", str(tmp_path / "ls.json"), "--export-format", "label-studio"]
    )
    assert result.exit_code == 0, (result.output, result.exception)
    [task] = json.loads((tmp_path / "ls.json").read_text(encoding="utf-8"))
    assert task["data"]["source"] == "notes.txt" and len(task["annotations"][0]["result"]) == 2


def test_annotate_refuses_an_unknown_export_format_before_anything(tmp_path):
    doc = annotated(tmp_path)
    result = runner.invoke(app, ["annotate", str(doc), "--export", str(tmp_path / "x.json"), "--export-format", "xls"])
    assert isinstance(result.exception, UserError) and "unknown --export-format 'xls'" in str(result.exception)
    assert not (tmp_path / "x.json").exists()
