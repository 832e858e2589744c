"""tag_io: standard input is cut into the same lines, and so the same blocks, as the same text in a file."""

from __future__ import annotations

import io
import sys
import types

from el4ner_local.tagging.blocks import iter_blocks, lines_of
from el4ner_local.tagging.tag_io import _stdin_lines


def test_stdin_splits_at_line_feeds_only_like_a_file(monkeypatch):
    # a bare CR at character 500 and CRLF line ends: a split at the CR would end a block there
    text = "x" * 499 + "\r" + "y" * 20 + "\r\n" + "Paris is in France.\r\n" * 30
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=io.BytesIO(text.encode())))
    lines = list(_stdin_lines())
    assert lines == list(lines_of(text))
    assert "".join(lines) == text  # CRLF and the bare CR kept
    assert list(iter_blocks(lines)) == list(iter_blocks(lines_of(text)))
