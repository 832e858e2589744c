"""`tag --ray` on a real Ray cluster on loopback (a head started with `ray start`, the actors
in their own worker processes), on a real corpus sample that holds an input of three blocks: the
output equals the single-process output block for block, a rerun resumes in the middle of an input
and ends with the same file, each worker's llama.cpp threads fit its node's cores, and a plain
`tag` never imports Ray."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from el4ner_local.formats import read_conll
from el4ner_local.tagging.blocks import iter_blocks, lines_of

pytestmark = pytest.mark.models

DATA = next(p for p in (Path(__file__).parents[1].parent / "shared" / "data", Path("/work/shared/data")) if p.is_dir())
CHEAP = ["--only", "smollm2-135m", "--index", "none", "--labels", "person,location,corporation"]
# the head and every driver share a token of this test's own (Ray authenticates its connections)
RAY_ENV = {
    **os.environ,
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_AUTH_MODE": "token",
    "RAY_AUTH_TOKEN": secrets.token_hex(32),
}


def tag(*args, stdin=None, env=RAY_ENV):
    return subprocess.run(
        [sys.executable, "-m", "el4ner_local.cli", "tag", *args], capture_output=True, input=stdin, env=env
    )


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> list[Path]:
    """A short WNUT-17 test sentence, five CrossNER politics test sentences of 1173 characters
    (three blocks: the longest input is still cheap to tag), and another WNUT-17 sentence."""
    folder = tmp_path_factory.mktemp("sample")
    tweets = [s for s in read_conll(DATA / "wnut17" / "emerging.test.annotated") if 6 <= len(s.tokens) <= 10][:2]
    wiki = "".join(s.text + "\n" for s in read_conll(DATA / "crossner" / "politics" / "test.txt")[7:12])
    assert len(list(iter_blocks(lines_of(wiki)))) == 3
    files = [folder / "tweet0.txt", folder / "politics.txt", folder / "tweet1.txt"]
    for path, text in zip(files, [tweets[0].text + "\n", wiki, tweets[1].text + "\n"], strict=True):
        path.write_text(text, encoding="utf-8")
    return files


def names_and_starts(data: bytes) -> list[tuple[str, int]]:
    return [(r["name"], r["start"]) for r in map(json.loads, data.decode().splitlines())]


@pytest.fixture(scope="module")
def single(default_models, sample, tmp_path_factory) -> bytes:
    out = tmp_path_factory.mktemp("single") / "out.jsonl"
    proc = tag(*map(str, sample), "-o", str(out), *CHEAP)
    assert proc.returncode == 0, proc.stderr.decode()
    return out.read_bytes()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A Ray head on 127.0.0.1 without dashboard or usage stats; stopped by its own process group."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ray = Path(sys.executable).with_name("ray")
    folder = tmp_path_factory.mktemp("ray")
    log = folder / "head.err"  # a file: a pipe nobody reads could fill and stall the head
    with log.open("wb") as err:
        head = subprocess.Popen(
            [
                str(ray),
                "start",
                "--head",
                "--block",
                f"--port={port}",
                "--node-ip-address=127.0.0.1",
                "--include-dashboard=false",
                "--disable-usage-stats",
                "--num-cpus=2",
                "--object-store-memory=100000000",
                f"--temp-dir={folder}",
            ],
            env=RAY_ENV,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
    try:
        address = f"127.0.0.1:{port}"
        probe = f"import ray; ray.init(address={address!r}, log_to_driver=False); print(ray.cluster_resources()['CPU'])"
        for _ in range(60):  # the head takes some seconds to come up
            ready = subprocess.run([sys.executable, "-c", probe], capture_output=True, env=RAY_ENV)
            if ready.returncode == 0:
                break
            assert head.poll() is None, log.read_text(errors="replace")
        assert ready.stdout.decode().strip() == "2.0", ready.stderr.decode()
        yield address
    finally:
        os.killpg(head.pid, signal.SIGKILL)  # the head, its GCS, raylet and workers: all in this group
        head.wait()


def test_ray_output_equals_single_process_and_a_rerun_resumes_inside_an_input(cluster, sample, single, tmp_path):
    tweet0, politics, tweet1 = map(str, sample)
    assert names_and_starts(single) == [(tweet0, 0), (politics, 0), (politics, 505), (politics, 1051), (tweet1, 0)]
    out = tmp_path / "ray.jsonl"
    proc = tag("--ray", cluster, "--workers", "2", *map(str, sample), "-o", str(out), *CHEAP)
    assert proc.returncode == 0, proc.stderr.decode()
    assert out.read_bytes() == single
    assert "ray: 2 worker(s), llama.cpp threads per worker: 1, 1" in proc.stderr.decode()  # 2 CPUs

    # interrupted inside the three-block input: its first block whole, half of its second
    lines = single.split(b"\n")
    out.write_bytes(b"\n".join(lines[:2]) + b"\n" + lines[2][: len(lines[2]) // 2])
    proc = tag("--ray", cluster, "--workers", "2", *map(str, sample), "-o", str(out), *CHEAP)
    assert proc.returncode == 0, proc.stderr.decode()
    assert out.read_bytes() == single
    assert "2 block(s) already tagged, skipped" in proc.stderr.decode()


def test_rerun_with_everything_done_tags_nothing(sample, single, tmp_path):
    out = tmp_path / "done.jsonl"
    out.write_bytes(single)
    proc = tag("--ray", "127.0.0.1:1", *map(str, sample), "-o", str(out), *CHEAP)  # no cluster needed
    assert proc.returncode == 0, proc.stderr.decode()
    assert out.read_bytes() == single
    assert "5 block(s) already tagged" in proc.stderr.decode()


def test_local_ray_cluster_shares_this_machines_cores_among_its_workers(sample, single, tmp_path):
    out = tmp_path / "local.jsonl"
    # Ray's local cluster counts os.cpu_count() CPUs (not a container's CPU quota) with this set
    env = {**RAY_ENV, "RAY_USE_MULTIPROCESSING_CPU_COUNT": "1"}
    proc = tag("--ray", "local", "--workers", "3", *map(str, sample), "-o", str(out), *CHEAP, env=env)
    assert proc.returncode == 0, proc.stderr.decode()
    assert out.read_bytes() == single
    threads = max(1, os.cpu_count() // 3)  # 1 each where 3 workers are more than the cores
    assert f"ray: 3 worker(s), llama.cpp threads per worker: {threads}, {threads}, {threads}" in proc.stderr.decode()


def test_unreachable_cluster_is_one_line(closed_port, sample, tmp_path):
    proc = tag("--ray", f"127.0.0.1:{closed_port}", str(sample[0]), "-o", str(tmp_path / "x.jsonl"), *CHEAP)
    err = proc.stderr.decode().strip()
    assert proc.returncode == 2 and len(err.splitlines()) == 1, err
    assert err.startswith(f"el4ner-local: error: cannot connect to the Ray cluster at 127.0.0.1:{closed_port}")
    assert "ray start --head" in err


# the second: no "start"; the third: a lone last line without its line end that is not ours either
@pytest.mark.parametrize("earlier", ["hello\n", '{"name": "a.txt", "text": "Hi"}\n', "hello"])
def test_a_resumed_file_that_is_not_tag_output_is_refused(sample, tmp_path, earlier):
    out = tmp_path / "notes.jsonl"
    out.write_text(earlier)
    proc = tag("--ray", "local", str(sample[0]), "-o", str(out), *CHEAP)
    err = proc.stderr.decode().strip()
    assert proc.returncode == 2 and len(err.splitlines()) == 1, err
    assert "notes.jsonl:1: not a record of `el4ner-local tag`" in err
    assert out.read_text() == earlier


def test_plain_tag_does_not_import_ray(default_models, sample):
    code = (
        "import sys\nfrom el4ner_local import cli\n"
        f"cli.app(args=['tag', {str(sample[0])!r}, *{CHEAP!r}], standalone_mode=False)\n"
        "print('RAY LOADED' if 'ray' in sys.modules else 'NO RAY', file=sys.stderr)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stderr.decode().strip().endswith("NO RAY")
    assert json.loads(proc.stdout)["text"] == sample[0].read_text()
