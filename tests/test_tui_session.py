"""The annotation state and its store without the interface: decisions, undo, persistence, resume,
exports, the key map. Model records are hand-made here (the pilot tests use real models)."""

from __future__ import annotations

import errno
import json
import os

import pytest
from test_tui_support import DEFAULT_MODELS, LABELS, TEXT, default_records, unwritable_dir

from el4ner_local.errors import UserError
from el4ner_local.formats import read_labelled
from el4ner_local.tui import annotation_store as store_mod
from el4ner_local.tui import keys as keys_mod
from el4ner_local.tui.annotation_state import ACCEPTED, PARTIAL, TODO, AnnotationState
from el4ner_local.tui.annotation_store import AnnotationStore, default_out_path, state_dir_for


@pytest.fixture
def doc(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def opened(doc, out=None, with_records=True) -> AnnotationStore:
    store = AnnotationStore.open(doc, out)
    s = store.state
    s.set_labels(LABELS)
    if with_records:
        for i, rec in default_records().items():
            if s.sentences[i].record is None:
                s.set_suggestions(i, rec, DEFAULT_MODELS)
    return store


def sentence_states(s: AnnotationState) -> list:
    """Each sentence's status and spans (the undecided suggestions too), as a person sees them."""
    return [(x.status, [(sp.start, sp.end, sp.label, sp.verdict, sp.origin) for sp in x.spans]) for x in s.sentences]


def lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def focus_on(s: AnnotationState, surface: str) -> None:
    s.focus_span(next(i for i, sp in enumerate(s.current.spans) if s.text[sp.start : sp.end] == surface))


def test_opening_splits_sentences_and_writes_nothing_before_a_decision(doc):
    store = opened(doc)
    s = store.state
    assert [x.text for x in s.sentences] == [
        "Ada Lovelace met Charles Babbage in London.",
        "She wrote notes on the Analytical Engine.",
        "Babbage never finished it.",
    ]
    assert store.out_path == default_out_path(doc) == doc.with_name("notes.annotations.jsonl")
    assert not store.out_path.exists()
    assert [x.status for x in s.sentences] == [TODO] * 3
    # the model candidates come in undecided, the rejected one too
    assert [(s.text[x.start : x.end], x.verdict, x.suggested) for x in s.current.spans] == [
        ("Ada Lovelace", None, True),
        ("Charles Babbage", None, True),
        ("London", None, False),
    ]


def test_each_decision_is_on_disk_at_once_and_read_labelled_reads_the_file(doc):
    store = opened(doc)
    s = store.state
    focus_on(s, "Ada Lovelace")
    assert s.accept() == ""
    assert lines(store.out_path)[0]["entities"] == [{"start": 0, "end": 12, "label": "person", "text": "Ada Lovelace"}]
    focus_on(s, "Charles Babbage")
    s.reject()
    focus_on(s, "London")
    s.relabel("location")  # brings a rejected candidate back, with a type
    rec = lines(store.out_path)[0]
    assert rec["status"] == PARTIAL and rec["sentence_index"] == 0 and rec["start"] == 0
    assert [(x["text"], x["label"], x["verdict"], x["origin"]) for x in rec["spans"]] == [
        ("Ada Lovelace", "person", "accepted", "model"),
        ("Charles Babbage", "person", "rejected", "model"),
        ("London", "location", "accepted", "model"),
    ]
    gold = read_labelled(store.out_path)
    assert [(gold[0].text[sp.start : sp.end], sp.label) for sp in gold[0].spans] == [
        ("Ada Lovelace", "person"),
        ("London", "location"),
    ]


def test_add_widen_shrink_and_undo(doc):
    store = opened(doc)
    s = store.state
    s.goto(1)
    base = s.current.start
    start = TEXT.index("Analytical", base)
    assert s.add_span(start, start + len("Analytical"), "group") == ""
    added = s.focused()
    assert (added.origin, added.verdict, s.text[added.start : added.end]) == ("person", "accepted", "Analytical")
    # the models' own "Analytical Engine" candidate is a different span
    assert len(s.current.spans) == 2
    s.resize("left", True)
    assert s.text[added.start : added.end] == "the Analytical"
    s.resize("left", False)
    s.resize("right", True)
    assert s.text[added.start : added.end] == "Analytical Engine"
    assert s.resize("right", True) == ""  # up to the full stop
    assert s.text[s.focused().start : s.focused().end] == "Analytical Engine."
    assert s.undo().startswith("undone: widen")
    assert s.text[s.focused().start : s.focused().end] == "Analytical Engine"
    s.undo(), s.undo(), s.undo(), s.undo()
    assert s.undo() == "nothing to undo"
    assert [x.origin for x in s.current.spans] == ["model"]
    assert lines(store.out_path) == []  # back to untouched: no record


def test_shrinking_a_one_token_span_is_refused(doc):
    store = opened(doc)
    focus_on(store.state, "London")
    assert "one token" in store.state.resize("right", False)
    assert not store.out_path.exists()


def test_accept_sentence_takes_the_models_decisions_and_undo_brings_back_the_old_state(doc):
    store = opened(doc)
    s = store.state
    assert s.accept_sentence() == ""
    rec = lines(store.out_path)[0]
    assert rec["status"] == ACCEPTED
    assert [(e["text"], e["label"]) for e in rec["entities"]] == [
        ("Ada Lovelace", "person"),
        ("Charles Babbage", "person"),
    ]
    assert [x["verdict"] for x in rec["spans"]] == ["accepted", "accepted", "rejected"]
    labelled = s.labelled_sentence(0)
    assert labelled.text == s.sentences[0].text and labelled.source == "notes.txt: sentence 1"
    s.undo()
    assert s.sentences[0].status == TODO and not store.out_path.read_text().strip()


def test_resume_restores_decisions_cursor_focus_and_suggestions(doc):
    store = opened(doc)
    s = store.state
    s.goto(1)
    s.focus_span(0)
    s.relabel("location")
    s.goto(0)
    focus_on(s, "Charles Babbage")
    reopened = AnnotationStore.open(doc)  # no records given: they come from the suggestions cache
    again = reopened.state
    assert sentence_states(again) == sentence_states(s)
    assert reopened.records() == store.records()
    assert (again.cursor, again.focus) == (0, 1)
    assert all(x.record is not None for x in again.sentences[:2]) and again.sentences[2].record is None
    assert again.sentences[1].spans[0].candidate is not None  # decisions are linked to their votes again
    assert again.labels == ["location"]  # the labels used; the schema's come when the models load


def test_resume_without_a_state_file_goes_to_the_first_unfinished_sentence(doc):
    store = opened(doc)
    store.state.accept_sentence()
    os.unlink(store.state_path)
    assert AnnotationStore.open(doc).state.cursor == 1


def test_a_torn_line_of_the_suggestions_cache_is_ignored(doc):
    store = opened(doc)
    with open(store.suggestions_path, "ab") as f:
        f.write(b'{"sentence_index": 2, "start": 86, "te')
    again = AnnotationStore.open(doc).state
    assert again.sentences[0].record is not None and again.sentences[2].record is None


def test_annotations_of_another_text_are_refused(doc, tmp_path):
    opened(doc).state.accept_sentence()
    doc.write_text(TEXT.replace("London", "Paris"), encoding="utf-8")
    with pytest.raises(UserError, match="has changed since it was annotated"):
        AnnotationStore.open(doc)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not json\n", "not an annotation record"),
        (b'{"text": "x", "entities": []}\n', "not an annotation record"),
        (b"\xff\xfe\x00", "not UTF-8"),
    ],
)
def test_a_foreign_annotations_file_is_a_clear_error(doc, content, message):
    default_out_path(doc).write_bytes(content)
    with pytest.raises(UserError, match=message) as err:
        AnnotationStore.open(doc)
    assert "--out" in err.value.one_line()


def test_unreadable_inputs_are_one_line_errors(tmp_path):
    (tmp_path / "bin.txt").write_bytes(b"abc\x00def")
    (tmp_path / "empty.txt").write_text("  \n")
    for name, message in [("missing.txt", "no such file"), ("bin.txt", "binary file"), ("empty.txt", "empty file")]:
        with pytest.raises(UserError, match=message):
            AnnotationStore.open(tmp_path / name)
    with pytest.raises(UserError, match="is the input"):
        (tmp_path / "a.txt").write_text("Hello there.")
        AnnotationStore.open(tmp_path / "a.txt", tmp_path / "a.txt")


def test_a_full_disk_loses_no_decision(doc, monkeypatch):
    store = opened(doc)
    s = store.state
    focus_on(s, "Ada Lovelace")
    s.accept()
    on_disk = store.out_path.read_bytes()
    real = store_mod.atomic_write

    def full(path, data, *mode):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(store_mod, "atomic_write", full)
    focus_on(s, "Charles Babbage")
    s.reject()
    assert store.unsaved and "No space left on device" in store.save_error
    assert store.out_path.read_bytes() == on_disk  # the previous complete version, untouched
    assert s.current.spans[1].verdict == "rejected"  # kept in memory
    monkeypatch.setattr(store_mod, "atomic_write", real)
    assert store.save() and store.save_error is None and not store.unsaved
    assert [x["verdict"] for x in lines(store.out_path)[0]["spans"]] == ["accepted", "rejected"]


def test_relocate_saves_everything_elsewhere(doc, tmp_path):
    store = opened(doc)
    store.state.accept_sentence()
    elsewhere = tmp_path / "other" / "ann.jsonl"
    assert store.relocate(elsewhere)
    assert lines(elsewhere)[0]["status"] == ACCEPTED
    again = AnnotationStore.open(doc, elsewhere).state
    assert again.sentences[0].status == ACCEPTED and again.sentences[0].record is not None


def test_relocate_never_writes_over_an_input_or_another_file(doc, tmp_path):
    """Save as (relocate) to the input text (by another name too), to another input of the session
    (a pool), or to an unrelated file: refused in save_error, nothing written, the old path kept.
    An empty file or annotations of this input may be replaced."""
    pool = tmp_path / "pool.conll"
    pool.write_text("Ada\tB-person\n", encoding="utf-8")
    keep = tmp_path / "keep.txt"
    keep.write_text("my own notes\n", encoding="utf-8")
    os.link(doc, tmp_path / "hard.txt")
    store = AnnotationStore.open(doc, inputs=[pool, None])
    store.state.set_labels(LABELS)
    store.state.accept_sentence()
    ann, before = store.out_path, {p: p.read_bytes() for p in (doc, pool, keep)}
    for dest, message in [
        (doc, "is the input"),
        (tmp_path / "hard.txt", "is the input"),
        (tmp_path / "sub" / ".." / "pool.conll", "is the input"),
        (keep, "choose a new name"),
    ]:
        assert store.relocate(dest) is False, dest
        assert message in store.save_error and str(dest) in store.save_error
        assert store.out_path == ann
    assert {p: p.read_bytes() for p in before} == before
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert store.relocate(empty) and lines(empty)[0]["status"] == ACCEPTED
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(ann.read_bytes())  # an earlier copy of these annotations
    assert store.relocate(copy) and store.out_path == copy


def test_a_symlinked_annotations_file_stays_a_link(doc, tmp_path):
    """Saving through a symlinked --out writes the file it names (so its lock, which follows the
    link, stays the lock of the file written)."""
    real = tmp_path / "real.jsonl"
    real.write_bytes(b"")
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    store = opened(doc, link)
    store.state.accept_sentence()
    assert link.is_symlink() and lines(real)[0]["status"] == ACCEPTED


def test_a_read_only_output_path_is_reported_before_any_decision(doc, tmp_path):
    ro = unwritable_dir(tmp_path)
    store = opened(doc, ro / "ann.jsonl", with_records=False)
    s = store.state
    assert not store.check_writable() and "cannot write" in store.save_error
    for i, rec in default_records().items():
        s.set_suggestions(i, rec, DEFAULT_MODELS)  # the cache cannot be written either: kept in memory
    assert store.suggestions_error and all(s.sentences[i].record is not None for i in default_records())
    s.accept_sentence()
    assert store.unsaved and s.sentences[0].status == ACCEPTED


def test_next_uncertain_finds_unsure_spans_only(doc):
    s = opened(doc).state
    s.goto(2)
    assert s.next_uncertain() == ""
    assert (s.cursor, s.text[s.focused().start : s.focused().end]) == (0, "Charles Babbage")  # confidence 0.55
    s.accept()
    assert s.next_uncertain() == ""  # "Analytical Engine": 0.62
    assert s.cursor == 1
    s.accept()
    # "London": rejected by the ensemble, extracted by 1 of 3 models: not unsure
    assert s.next_uncertain().startswith("no uncertain span left (1 sentences still without suggestions)")


def test_suggestions_arriving_after_a_person_added_the_same_span_are_merged(doc):
    s = opened(doc, with_records=False).state
    s.set_labels(LABELS)
    s.add_span(0, 12, "location")
    s.set_suggestions(0, default_records()[0], DEFAULT_MODELS)
    ada = [x for x in s.current.spans if (x.start, x.end) == (0, 12)]
    assert len(ada) == 1 and ada[0].label == "location" and ada[0].candidate is not None
    assert len(s.current.spans) == 3
    s.undo()  # undoing the addition keeps the suggestions that came since
    assert [(x.start, x.verdict) for x in s.current.spans] == [(0, None), (17, None), (36, None)]


def test_exports_hold_the_accepted_sentences_only(doc, tmp_path):
    store = opened(doc)
    s = store.state
    s.accept_sentence()  # sentence 1, then sentence 2 left in progress
    s.goto(1)
    focus_on(s, "Analytical Engine")
    s.accept()
    assert store.export_jsonl(tmp_path / "x.jsonl") == 1
    gold = read_labelled(tmp_path / "x.jsonl")
    assert len(gold) == 1 and [gold[0].text[a.start : a.end] for a in gold[0].spans] == [
        "Ada Lovelace",
        "Charles Babbage",
    ]
    assert store.export_conll(tmp_path / "x.conll") == (1, 0)
    conll = read_labelled(tmp_path / "x.conll")
    assert [(c.text[a.start : a.end], a.label) for c in conll for a in c.spans] == [
        ("Ada Lovelace", "person"),
        ("Charles Babbage", "person"),
    ]
    assert (tmp_path / "x.conll").read_text().splitlines()[:3] == ["Ada\tB-person", "Lovelace\tI-person", "met\tO"]


def test_state_lives_beside_the_annotations(doc):
    store = opened(doc)
    store.state.accept_sentence()
    assert store.state_dir == state_dir_for(store.out_path) == doc.with_name("notes.annotations.session")
    assert sorted(p.name for p in store.state_dir.iterdir()) == ["state.json", "suggestions.jsonl"]
    assert not list(doc.parent.glob("*.tmp")) and not list(doc.parent.glob(".*.tmp"))


# -- the key map -------------------------------------------------------------------------------------


def test_default_keys_have_no_clash_and_cover_the_commands():
    keys = keys_mod.effective_keys()
    assert keys["accept"] == ["a"] and keys["label_3"] == ["3"] and keys["widen_right"] == ["right_square_bracket"]
    keys_mod.check_clashes({})


def test_user_keys_file(tmp_path, monkeypatch):
    path = tmp_path / "keys.toml"
    path.write_text('[keys]\naccept = "y,enter"\nadd_span = "s"\nreject = ["d"]\n')
    monkeypatch.setenv("EL4NER_KEYS", str(path))
    assert keys_mod.load_keymap() == {"accept": "y,enter", "add_span": "s", "reject": "d"}
    path.write_text('[keys]\nacept = "y"\n')
    with pytest.raises(UserError, match="unknown command 'acept'"):
        keys_mod.load_keymap()
    path.write_text('[keys]\naccept = "r"\n')
    with pytest.raises(UserError, match="given to both"):
        keys_mod.load_keymap()
    path.write_text("[keys\n")
    with pytest.raises(UserError, match="not valid TOML"):
        keys_mod.load_keymap()
    monkeypatch.setenv("EL4NER_KEYS", str(tmp_path / "none.toml"))
    with pytest.raises(UserError, match="keys file not found"):
        keys_mod.load_keymap()
    monkeypatch.delenv("EL4NER_KEYS")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert keys_mod.load_keymap() == {}  # no file at the default place: the defaults


def test_a_new_record_replaces_the_undecided_suggestions_of_the_old_one(doc):
    from test_tui_support import hand_record

    s = opened(doc).state
    focus_on(s, "Charles Babbage")
    s.reject()
    # other models (or another schema) computed the sentence again: London is gone, Ada is new-typed
    newer = hand_record(
        TEXT,
        0,
        [
            ("Ada Lovelace", "group", DEFAULT_MODELS[:1], True, 0.9),
            ("Charles Babbage", "person", DEFAULT_MODELS[:1], True, 0.9),
        ],
        models=DEFAULT_MODELS[:1],
    )
    s.set_suggestions(0, newer, DEFAULT_MODELS[:1])
    assert [(s.text[x.start : x.end], x.label, x.verdict) for x in s.current.spans] == [
        ("Ada Lovelace", "group", None),
        ("Charles Babbage", "person", "rejected"),
    ]
    assert s.current.spans[1].candidate is newer.candidates[1]
    assert s.text[s.focused().start : s.focused().end] == "Charles Babbage"  # the focus stays on its span


def test_suggestions_arriving_after_a_sentence_was_accepted_change_nothing(doc):
    s = opened(doc, with_records=False).state
    s.set_labels(LABELS)
    s.add_span(0, 12, "person")
    s.accept_sentence()
    s.set_suggestions(0, default_records()[0], DEFAULT_MODELS)
    assert [(e.start, e.end) for e in s.current.entities()] == [(0, 12)]
    assert s.needs_suggestions(0, DEFAULT_MODELS[:1]) is False  # accepted: never recomputed
