"""Nothing reaches the network at run time: `tag` and `annotate` work with Internet sockets blocked."""

import json
import shutil
import subprocess
import sys

from tmux_support import kill_server, start_annotate, tmux, wait_for

from el4ner_local.tui.annotation_state import ACCEPTED

# Runs the real CLI in a child process whose socket module refuses AF_INET/AF_INET6 sockets.
BLOCKER = """
import os, socket, sys
_real = socket.socket
class _Blocked(_real):
    def __init__(self, family=socket.AF_INET, *args, **kwargs):
        if family in (socket.AF_INET, socket.AF_INET6):
            sys.stderr.write("NETWORK ATTEMPT\\n")
            if os.environ.get("NET_ATTEMPTS"):  # the annotator's stderr is its screen: leave a file too
                open(os.environ["NET_ATTEMPTS"], "a").write("NETWORK ATTEMPT\\n")
            raise OSError("network blocked by test")
        super().__init__(family, *args, **kwargs)
socket.socket = _Blocked
socket.create_connection = lambda *a, **k: (_ for _ in ()).throw(OSError("network blocked by test"))
from el4ner_local.cli import main
sys.argv = ["el4ner-local"] + sys.argv[1:]
main()
"""


def test_tag_with_the_default_pool_runs_with_network_blocked(default_models, tmp_path):
    src = tmp_path / "note.txt"
    src.write_text("Maria met Tom Hanks in Lisbon.", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            BLOCKER,
            "tag",
            str(src),
            "-o",
            str(out),
            "--only",
            "smollm2-135m",
            "--index",
            "default",
        ],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "NETWORK ATTEMPT" not in proc.stderr
    record = json.loads(out.read_text(encoding="utf-8"))
    assert record["sentences"][0]["demonstrations"]  # the embedder and the on-disk index were used


def test_annotate_runs_with_network_blocked(default_models, tmp_path):
    """The real annotator in a real terminal (tmux), its socket module refusing Internet sockets:
    suggestions come from the model and the built-in pool, a decision is saved, it quits cleanly."""
    assert shutil.which("tmux"), "this test needs tmux: apt-get install tmux (.ci/run does)"
    (tmp_path / "notes.txt").write_text("Ada Lovelace met Charles Babbage in London.\n", encoding="utf-8")
    attempts = tmp_path / "attempts.txt"
    name = "offline"
    start_annotate(
        name,
        tmp_path,
        "notes.txt",
        "--only",
        "smollm2-135m",
        python_prelude=BLOCKER,
        env={"NET_ATTEMPTS": str(attempts)},
    )
    try:
        wait_for(name, lambda t: "sentence 1 of 1" in t and "index: " in t or "EXITED" in t, "the models loaded")
        tmux("send-keys", "-t", name, "A")
        wait_for(name, lambda t: "(+1 from here)" in t or "EXITED" in t, "the accepted sentence saved and indexed")
        tmux("send-keys", "-t", name, "q")
        text = wait_for(name, lambda t: "EXITED" in t, "the annotator to quit")
        assert "EXITED 0" in text, text
    finally:
        kill_server()
    saved = [
        json.loads(line) for line in (tmp_path / "notes.annotations.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert [r["status"] for r in saved] == [ACCEPTED]
    assert not attempts.exists(), attempts.read_text()
