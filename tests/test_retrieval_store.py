"""The on-disk index: add(), crash safety, corrupt or mismatched files, the `index` CLI."""

from __future__ import annotations

import json
import shutil

import pytest
from corpora import labelled
from typer.testing import CliRunner

from el4ner_local.commands.index import index_app
from el4ner_local.documents import LabelledSentence, Span, tokenize
from el4ner_local.errors import UserError
from el4ner_local.retrieval import DemoIndex, store

POOL = [
    labelled("Barack Obama visited Paris last week .", ("Barack Obama", "person"), ("Paris", "location")),
    labelled("I just bought a new iPhone from Apple .", ("iPhone", "product"), ("Apple", "corporation")),
    labelled("Taylor Swift sang in London tonight !", ("Taylor Swift", "person"), ("London", "location")),
    labelled("the weather is so nice today , going for a walk"),
    labelled("Watching Game of Thrones with friends .", ("Game of Thrones", "creative-work")),
]
N_SPANS = sum(len(s.spans) for s in POOL)
EXTRA = [
    labelled(
        "Pikachu and Bulbasaur fought in Kanto .",
        ("Pikachu", "character"),
        ("Bulbasaur", "character"),
        ("Kanto", "location"),
    ),
    labelled("nothing to see here , move along"),
]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A pristine index, copied for every test that changes it."""
    return DemoIndex.build(POOL, tmp_path_factory.mktemp("base") / "idx").path


@pytest.fixture
def idx_dir(built, tmp_path):
    target = tmp_path / "idx"
    shutil.copytree(built, target)
    return target


def texts(index):
    return [s.text for s in index.pool]


def manifest_of(path):
    return json.loads((path / "manifest.json").read_text())


def write_manifest(path, data):
    (path / "manifest.json").write_text(json.dumps(data))


# ---------------------------------------------------------------------------------------------
# add()


def test_add_then_reload_sees_the_added_sentences(idx_dir):
    index = DemoIndex.load(idx_dir)
    assert index.add(EXTRA) == 2
    assert index.labels[-1] == "character" and len(index) == len(POOL) + 2
    demos = index.retrieve("Charmander lives in Kanto", ["Charmander", "Kanto"], k=1)
    assert demos[0].text == EXTRA[0].text  # visible in memory at once
    again = DemoIndex.load(idx_dir)
    assert texts(again) == texts(index)
    assert again.manifest["counts"]["per_label"]["character"] == 2
    assert again.retrieve("Charmander lives in Kanto", ["Charmander", "Kanto"], k=1)[0].text == EXTRA[0].text
    assert again.retrieve("nothing to see here", [], k=1)[0].text == EXTRA[1].text  # sentence index updated too


def test_add_grows_the_hnswlib_indexes_past_their_capacity(idx_dir):
    index = DemoIndex.load(idx_dir)
    batch = [
        labelled(f"Player{i} joined Club{i} in City{i} .", (f"Player{i}", "person"), (f"Club{i}", "group"))
        for i in range(40)
    ]
    index.add(batch[:10])
    index.add(batch[10:])
    again = DemoIndex.load(idx_dir)
    assert len(again) == len(POOL) + 40 and again.n_spans == index.n_spans == N_SPANS + 80
    assert "Player33 joined" in again.retrieve("Player33 was here", ["Player33"], k=1)[0].text


def test_add_nothing_and_bad_sentences(idx_dir):
    index = DemoIndex.load(idx_dir)
    assert index.add([]) == 0
    with pytest.raises(UserError, match="outside the sentence"):
        index.add([LabelledSentence("short", tokenize("short"), [Span(0, 50, "person")], "new.conll:3")])
    with pytest.raises(UserError, match="empty sentence"):
        index.add([LabelledSentence("   ", [], [], "new.conll:7")])
    assert len(DemoIndex.load(idx_dir)) == len(POOL)


def test_add_refuses_when_another_process_changed_the_index(idx_dir):
    first, second = DemoIndex.load(idx_dir), DemoIndex.load(idx_dir)
    first.add(EXTRA[:1])
    with pytest.raises(UserError, match="changed on disk"):
        second.add(EXTRA[1:])
    assert len(DemoIndex.load(idx_dir)) == len(POOL) + 1


# ---------------------------------------------------------------------------------------------
# Crashes


class Crash(Exception):
    pass


def test_crash_before_the_manifest_is_committed_keeps_the_old_index(idx_dir, monkeypatch):
    index = DemoIndex.load(idx_dir)
    real_commit = store._commit

    def crash(*args, **kwargs):
        raise Crash()

    monkeypatch.setattr(store, "_commit", crash)
    with pytest.raises(Crash):
        index.add(EXTRA)
    # new spans.bin / sentences.bin written as .new, pool.jsonl appended: none of it is committed
    assert (idx_dir / "spans.bin.new").exists()
    assert (idx_dir / "pool.jsonl").stat().st_size > manifest_of(idx_dir)["files"]["pool.jsonl"]["bytes"]
    assert texts(index) == [s.text for s in POOL]  # the object went back to the state on disk
    old = DemoIndex.load(idx_dir)
    assert texts(old) == [s.text for s in POOL] and old.n_spans == N_SPANS
    # the next add cuts the uncommitted tail off and works
    monkeypatch.setattr(store, "_commit", real_commit)
    old.add(EXTRA[1:])
    assert texts(DemoIndex.load(idx_dir)) == [s.text for s in POOL] + [EXTRA[1].text]


def test_crash_after_commit_before_renames_rolls_forward(idx_dir, monkeypatch):
    index = DemoIndex.load(idx_dir)
    real = store._roll_forward

    def crash(path, names):
        raise Crash()

    monkeypatch.setattr(store, "_roll_forward", crash)
    with pytest.raises(Crash):
        index.add(EXTRA)
    monkeypatch.setattr(store, "_roll_forward", real)
    assert (idx_dir / "spans.bin.new").exists()  # committed but not yet renamed
    new = DemoIndex.load(idx_dir)
    assert texts(new) == [s.text for s in POOL + EXTRA]
    assert not (idx_dir / "spans.bin.new").exists()  # rolled forward on load
    assert DemoIndex.load(idx_dir).n_spans == N_SPANS + 3


def test_crash_during_first_build_leaves_no_loadable_half_index(tmp_path, monkeypatch):
    def crash(*args, **kwargs):
        raise Crash()

    monkeypatch.setattr(store, "_commit", crash)
    with pytest.raises(Crash):
        DemoIndex.build(POOL, tmp_path / "idx")
    with pytest.raises(UserError, match="never completely written"):
        DemoIndex.load(tmp_path / "idx")
    monkeypatch.undo()
    assert len(DemoIndex.build(POOL, tmp_path / "idx")) == len(POOL)  # building again over the debris works


def test_rebuild_interrupted_keeps_the_previous_index(idx_dir, monkeypatch):
    monkeypatch.setattr(store, "_commit", lambda *a, **k: (_ for _ in ()).throw(Crash()))
    with pytest.raises(Crash):
        DemoIndex.build(POOL[:2] + EXTRA, idx_dir)
    monkeypatch.undo()
    assert texts(DemoIndex.load(idx_dir)) == [s.text for s in POOL]


def test_new_spans_file_without_its_manifest_is_an_error(idx_dir, tmp_path):
    """A spans.bin from another state (a writer that died before the manifest) is never used silently."""
    other = DemoIndex.build(POOL + EXTRA, tmp_path / "other")
    shutil.copy(other.path / "spans.bin", idx_dir / "spans.bin")
    with pytest.raises(UserError, match="spans.bin: does not match the manifest"):
        DemoIndex.load(idx_dir)


# ---------------------------------------------------------------------------------------------
# Corrupt, missing or mismatched files


@pytest.mark.parametrize(
    "damage, message",
    [
        (
            lambda d: (d / "manifest.json").write_text((d / "manifest.json").read_text()[:80]),
            "corrupt or truncated manifest",
        ),
        (lambda d: (d / "manifest.json").unlink(), "never completely written"),
        (lambda d: (d / "pool.jsonl").unlink(), "pool.jsonl: is missing"),
        (
            lambda d: (d / "sentences.bin").write_bytes((d / "sentences.bin").read_bytes()[:100]),
            "sentences.bin: does not match",
        ),
        (lambda d: (d / "pool.jsonl").write_bytes((d / "pool.jsonl").read_bytes()[:-30]), "pool.jsonl: does not match"),
        (
            lambda d: (d / "pool.jsonl").write_bytes(b"X" + (d / "pool.jsonl").read_bytes()[1:]),
            "pool.jsonl: does not match",
        ),
    ],
)
def test_damaged_files_give_a_clear_error(idx_dir, damage, message):
    damage(idx_dir)
    with pytest.raises(UserError, match=message) as info:
        DemoIndex.load(idx_dir)
    assert "index build" in info.value.one_line() and "\n" not in info.value.one_line()


def test_uncommitted_tail_of_the_pool_is_ignored(idx_dir):
    with open(idx_dir / "pool.jsonl", "ab") as f:
        f.write(b'{"text": "half a rec')
    assert texts(DemoIndex.load(idx_dir)) == [s.text for s in POOL]


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: m["counts"].update(sentences=99), "manifest says 99"),
        (lambda m: m["counts"].update(spans=3), "manifest says"),
        (lambda m: m.update(format_version=99), "format version 99"),
        (lambda m: m.update(format="something else"), "not an el4ner-local demonstration index"),
        (lambda m: m["embedder"].update(weights_sha256="0" * 64), "built with embedder"),
        (lambda m: m["embedder"].update(name="BAAI/bge-small-en"), "built with embedder BAAI/bge-small-en"),
        (lambda m: m.pop("files"), "lacks required fields"),
        (lambda m: m["pos_weights"].update(scheme="tagger"), "lacks required fields or has invalid values"),
        (lambda m: m["counts"].update(sentences=0), "pool is empty"),
    ],
)
def test_mismatched_manifest_gives_a_clear_error(idx_dir, edit, message):
    data = manifest_of(idx_dir)
    edit(data)
    write_manifest(idx_dir, data)
    with pytest.raises(UserError, match=message):
        DemoIndex.load(idx_dir)


def test_load_errors_for_missing_or_foreign_directories(tmp_path):
    with pytest.raises(UserError, match="no such index directory"):
        DemoIndex.load(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="not an index directory"):
        DemoIndex.load(tmp_path / "file")
    with pytest.raises(UserError, match="no manifest.json"):
        DemoIndex.load(tmp_path)


def test_build_refuses_empty_pools_and_foreign_directories(tmp_path):
    with pytest.raises(UserError, match="pool is empty"):
        DemoIndex.build([], tmp_path / "a")
    with pytest.raises(UserError, match="no labelled entities"):
        DemoIndex.build([POOL[3]], tmp_path / "b")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="holds other files"):
        DemoIndex.build(POOL, tmp_path / "c")
    assert (tmp_path / "c" / "notes.txt").read_text() == "mine"


# ---------------------------------------------------------------------------------------------
# CLI


CONLL = "Barack\tB-person\nObama\tI-person\nvisited\tO\nParis\tB-location\n.\tO\n\nI\tO\nlike\tO\nPepsi\tB-product\n\n"


def test_cli_build_info_add(tmp_path):
    pool = tmp_path / "pool.conll"
    pool.write_text(CONLL)
    out = tmp_path / "idx"
    runner = CliRunner()
    result = runner.invoke(index_app, ["build", str(pool), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 sentences, 3 spans" in result.output
    result = runner.invoke(index_app, ["info", str(out)])
    assert result.exit_code == 0, result.output
    assert "person" in result.output and "matches the installed one" in result.output
    more = tmp_path / "more.jsonl"
    more.write_text(json.dumps({"text": "Lego rocks", "entities": [{"start": 0, "end": 4, "label": "product"}]}) + "\n")
    result = runner.invoke(index_app, ["add", str(out), str(more)])
    assert result.exit_code == 0, result.output
    info = json.loads(runner.invoke(index_app, ["info", str(out), "--json"]).output)
    assert info["counts"]["sentences"] == 3 and info["labels"] == ["person", "location", "product"]


def test_cli_user_mistakes_are_user_errors(tmp_path):
    runner = CliRunner()
    result = runner.invoke(index_app, ["build", str(tmp_path / "missing.conll"), "-o", str(tmp_path / "i")])
    assert isinstance(result.exception, UserError) and "no such pool file" in str(result.exception)
    bad = tmp_path / "bad.conll"
    bad.write_text("Obama\tPERSON\nvisited\tO\n\n")
    result = runner.invoke(index_app, ["build", str(bad), "-o", str(tmp_path / "i")])
    assert isinstance(result.exception, UserError), result.output
    result = runner.invoke(index_app, ["build", str(bad), "-o", str(tmp_path / "i"), "--pos-weights", "magic"])
    assert isinstance(result.exception, UserError)
    result = runner.invoke(index_app, ["info", str(tmp_path / "nothing")])
    assert isinstance(result.exception, UserError) and "no such index directory" in str(result.exception)
