"""The annotator's key map, in one place, and the user's overrides.

Every command has an id. Users remap keys in a TOML file, `$EL4NER_KEYS` or
`~/.config/el4ner-local/keys.toml` (`$XDG_CONFIG_HOME` respected):

    [keys]
    accept = "a,enter"      # one key or several, comma-separated, Textual key names or characters
    reject = "d"
    label_1 = "f1"

Only the commands named change; the others keep their default keys.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError


@dataclass(frozen=True)
class Command:
    id: str
    keys: str  # default keys, comma-separated
    action: str  # Textual action string
    description: str  # short, for the footer
    help: str  # one line, for the help screen
    group: str
    footer: bool = False


COMMANDS: tuple[Command, ...] = (
    Command("accept", "a", "accept", "accept", "accept the focused span (with its suggested type)", "decide", True),
    Command(
        "reject",
        "r,x,delete",
        "reject",
        "reject",
        "reject the focused span (it stays listed: accept brings it back)",
        "decide",
        True,
    ),
    *(
        Command(
            f"label_{n}",
            str(n),
            f"relabel({n})",
            f"type {n}",
            f"give the focused span (or the selection) type number {n}",
            "decide",
        )
        for n in range(1, 10)
    ),
    Command(
        "add_span",
        "s,enter",
        "add_span",
        "add span",
        "add the selected tokens as a span (type: the last one used)",
        "decide",
        True,
    ),
    Command(
        "widen_right",
        "right_square_bracket",
        "resize('right', True)",
        "widen →",
        "widen the focused span by one token on the right",
        "span",
    ),
    Command(
        "shrink_right",
        "left_square_bracket",
        "resize('right', False)",
        "shrink →",
        "shrink the focused span by one token on the right",
        "span",
    ),
    Command(
        "widen_left",
        "left_curly_bracket",
        "resize('left', True)",
        "widen ←",
        "widen the focused span by one token on the left",
        "span",
    ),
    Command(
        "shrink_left",
        "right_curly_bracket",
        "resize('left', False)",
        "shrink ←",
        "shrink the focused span by one token on the left",
        "span",
    ),
    Command(
        "accept_sentence",
        "A",
        "accept_sentence",
        "accept all",
        "accept the sentence: every undecided span as the models decided; go on",
        "decide",
        True,
    ),
    Command("undo", "u,ctrl+z", "undo", "undo", "undo the last decision (any sentence)", "decide", True),
    Command("next_span", "down,j", "next_span", "next span", "focus the next span", "move"),
    Command("prev_span", "up,k", "prev_span", "prev span", "focus the previous span", "move"),
    Command("next_sentence", "n,pagedown", "next_sentence", "next", "next sentence", "move", True),
    Command("prev_sentence", "p,pageup", "prev_sentence", "prev", "previous sentence", "move", True),
    Command(
        "next_uncertain",
        "g",
        "next_uncertain",
        "uncertain",
        "go to the next sentence with an uncertain span",
        "move",
        True,
    ),
    Command(
        "token_right",
        "right,l",
        "move_token(1)",
        "token →",
        "move the token cursor right (starts a selection)",
        "select",
    ),
    Command("token_left", "left,h", "move_token(-1)", "token ←", "move the token cursor left", "select"),
    Command(
        "select_right",
        "shift+right,L",
        "extend_selection(1)",
        "select →",
        "extend the selection by one token to the right",
        "select",
    ),
    Command(
        "select_left",
        "shift+left,H",
        "extend_selection(-1)",
        "select ←",
        "extend the selection by one token to the left",
        "select",
    ),
    Command("clear_selection", "escape", "clear_selection", "clear", "drop the selection", "select"),
    Command("save", "ctrl+s", "save", "save", "save now (after a failed save: try again)", "file"),
    Command(
        "save_as",
        "ctrl+o",
        "save_as",
        "save as",
        "save the annotations under another path (e.g. when the disk is full)",
        "file",
    ),
    Command(
        "export", "e", "export", "export", "export accepted sentences as JSONL and CoNLL beside the annotations", "file"
    ),
    Command("help", "question_mark,f1", "help", "help", "show this help", "file", True),
    Command("quit", "q", "quit", "quit", "quit (everything is already saved)", "file", True),
)

BY_ID = {c.id: c for c in COMMANDS}
GROUPS = {
    "decide": "Decide",
    "span": "Change a span",
    "move": "Move",
    "select": "Select tokens (add a span)",
    "file": "File",
}


def keys_file() -> Path:
    if env := os.environ.get("EL4NER_KEYS"):
        return Path(os.path.expanduser(env))
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "el4ner-local" / "keys.toml"


def load_keymap(path: str | Path | None = None) -> dict[str, str]:
    """The user's overrides {command id: keys}; {} when there is no keys file.

    UserError for an unreadable file, an unknown command, a value that is not a string, or one key
    given to two commands."""
    explicit = path is not None or "EL4NER_KEYS" in os.environ
    path = Path(path) if path is not None else keys_file()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if explicit:
            raise UserError(
                f"{path}: keys file not found", fix="create it (a [keys] table) or unset EL4NER_KEYS"
            ) from None
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(
            f"{path}: cannot read the keys file ({exc.__class__.__name__})", fix="give a UTF-8 TOML file"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(
            f"{path}: not valid TOML ({exc})", fix='write a [keys] table, e.g. accept = "a,enter"'
        ) from None
    table = data.get("keys", {})
    if not isinstance(table, dict):
        raise UserError(f"{path}: [keys] must be a table", fix='write a [keys] table, e.g. accept = "a,enter"')
    keymap: dict[str, str] = {}
    for name, value in table.items():
        if name not in BY_ID:
            raise UserError(f"{path}: unknown command {name!r} in [keys]", fix=f"use one of: {', '.join(BY_ID)}")
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = ",".join(value)
        if not isinstance(value, str) or not value.strip():
            raise UserError(f'{path}: keys for {name!r} must be a string such as "a,enter"', fix="quote the keys")
        keymap[name] = ",".join(k.strip() for k in value.split(",") if k.strip())
    check_clashes(keymap, str(path))
    return keymap


def effective_keys(keymap: dict[str, str] | None = None) -> dict[str, list[str]]:
    """{command id: its keys (normalised Textual key names)} after the overrides."""
    from textual.keys import _character_to_key

    out = {}
    for cmd in COMMANDS:
        keys = (keymap or {}).get(cmd.id, cmd.keys)
        out[cmd.id] = [_character_to_key(k) if len(k) == 1 else k for k in keys.split(",") if k]
    return out


def check_clashes(keymap: dict[str, str], where: str = "keys") -> None:
    owner: dict[str, str] = {}
    for cmd_id, keys in effective_keys(keymap).items():
        for key in keys:
            if key in owner:
                raise UserError(
                    f"{where}: key {key!r} is given to both {owner[key]!r} and {cmd_id!r}",
                    fix="give each key to one command",
                )
            owner[key] = cmd_id


def key_display(key: str) -> str:
    from textual.keys import format_key

    try:
        return format_key(key)
    except Exception:  # pragma: no cover - older Textual
        return key
