"""The durable writers (durable.py) and the file hash (checksums.py) every store uses."""

from __future__ import annotations

import hashlib
import os
import stat

import pytest

from el4ner_local.checksums import sha256_file
from el4ner_local.durable import append_durable, atomic_write, write_durable


@pytest.fixture(autouse=True)
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_new_files_are_private_unless_a_mode_is_given(tmp_path):
    append_durable(tmp_path / "log", b"a\n")
    write_durable(tmp_path / "part", b"b")
    atomic_write(tmp_path / "private", b"c")
    atomic_write(tmp_path / "shared", b"d", 0o644)
    assert [mode(tmp_path / n) for n in ("log", "part", "private", "shared")] == [0o600, 0o600, 0o600, 0o644]


def test_append_starts_on_its_own_line_after_a_torn_one_only_when_asked(tmp_path):
    mended, plain = tmp_path / "mended", tmp_path / "plain"
    for path in (mended, plain):
        path.write_bytes(b'{"id": "torn')
    append_durable(mended, b"{}\n", own_line=True)
    append_durable(plain, b"{}\n")
    assert mended.read_bytes() == b'{"id": "torn\n{}\n'
    assert plain.read_bytes() == b'{"id": "torn{}\n'
    append_durable(tmp_path / "empty", b"{}\n", own_line=True)
    assert (tmp_path / "empty").read_bytes() == b"{}\n"


def test_append_after_a_committed_length_cuts_off_the_uncommitted_tail(tmp_path):
    path = tmp_path / "pool.jsonl"
    path.write_bytes(b"one\ntwo\nhalf of thr")
    append_durable(path, b"three\n", truncate_to=8)
    assert path.read_bytes() == b"one\ntwo\nthree\n"
    with pytest.raises(FileNotFoundError):  # never makes up a file it expected to find
        append_durable(tmp_path / "gone", b"x", truncate_to=0)


def test_atomic_write_through_a_named_temporary_leaves_only_the_file(tmp_path):
    target = tmp_path / "manifest.json"
    target.write_bytes(b"old")
    atomic_write(target, b"new", tmp=tmp_path / "manifest.json.tmp")
    assert target.read_bytes() == b"new" and sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]


def test_sha256_file_whole_or_a_prefix(tmp_path):
    path = tmp_path / "f"
    data = os.urandom((1 << 20) + 5)  # more than one read block
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
    assert sha256_file(path, 3) == hashlib.sha256(data[:3]).hexdigest()
    assert sha256_file(path, (1 << 20) + 1) == hashlib.sha256(data[: (1 << 20) + 1]).hexdigest()
    assert sha256_file(path, len(data) + 100) == hashlib.sha256(data).hexdigest()


def test_a_replaced_file_keeps_the_narrower_mode_its_user_gave_it(tmp_path):
    """The annotations file written 0644 (beside a 0644 input), then chmod 0600 or 0640 by the user:
    the next save keeps that, and never adds back a bit the file lacked."""
    narrowed, group = tmp_path / "narrowed.jsonl", tmp_path / "group.jsonl"
    for path, chosen in ((narrowed, 0o600), (group, 0o640)):
        atomic_write(path, b"first\n", 0o644)
        assert mode(path) == 0o644
        os.chmod(path, chosen)
        atomic_write(path, b"second\n", 0o644)
        assert path.read_bytes() == b"second\n" and mode(path) == chosen
    atomic_write(group, b"third\n", 0o600)  # a narrower mode asked for still narrows
    assert mode(group) == 0o600
