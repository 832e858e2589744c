"""Reading user files as UTF-8 text, with one-line errors that name the file, the line and the fix.

Offsets everywhere refer to the decoded text, so nothing is normalised here: CRLF stays CRLF.
Only a leading UTF-8 byte order mark is dropped (it is an encoding marker, not text).
"""

from __future__ import annotations

from pathlib import Path

from el4ner_local.errors import UserError

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def read_utf8(path: str | Path) -> str:
    """The file's text (BOM dropped). UserError for a missing path, a directory, binary or non-UTF-8 data."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is a directory, not a file", fix="name a file inside it")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{path}: no such file", fix="check the path") from None
    except OSError as exc:  # permissions, special files
        raise UserError(f"{path}: cannot be read ({exc.strerror})", fix="check the path and its permissions") from None
    if data.startswith(_UTF16_BOMS):
        raise UserError(f"{path}:1: UTF-16 text, not UTF-8", fix="re-save the file as UTF-8 (iconv -f utf-16 -t utf-8)")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise UserError(f"{path}:{_line_at(data, nul)}: binary file (NUL byte), not text", fix="give a UTF-8 text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.start + 1].hex()
        raise UserError(
            f"{path}:{_line_at(data, exc.start)}: not UTF-8 text (byte 0x{bad})",
            fix="re-save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)",
        ) from None


def read_text(path: str | Path) -> str:
    """Plain input text for tagging; UserError as read_utf8, and for a file with no text in it."""
    text = read_utf8(path)
    if not text.strip():
        raise UserError(f"{path}:1: empty file, no text to tag", fix="give a file that holds text")
    return text


def _line_at(data: bytes, index: int) -> int:
    return data.count(b"\n", 0, index) + 1
