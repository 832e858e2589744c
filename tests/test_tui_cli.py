"""`el4ner-local annotate` on the command line: options, export without the interface, and errors
that stop it before the interface starts."""

from __future__ import annotations

import subprocess
import sys

from test_tui_support import DEFAULT_MODELS, TEXT, default_records
from typer.testing import CliRunner

from el4ner_local.cli import app
from el4ner_local.errors import UserError
from el4ner_local.formats import read_labelled
from el4ner_local.tui.annotation_store import AnnotationStore

runner = CliRunner()


def annotated(tmp_path):
    doc = tmp_path / "notes.txt"
    doc.write_text(TEXT, encoding="utf-8")
    s = AnnotationStore.open(doc).state
    for i, rec in default_records().items():
        s.set_suggestions(i, rec, DEFAULT_MODELS)
    s.set_labels(["person"])
    s.accept_sentence()
    return doc


def test_help_names_the_options():
    result = runner.invoke(app, ["annotate", "--help"])
    assert result.exit_code == 0
    for option in ("--out", "--pool", "--index", "--keys", "--export", "--labels", "--only"):
        assert option in result.output


def test_export_without_the_interface(tmp_path):
    doc = annotated(tmp_path)
    result = runner.invoke(
        app, ["annotate", str(doc), "--export", str(tmp_path / "a.jsonl"), "--export", str(tmp_path / "a.conll")]
    )
    assert result.exit_code == 0, result.output
    assert "1 accepted sentences (JSONL" in result.output and "1 accepted sentences (CoNLL" in result.output
    assert [len(s.spans) for s in read_labelled(tmp_path / "a.jsonl")] == [2]
    assert [len(s.spans) for s in read_labelled(tmp_path / "a.conll")] == [2]


def test_errors_before_the_interface_starts(tmp_path):
    doc = annotated(tmp_path)
    cases = [
        (["--export", str(tmp_path / "a.xlsx")], "unknown export format"),
        (["--pool", str(doc), "--index", str(tmp_path)], "--pool and --index"),
        (["--pool", str(tmp_path / "nope.conll")], "no such pool file"),
        (["--keys", str(tmp_path / "nope.toml")], "keys file not found"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["annotate", str(doc), *args])
        assert isinstance(result.exception, UserError) and message in str(result.exception), (args, result.output)


def test_the_console_entry_point_prints_one_line(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "el4ner_local.cli",
            "annotate",
            str(tmp_path / "missing.txt"),
            "--export",
            str(tmp_path / "x.jsonl"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"el4ner-local: error: {tmp_path / 'missing.txt'}: no such file (fix: check the path)"
    ]
