"""Nothing reaches the network at run time: `tag` works with Internet sockets blocked."""

import json
import subprocess
import sys

# Runs the real CLI in a child process whose socket module refuses AF_INET/AF_INET6 sockets.
BLOCKER = """
import socket, sys
_real = socket.socket
class _Blocked(_real):
    def __init__(self, family=socket.AF_INET, *args, **kwargs):
        if family in (socket.AF_INET, socket.AF_INET6):
            sys.stderr.write("NETWORK ATTEMPT\\n")
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
    proc = subprocess.run([sys.executable, "-c", BLOCKER, "tag", str(src), "-o", str(out),
                           "--only", "smollm2-135m", "--index", "default"],
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "NETWORK ATTEMPT" not in proc.stderr
    record = json.loads(out.read_text(encoding="utf-8"))
    assert record["sentences"][0]["demonstrations"]  # the embedder and the on-disk index were used
