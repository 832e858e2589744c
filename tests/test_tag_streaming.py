"""A large input is tagged in bounded memory: `tag` writes each block's records as they are done
(within one big file too), says how far it got on stderr, and stops on Ctrl-C with whole records.

Tagging 5 MB with real models takes hours, so the test watches the real command at work: the first
records must appear while it runs, its memory must not grow with the records written, and after
Ctrl-C every line must be a whole record whose offsets slice the input exactly. The polling loops
have a generous cap only against a hang."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from signals import default_sigint

from el4ner_local.formats import read_jsonl
from el4ner_local.tagging.blocks import BLOCK_CHARS

pytestmark = pytest.mark.models

CAP = 1800.0  # seconds, against a hang only
CHEAP = ["--only", "smollm2-135m", "--index", "none", "--labels", "person,location"]
NAMES = ["Maria", "Tom Hanks", "Ada Lovelace", "Charles Babbage", "Dana"]
PLACES = ["Lisbon", "Porto", "London", "Leeds", "Paris"]


def news(chars: int, seed: int = 0) -> str:
    """Sentences in paragraphs, CRLF and emoji among them, at least `chars` characters long."""
    rng, parts, size, i = random.Random(seed), [], 0, 0
    while size < chars:
        s = f"{rng.choice(NAMES)} flew from {rng.choice(PLACES)} to {rng.choice(PLACES)} on day {i} ✈️."
        s += rng.choice([" ", " ", "\n", "\r\n\r\n"])
        parts.append(s)
        size += len(s)
        i += 1
    return "".join(parts)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def whole_lines(path: Path) -> list[str]:
    """The lines written so far that end with a line break (a record being written may be cut)."""
    data = path.read_text(encoding="utf-8") if path.exists() else ""
    return data.split("\n")[:-1]


def wait_until(proc, condition, what: str):
    deadline = time.monotonic() + CAP
    while not (got := condition()):
        assert proc.poll() is None, f"tag ended ({proc.returncode}) before {what}"
        assert time.monotonic() < deadline, f"waited {CAP:.0f} s for {what}"
        time.sleep(0.5)
    return got


def check_records(lines: list[str], source: str, name: str) -> None:
    """Whole records, one after the other, whose offsets slice the input exactly."""
    records = [json.loads(line) for line in lines]
    pos = 0
    for rec in records:
        assert rec["name"] == name and rec["start"] == pos
        assert source[pos : pos + len(rec["text"])] == rec["text"]
        for e in rec["entities"]:
            assert source[rec["start"] + e["start"] : rec["start"] + e["end"]] == e["text"]
        for sent in rec["sentences"]:
            for c in sent["candidates"]:
                assert rec["text"][c["start"] : c["end"]] == c["text"]
        pos += len(rec["text"])


def test_five_megabytes_stream_out_in_bounded_memory_and_stop_whole_on_ctrl_c(default_models, tmp_path):
    text = news(5 * 1024 * 1024)
    src = tmp_path / "big.txt"
    src.write_bytes(text.encode("utf-8"))
    source = text  # tag reads the bytes' text as it is: CRLF kept
    out, err = tmp_path / "big.jsonl", tmp_path / "stderr.txt"
    with err.open("wb") as err_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "el4ner_local.cli", "tag", str(src), "-o", str(out), *CHEAP],
            stdout=subprocess.DEVNULL,
            stderr=err_file,
            preexec_fn=default_sigint,
        )
        try:
            wait_until(proc, lambda: whole_lines(out), "the first record")
            first_rss = rss_kb(proc.pid)
            samples = [first_rss]

            def more_records():
                samples.append(rss_kb(proc.pid))
                return len(whole_lines(out)) >= 3

            wait_until(proc, more_records, "two more records")
            assert proc.poll() is None  # still tagging: the records came out as they were done
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=CAP)
        finally:
            if proc.poll() is None:
                proc.kill()
    lines = out.read_text(encoding="utf-8").split("\n")
    assert lines.pop() == ""  # the file ends with a whole line
    check_records(lines, source, str(src))
    assert sum(len(json.loads(line)["text"]) for line in lines) < len(source) / 100  # far from done

    # Holding the file's results would take about (JSON bytes per character so far) x 5 M characters,
    # some 150 MB (more as Python objects); the process must not grow with the records it writes.
    per_char = sum(len(line) for line in lines) / sum(len(json.loads(line)["text"]) for line in lines)
    results_kb = per_char * len(source) / 1024
    growth_kb = max(samples) - first_rss
    print(
        f"RSS at the first record {first_rss} kB, peak {max(samples)} kB over {len(samples)} samples; "
        f"the whole file's results would be ~{results_kb:.0f} kB of JSON"
    )
    assert results_kb > 50_000
    assert growth_kb < results_kb / 20, (first_rss, max(samples))

    assert proc.returncode == 130
    stderr = err.read_text(encoding="utf-8").splitlines()
    assert stderr[-1] == "el4ner-local: error: interrupted"
    progress = [line for line in stderr if "characters tagged of" in line]
    assert progress and all(line.startswith(f"el4ner-local: {src}: ") for line in progress)
    assert len(progress) >= len(lines) - 1  # a line per block done (the first block's line comes with the second)


def test_standard_input_is_tagged_as_it_arrives(default_models, tmp_path):
    text = news(BLOCK_CHARS + 10, seed=1) + "\n"  # a line end past BLOCK_CHARS: a whole block
    out = tmp_path / "out.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "el4ner_local.cli", "tag", "-", "-o", str(out), *CHEAP],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        proc.stdin.write(text.encode("utf-8"))
        proc.stdin.flush()
        wait_until(proc, lambda: whole_lines(out), "a record while standard input is still open")
        more = "Dana flew to Leeds.\n"
        _, stderr = proc.communicate(more.encode("utf-8"), timeout=CAP)  # the rest, then end of input
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr.decode()
    lines = out.read_text(encoding="utf-8").splitlines()
    check_records(lines, text + more, "")
    assert "".join(json.loads(line)["text"] for line in lines) == text + more
    assert len(read_jsonl(out)) == len(lines)  # the labelled JSONL reader takes tag's records
