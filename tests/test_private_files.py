"""Nothing leaked through file modes (SECURITY.md, "Who can read the files"): under the usual umask
022, everything el4ner-local keeps that holds the user's text is 0700/0600, and an output made from
an input is no more readable than that input. The real writers run here (index, eval record cache,
annotator session, `tag -o`); only the models are left out where they are not needed."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from el4ner_local.private_files import mode_beside, open_private, private_dir

POOL_CONLL = (
    "Ada\tB-person\nLovelace\tI-person\nmet\tO\nBabbage\tB-person\nin\tO\nLondon\tB-location\n.\tO\n\n"
    "Maria\tB-person\nflew\tO\nto\tO\nLisbon\tB-location\n.\tO\n"
)
MORE_CONLL = "Grace\tB-person\nvisited\tO\nParis\tB-location\n.\tO\n"


@pytest.fixture(autouse=True)
def umask022():
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("EL4NER_CACHE", str(folder))
    return folder


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def assert_private(root: Path) -> int:
    """No folder or file under `root` (itself included) has a group/other bit; returns the files seen."""
    assert mode(root) & 0o077 == 0, f"{root}: {oct(mode(root))}"
    files = 0
    for folder, dirs, names in os.walk(root):
        for name in dirs + names:
            path = Path(folder, name)
            assert mode(path) & 0o077 == 0, f"{path}: {oct(mode(path))}"
            files += name in names
    return files


def user_folder(path: Path) -> Path:
    """A folder of the user's own, readable by others (pytest's tmp_path is 0700 itself)."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o755)
    return path


def text_file(path: Path, perms: int, text: str = "Ada Lovelace met Charles Babbage in London.\n") -> Path:
    path.write_text(text, encoding="utf-8")
    os.chmod(path, perms)
    return path


# -- the rule ---------------------------------------------------------------------------------------


def test_the_output_rule_follows_the_input_and_the_umask(tmp_path):
    wide, group, private = (
        text_file(tmp_path / f"{n}.txt", m) for n, m in (("wide", 0o644), ("group", 0o640), ("private", 0o600))
    )
    assert mode_beside([wide]) == 0o644
    assert mode_beside([group]) == 0o640
    assert mode_beside([private]) == 0o600
    assert mode_beside([wide, group]) == 0o640  # every input must allow a bit
    assert mode_beside(["-"]) == mode_beside([wide, "-"]) == 0o600  # standard input: unknown
    assert mode_beside([tmp_path / "missing.txt"]) == mode_beside([]) == 0o600
    assert mode_beside([text_file(tmp_path / "ro.txt", 0o444)]) == 0o644  # the owner can still write it
    os.umask(0o077)
    assert mode_beside([wide]) == 0o600


def test_private_dir_tightens_only_folders_of_ours(tmp_path):
    users = user_folder(tmp_path / "users")
    made = private_dir(users / "a" / "b")
    assert mode(users) == 0o755 and mode(users / "a") == mode(made) == 0o700
    ours = user_folder(users / "ours")
    user_folder(ours / "old")
    os.chmod(ours / "old", 0o750)
    private_dir(ours / "old" / "new", ours_from=ours)
    assert mode(users) == 0o755  # above ours_from: untouched
    assert mode(ours) == mode(ours / "old") == mode(ours / "old" / "new") == 0o700
    with pytest.raises(ValueError):
        private_dir(users, ours_from=ours)
    assert mode(users) == 0o755


def test_open_private_creates_exactly_and_only_narrows(tmp_path):
    with open_private(tmp_path / "new", "w", 0o640) as f:
        f.write("x")
    assert mode(tmp_path / "new") == 0o640
    old = tmp_path / "old"
    old.write_text("y")
    os.chmod(old, 0o604)
    with open_private(old, "a", 0o640) as f:
        f.write("z")
    assert mode(old) == 0o600 and old.read_text() == "yz"  # the other bit goes; the group's is not added


# -- the real writers -------------------------------------------------------------------------------


def test_index_build_and_add_write_a_private_index(tmp_path):
    from el4ner_local.commands.index import index_app
    from el4ner_local.formats import read_labelled
    from el4ner_local.retrieval import DemoIndex

    work = user_folder(tmp_path / "work")
    pool = text_file(work / "pool.conll", 0o644, POOL_CONLL)
    target = work / "made" / "idx"
    result = CliRunner().invoke(index_app, ["build", str(pool), "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert mode(work / "made") == 0o700  # made for the index: ours
    assert assert_private(target) >= 4
    more = read_labelled(text_file(work / "more.conll", 0o644, MORE_CONLL))
    DemoIndex.load(target).add(more)
    assert len(DemoIndex.load(target)) == 3
    assert assert_private(target) >= 4
    # an existing, wider index folder is tightened; the folder holding the pool is not
    os.chmod(target, 0o755)
    assert CliRunner().invoke(index_app, ["build", str(pool), "-o", str(target)]).exit_code == 0
    assert_private(target)
    assert mode(work) == 0o755 and mode(pool) == 0o644


def test_default_index_tightens_an_existing_cache_root(cache):
    import numpy as np

    from el4ner_local.retrieval.default import open_default_index
    from el4ner_local.retrieval.embedder import EmbedderIdentity

    class HashEmbedder:  # the built-in pool is 380 sentences: spare the real embedder here
        def identity(self):
            return EmbedderIdentity("hash", 8, "0" * 64)

        def encode(self, texts):
            out = np.zeros((len(texts), 8), dtype=np.float32)
            for i, t in enumerate(texts):
                out[i, len(t) % 8] = 1
            return out

    user_folder(cache)  # as an older version left it
    index = open_default_index(embedder=HashEmbedder())
    assert len(index) > 0
    assert assert_private(cache) >= 4


def test_eval_record_cache_and_pool_index_are_private(cache, tmp_path):
    from el4ner_local.evaluation.cache import RecordCache, eval_folder, pool_index

    entry = {"id": "abc", "text": "Ada Lovelace met Charles Babbage in London.", "record": {}}
    records = RecordCache(eval_folder("records") / "run.jsonl", {"settings": "x"})
    records.put(entry)
    pool = text_file(tmp_path / "pool.conll", 0o644, POOL_CONLL)
    pool_index(pool)
    assert assert_private(cache) >= 6
    assert sorted(p.name for p in (cache / "eval" / "records").iterdir()) == ["run.config.json", "run.jsonl"]
    # eval --cache DIR: DIR is the user's (kept as it is); what el4ner-local makes in it is private
    mine = user_folder(tmp_path / "mine")
    RecordCache(eval_folder("records", mine) / "run.jsonl", {"settings": "x"}).put(entry)
    pool_index(pool, mine)
    assert mode(mine) == 0o755
    assert assert_private(mine / "records") == 2
    assert assert_private(mine / "index") >= 4


@pytest.mark.parametrize("perms", [0o640, 0o600], ids=["0640", "0600"])
def test_the_annotators_files_follow_the_input_and_its_state_is_private(tmp_path, perms):
    from test_tui_support import DEFAULT_MODELS, LABELS, TEXT, default_records

    from el4ner_local.commands.annotate import session_index
    from el4ner_local.tui.annotation_store import AnnotationStore

    work = user_folder(tmp_path / "work")
    doc = text_file(work / "notes.txt", perms, TEXT)
    old = doc.with_name("notes.annotations.jsonl")  # an older, wider annotations file is narrowed
    store = AnnotationStore.open(doc)
    s = store.state
    s.set_labels(LABELS)
    for i, rec in default_records().items():
        s.set_suggestions(i, rec, DEFAULT_MODELS)
    s.accept_sentence()
    assert store.save() and store.save_state()
    os.chmod(old, 0o644)
    s.goto(1)
    s.accept_sentence()
    pool = text_file(work / "pool.conll", 0o644, POOL_CONLL)
    session_index(store.state_dir / "index", pool, lambda message: None)
    store.export_jsonl(work / "gold.jsonl")
    store.export_conll(work / "gold.conll")

    assert assert_private(store.state_dir) >= 6  # state.json, suggestions.jsonl, the index's files
    assert {p.name for p in store.state_dir.iterdir()} >= {"state.json", "suggestions.jsonl", "index"}
    for output in (old, work / "gold.jsonl", work / "gold.conll"):
        assert mode(output) == perms, (output, oct(mode(output)))
    assert json.loads(old.read_text().splitlines()[0])["status"] == "accepted"
    assert mode(work) == 0o755 and mode(doc) == perms  # the user's folder and input are left alone


def test_an_annotations_file_in_a_new_folder_gets_a_private_folder(tmp_path):
    from el4ner_local.tui.annotation_store import AnnotationStore

    work = user_folder(tmp_path / "work")
    doc = text_file(work / "notes.txt", 0o644)
    store = AnnotationStore.open(doc, work / "new" / "notes.jsonl")
    store.state.accept_sentence()
    assert store.save()
    assert mode(work) == 0o755
    assert mode(work / "new") == 0o700 and mode(work / "new" / "notes.jsonl") == 0o644
    assert_private(store.state_dir)


@pytest.mark.models
def test_tag_output_is_no_more_readable_than_its_input(default_models, tmp_path):
    cheap = ["--only", "smollm2-135m", "--index", "none", "--labels", "person,location"]

    def tag(*args, stdin=None):
        proc = subprocess.run(
            [sys.executable, "-m", "el4ner_local.cli", "tag", *args, *cheap],
            input=stdin,
            capture_output=True,
            timeout=1800,
        )
        assert proc.returncode == 0, proc.stderr.decode()

    group = text_file(tmp_path / "group.txt", 0o640, "Maria flew to Lisbon.\n")
    private = text_file(tmp_path / "private.txt", 0o600, "Maria flew to Lisbon.\n")
    tag(str(group), "-o", str(tmp_path / "g.jsonl"))
    tag(str(private), "-o", str(tmp_path / "p.jsonl"))
    tag("-", "-o", str(tmp_path / "s.jsonl"), stdin=b"Maria flew to Lisbon.\n")
    wider = tmp_path / "w.conll"
    wider.write_text("")
    os.chmod(wider, 0o644)
    tag(str(group), "-o", str(wider), "--format", "conll")
    assert mode(tmp_path / "g.jsonl") == 0o640
    assert mode(tmp_path / "p.jsonl") == 0o600
    assert mode(tmp_path / "s.jsonl") == 0o600
    assert mode(wider) == 0o640  # an existing output loses what the input does not allow
    assert "Lisbon" in json.loads((tmp_path / "g.jsonl").read_text().splitlines()[0])["text"]


@pytest.mark.parametrize("name", ["tags.parquet", "tags"])
def test_a_dataset_is_readable_by_no_one_else_until_it_is_in_place(tmp_path, monkeypatch, name):
    """A Parquet file or saved dataset folder (0644/0755 beside a 0644 input) is written in a private
    folder: at the final rename, nothing in the user's folder is readable by others (a SIGKILL then
    would leave nothing readable), and afterwards only the output is there."""
    pytest.importorskip("datasets")
    from el4ner_local.formats.outputs import write_all
    from el4ner_local.formats.tagged import OutSpan, OutText

    folder = user_folder(tmp_path / "work")
    target = folder / name
    seen: list[tuple[str, int]] = []
    real_replace = os.replace

    def replace(src, dst):
        if Path(dst) == target:
            seen.extend((entry.name, mode(entry)) for entry in folder.iterdir() if entry != target)
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    items = [OutText("Ada met Babbage.", [OutSpan(0, 3, "person")])]
    write_all(items, "hf", target, 0o644)
    write_all(items, "hf", target, 0o644)  # over the first one: the old one is moved aside meanwhile
    assert seen and all(m & 0o077 == 0 for _, m in seen), seen
    assert mode(target) == (0o644 if name.endswith(".parquet") else 0o755)
    assert [p.name for p in folder.iterdir()] == [name]
