"""`el4ner-local tag --ray ADDRESS` (host:port, auto, or local): the same pipeline over a Ray cluster.

Each input is cut into the same blocks as the single-process `tag` (single.py; blocks.py, read by tag_io.py);
each Ray worker is an actor that loads the ensemble once and tags the blocks Ray's ActorPool hands
it. Results come back in input order and are written as they come, by the same writer as `tag`
(tag_io.write_block), so the output is byte for byte the single-process output. At most two blocks
per worker are in flight; the rest of the input waits unread. Only this module imports Ray, and
only `tag --ray` imports this module.

Threads: llama.cpp's threads spin-wait on each other, so processes that each use all cores slow each
other down by an order of magnitude. Once the workers are placed, each gets (CPUs of its node) //
(workers on its node) threads, at least 1, for generation and prompt processing alike (a cap: a
smaller n_threads in models.toml stays). Only more workers than CPUs (--workers) oversubscribes.

Rerun: with `-o OUT` in JSONL, OUT is appended to from each input's first block it lacks, as
single-process `tag` does (resume.py).

On several machines every node needs el4ner-local installed, its models fetched (or served over the
openai source) and the paths given here (inputs are read here; models.toml, --schema and --index on
each node) at the same place.
"""

from __future__ import annotations

import logging
import os
from collections import Counter, deque
from itertools import chain
from pathlib import Path
from typing import Any

from ..errors import UserError
from .blocks import Block
from .resume import planned, settings_of
from .tag_io import InputProgress, close_output, doc_name, open_output, progress_bar, say, write_block

_LOCAL_OBJECT_STORE = 256 * 1024 * 1024  # results are small; do not reserve a third of the memory


class TagWorker:
    """One Ray actor: `load` loads the ensemble once with the threads it is given. Errors are
    returned as one line, so that the driver reports them instead of an actor's traceback."""

    def __init__(self):
        self.tagger = None

    def node(self) -> str:
        import ray

        return ray.get_runtime_context().get_node_id()

    def load(self, threads: int, tagger_args: dict) -> tuple[str | None, int]:
        """(error, the most threads any of its llama.cpp models uses; 0 if none runs here)."""
        os.environ["EL4NER_THREADS"] = str(threads)  # the cap; read when a model loads
        try:
            from ..pipeline.tagger import Tagger

            self.tagger = Tagger.load(**tagger_args)
            for model in self.tagger.models:
                model.load()  # now: a bad model file is reported before any tagging
        except UserError as exc:
            return exc.one_line(), 0
        return None, max([model.threads for model in self.tagger.models] or [0])

    def tag(self, item: tuple[str, str]):
        name, text = item
        try:
            return self.tagger.tag(text, name=name)
        except UserError as exc:  # a plain exception crosses Ray; UserError's keyword argument does not
            return exc.one_line()


def _loopback(host: str) -> bool:  # commands/tag.py's _ray_address admits no IPv6 address
    return host == "localhost" or host.startswith("127.")


def _check_reachable(address: str) -> None:
    """Ray retries an absent head for minutes; a refused TCP connection says it at once."""
    import socket

    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except (OSError, ValueError) as exc:
        raise UserError(
            f"cannot connect to the Ray cluster at {address} ({getattr(exc, 'strerror', None) or exc})",
            fix="start it with `ray start --head --node-ip-address=127.0.0.1 --disable-usage-stats` "
            "and pass its address (host:port), or use --ray local for a cluster of this machine",
        ) from None


def _connect(address: str):
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # never phone home; read by Ray at import and init
    if address == "local" or _loopback(address.rpartition(":")[0]):
        # Ray swaps a loopback address for the machine's outward IP unless it believes it runs
        # single-node (this variable, read at import); keep everything on loopback.
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    if address not in ("local", "auto") and not address.startswith("ray://"):
        _check_reachable(address)
    import ray

    quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR, "configure_logging": True}
    try:
        if address == "local":  # a cluster of this machine only, on loopback, without a dashboard
            ray.init(
                address="local",
                _node_ip_address="127.0.0.1",
                include_dashboard=False,
                object_store_memory=_LOCAL_OBJECT_STORE,
                **quiet,
            )
        else:
            ray.init(address=address, **quiet)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(
            f"cannot connect to the Ray cluster at {address}: {first[:160]}",
            fix="start it with `ray start --head --node-ip-address=127.0.0.1 --disable-usage-stats` "
            "and pass its address (host:port), or use --ray local for a cluster of this machine",
        ) from None
    return ray


def run_tag_ray(
    files, *, address, workers, output, fmt, labels, schema, index, only, models, overrides, profile=None
) -> int:
    from ..config import load_config

    config = load_config(models, profile)  # bad settings are reported here, before any cluster starts
    for name in only or ():
        config.model(name)
    settings = settings_of(
        models=config.path,
        labels=labels,
        schema=schema,
        index=index,
        only=only,
        overrides=overrides,
        profile=profile,
    )
    # Workers run in Ray's own directory, without this process's environment: paths go absolute,
    # and the models file in force (--models, else $EL4NER_MODELS, else the built-in) by name.
    tagger_args = dict(
        models=str(config.path.absolute()),
        profile=profile,
        labels=labels,
        schema_file=schema and Path(schema).absolute(),
        index=index if index in (None, "default") else str(Path(index).absolute()),
        only=only,
        **overrides,
    )
    with planned(files, output, fmt, settings) as plan:
        first = next(plan.todo, None)  # nothing left to tag: no cluster needed
        if first is not None:
            ray = _connect(address)  # first: a cluster that cannot be reached leaves OUT as it was
            try:
                sink, table_console = open_output(output, plan.mode, inputs=files, fmt=fmt)
                try:
                    _tag_all(ray, chain([first], plan.todo), workers, sink, table_console, fmt, output, tagger_args)
                finally:
                    close_output(sink, output)
            finally:
                ray.shutdown()
    return plan.tally.failed


def _worker_failed(exc: Exception) -> UserError:
    last = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
    return UserError(f"a Ray worker failed: {last[:200]}", fix="see the Ray logs of the cluster")


def _get(ray, refs):
    try:
        return ray.get(refs)
    except ray.exceptions.RayError as exc:
        raise _worker_failed(exc) from None


def start_workers(ray, workers: int, tagger_args: dict) -> tuple[list, list[int]]:
    """`workers` actors with the ensemble loaded, and the llama.cpp threads each uses: its node's
    CPUs shared among the workers placed on that node."""
    cpus = ray.cluster_resources().get("CPU", 1.0)
    # Asked for more workers than CPUs, each takes a fraction, so that all start (and share the cores).
    actor = ray.remote(num_cpus=min(1.0, cpus / workers), scheduling_strategy="SPREAD")(TagWorker)
    actors = [actor.remote() for _ in range(workers)]
    nodes = _get(ray, [a.node.remote() for a in actors])
    node_cpus = {n["NodeID"]: n["Resources"].get("CPU", 1.0) for n in ray.nodes() if n.get("Alive")}
    on_node = Counter(nodes)
    threads = [max(1, int(node_cpus.get(node, 1.0) // on_node[node])) for node in nodes]
    loaded = _get(ray, [a.load.remote(t, tagger_args) for a, t in zip(actors, threads, strict=True)])
    for error, _ in loaded:
        if error:
            raise (
                UserError(error) if "(fix:" in error else UserError(f"a Ray worker could not load the models: {error}")
            )
    return actors, [used for _, used in loaded]


def _tag_all(ray, todo, workers, sink, table_console, fmt, output, tagger_args) -> None:
    from ray.util import ActorPool
    from rich.console import Console

    workers = workers or max(1, int(ray.cluster_resources().get("CPU", 1.0)))
    ahead = deque(_take(todo, 2 * workers))  # read ahead: as many workers as there are blocks, at most
    actors, threads = start_workers(ray, min(workers, len(ahead)), tagger_args)
    say(f"ray: {len(actors)} worker(s), llama.cpp threads per worker: {', '.join(map(str, threads))}")
    pool = ActorPool(actors)
    in_flight: deque[tuple[int, str, int | None, Block]] = deque()  # (input number, name, length, block) submitted

    def submit(items) -> None:
        for item in items:
            pool.submit(lambda a, v: a.tag.remote(v), (doc_name(item[1]), item[3].text))
            in_flight.append(item)

    submit(ahead)
    current: int | None = None
    progress: InputProgress | None = None
    with progress_bar(Console(stderr=True)) as bar:
        while pool.has_next():
            try:
                doc = pool.get_next()  # the next block's result, in input order
            except ray.exceptions.RayError as exc:
                raise _worker_failed(exc) from None
            if isinstance(doc, str):
                raise UserError(doc)
            number, name, total, block = in_flight.popleft()
            submit(_take(todo, 1))
            if number != current:
                if progress:
                    progress.close()
                current, progress = number, InputProgress(bar, "<stdin>" if name == "-" else name, total)
            assert progress is not None  # made at the first block (number != None)
            progress.block_starts(block)  # everything before this block is written
            write_block(doc, block.start, fmt, sink, table_console, output)
            progress.sentence(block, 1, 1)
        if progress:
            progress.close()


def _take(iterator, n: int) -> list:
    out = []
    for item in iterator:
        out.append(item)
        if len(out) == n:
            break
    return out
