"""Run the real `el4ner-local annotate` in a real terminal (tmux), read its screen, find its process."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

CAP = 2400.0  # seconds, against a hang only
SOCKET = f"el4ner-tests-{os.getpid()}"  # a tmux server of our own: our environment, nobody else's sessions


def tmux(*args: str, env=None) -> str:
    return subprocess.run(["tmux", "-L", SOCKET, *args], check=True, capture_output=True, text=True, env=env).stdout


def screen(name: str) -> str:
    return tmux("capture-pane", "-p", "-t", name)


def wait_for(name: str, condition, what: str, cap: float = CAP) -> str:
    deadline = time.monotonic() + cap
    while True:
        text = screen(name)
        if condition(text):
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {cap:.0f} s for {what}; the screen shows:\n{text}")
        time.sleep(1.0)


def start_annotate(name: str, folder: Path, *args: str, python_prelude: str = "", env: dict | None = None) -> None:
    """`el4ner-local annotate ARGS` in `folder`, in a 140x42 terminal; `EXITED <status>` shows when it ends.
    `python_prelude`: Python code run instead of the installed command, which must end by calling the
    CLI with sys.argv[1:] (tests/test_offline.py's socket blocker); `env`: extra variables."""
    exe = Path(sys.executable).with_name("el4ner-local")
    cli = shlex.quote(str(exe)) if exe.exists() else f"{shlex.quote(sys.executable)} -m el4ner_local.cli"
    if python_prelude:
        cli = f"{shlex.quote(sys.executable)} -c {shlex.quote(python_prelude)}"
    extra = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
    env = {k: v for k, v in os.environ.items() if k not in ("EL4NER_MODELS", "EL4NER_KEYS", "TMUX")}
    env["XDG_CONFIG_HOME"] = str(folder / "config")  # no user key map
    command = (
        f"cd {shlex.quote(str(folder))} && env -u EL4NER_MODELS -u EL4NER_KEYS "
        f"XDG_CONFIG_HOME={shlex.quote(env['XDG_CONFIG_HOME'])} {extra} {cli} annotate {shlex.join(args)} "
        f"; echo EXITED $?; sleep 600"
    )  # Textual draws on stderr: leave it on the terminal
    tmux("new-session", "-d", "-s", name, "-x", "140", "-y", "42", command, env=env)


def annotator_pid(name: str) -> int:
    """The annotator's process: the only child of the terminal's shell while it runs."""
    shell = int(tmux("display-message", "-p", "-t", name, "#{pane_pid}").strip())
    (child,) = Path(f"/proc/{shell}/task/{shell}/children").read_text().split()
    return int(child)


def kill_server() -> None:
    subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True)
