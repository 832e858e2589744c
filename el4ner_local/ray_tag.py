"""`el4ner-local tag --ray ADDRESS` (host:port, auto, or local): the same pipeline over a Ray cluster.

Each Ray worker is an actor that loads the ensemble once and keeps it; Ray's ActorPool hands it
whole inputs (one input = one document = one output record) and gives the results back in input
order, so they are written as they come, in order, exactly as the single-process `tag` writes them.
Only this module imports Ray, and only `tag --ray` imports this module.

Rerun: with `-o OUT` in JSONL, the documents already in OUT (same name and same text) are skipped and
the others appended. Every record is one line written at once; a line cut short by a crash is
dropped when the next run opens the file, so OUT never holds half a record.

On several machines every node needs el4ner-local installed, its models fetched (or served over the
openai source) and the paths given here (inputs are read here; models.toml, --schema and --index on
each node) at the same place.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

from . import output as out_formats
from .errors import UserError

_LOCAL_OBJECT_STORE = 256 * 1024 * 1024  # results are small; do not reserve a third of the memory


class TagWorker:
    """One Ray actor: loads the ensemble once. Load errors are kept for `ready()`, so that the
    driver reports them as one line instead of an actor's traceback."""

    def __init__(self, threads: int, tagger_args: dict):
        os.environ["EL4NER_THREADS"] = str(threads)  # this worker's share of its node's cores
        self.error = None
        try:
            from .pipeline.tagger import Tagger

            self.tagger = Tagger.load(**tagger_args)
        except UserError as exc:
            self.error = exc.one_line()

    def ready(self) -> str | None:
        return self.error

    def tag(self, item: tuple[str, str]):
        name, text = item
        try:
            return self.tagger.tag(text, name=name)
        except UserError as exc:  # a plain exception crosses Ray; UserError's keyword argument does not
            return exc.one_line()


def _read_input(name: str) -> str:
    from .formats import read_text

    if name == "-":
        data = sys.stdin.buffer.read()
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise UserError(f"<stdin>: not UTF-8 text (byte {exc.start})", fix="convert it with iconv -t UTF-8")
    return read_text(Path(name))


def done_documents(path: Path) -> set[tuple[str, str]]:
    """(name, text) of every record in a JSONL output; drops a last line cut short by a crash."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return set()
    except OSError as exc:
        raise UserError(f"{path}: cannot read the earlier output ({exc.strerror})", fix="choose another -o")
    whole, _, tail = data.rpartition(b"\n")
    lines = whole.split(b"\n") if whole else []
    if tail.strip():
        try:
            json.loads(tail)
            lines.append(tail)  # a whole record without its newline: keep it
            with path.open("ab") as f:
                f.write(b"\n")
        except ValueError:
            with path.open("r+b") as f:  # half a record from an interrupted run: cut it off
                f.truncate(len(whole) + 1 if whole else 0)
    done = set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict) or not isinstance(record.get("text"), str) or "name" not in record:
            raise UserError(f"{path}:{number}: not a record of `el4ner-local tag`, so it cannot be resumed",
                            fix="choose another -o, or delete the file to start again")
        done.add((record["name"], record["text"]))
    return done


def _loopback(host: str) -> bool:
    return host in ("localhost", "::1", "[::1]") or host.startswith("127.")


def _check_reachable(address: str) -> None:
    """Ray retries an absent head for minutes; a refused TCP connection says it at once."""
    import socket

    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=10).close()
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot connect to the Ray cluster at {address} ({getattr(exc, 'strerror', None) or exc})",
                        fix="start it with `ray start --head --node-ip-address=127.0.0.1 --disable-usage-stats` "
                            "and pass its address (host:port), or use --ray local for a cluster of this machine")


def _connect(address: str):
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # never phone home; read by Ray at import and init
    if address == "local" or _loopback(address.rpartition(":")[0]):
        # Ray swaps a loopback address for the machine's outward IP unless it believes it runs
        # single-node (this variable, read at import); keep everything on loopback.
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    if address not in ("local", "auto") and not address.startswith("ray://"):
        _check_reachable(address)
    import ray

    quiet = {"log_to_driver": False, "logging_level": logging.ERROR, "configure_logging": True}
    try:
        if address == "local":  # a cluster of this machine only, on loopback, without a dashboard
            ray.init(address="local", _node_ip_address="127.0.0.1", include_dashboard=False,
                     object_store_memory=_LOCAL_OBJECT_STORE, **quiet)
        else:
            ray.init(address=address, **quiet)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(f"cannot connect to the Ray cluster at {address}: {first[:160]}",
                        fix="start it with `ray start --head --node-ip-address=127.0.0.1 --disable-usage-stats` "
                            "and pass its address (host:port), or use --ray local for a cluster of this machine")
    return ray


def run_tag_ray(files, *, address, workers, output, fmt, labels, schema, index, only, models, overrides,
                echo_error) -> int:
    from .config import load_config

    config = load_config(models)  # bad settings are reported here, before any cluster starts
    for name in only or ():
        config.model(name)
    resume = output is not None and fmt == "jsonl"
    done = done_documents(output) if resume else set()

    todo, failed, skipped = [], 0, 0
    for name in files:
        try:
            text = _read_input(name)
        except UserError as exc:
            echo_error(exc.one_line())
            failed += 1
            continue
        item = (name if name != "-" else "", text)
        if item in done:
            skipped += 1
        else:
            todo.append(item)
    if skipped:
        print(f"el4ner-local: {output}: {skipped} document(s) already tagged, skipped", file=sys.stderr)
    if not todo:
        return failed

    try:
        sink = output.open("a" if resume else "w", encoding="utf-8", newline="") if output else sys.stdout
    except OSError as exc:
        raise UserError(f"{output}: cannot write output ({exc.strerror})", fix="choose a writable path with -o")
    ray = _connect(address)
    try:
        _tag_all(ray, todo, workers, sink, fmt, output,
                 dict(models=models, labels=labels, schema_file=schema, index=index, only=only, **overrides))
    finally:
        ray.shutdown()
        if output:
            sink.close()
    return failed


def _tag_all(ray, todo, workers, sink, fmt, output, tagger_args) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from ray.util import ActorPool

    cpus = ray.cluster_resources().get("CPU", 1.0)
    workers = workers or max(1, int(cpus))
    # Asked for more workers than CPUs, each takes a fraction, so that all start (and share the cores).
    share = min(1.0, cpus / workers)
    threads = max(1, int(cpus // workers))
    actor = ray.remote(num_cpus=share, scheduling_strategy="SPREAD")(TagWorker)
    actors = [actor.remote(threads, tagger_args) for _ in range(min(workers, len(todo)))]
    for error in ray.get([a.ready.remote() for a in actors]):
        if error:
            raise UserError(error) if "(fix:" in error else UserError(f"a Ray worker could not load the models: {error}")
    pool = ActorPool(actors)
    window = 2 * len(actors)  # bounded: the rest of the inputs wait here, not in Ray's queues
    pending = iter(todo)
    for item in _take(pending, window):
        pool.submit(lambda a, v: a.tag.remote(v), item)

    err_console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=err_console, transient=True, disable=not err_console.is_terminal) as bar:
        task = bar.add_task(f"ray: {len(actors)} workers", total=len(todo))
        while pool.has_next():
            try:
                doc = pool.get_next()  # the next input's result, in input order
            except ray.exceptions.RayError as exc:
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
                raise UserError(f"a Ray worker failed: {first[:200]}", fix="see the Ray logs of the cluster")
            if isinstance(doc, str):
                raise UserError(doc)
            for item in _take(pending, 1):
                pool.submit(lambda a, v: a.tag.remote(v), item)
            try:
                if fmt == "jsonl":
                    out_formats.write_jsonl(doc, sink)
                elif fmt == "conll":
                    out_formats.write_conll(doc, sink)
                else:
                    out_formats.write_table(doc, Console(file=sink) if output else Console())
                sink.flush()
            except OSError as exc:
                raise UserError(f"{output or '<stdout>'}: cannot write ({exc.strerror})",
                                fix="free disk space or choose another -o")
            bar.advance(task)


def _take(iterator, n: int) -> list:
    out = []
    for item in iterator:
        out.append(item)
        if len(out) == n:
            break
    return out
