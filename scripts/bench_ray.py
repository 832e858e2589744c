"""Throughput of `tag --ray` with 1, 2 and 4 workers on this machine, beside the single-process tagger,
on the same sample of WNUT-17 test sentences (one document each). Writes docs/scale.json and prints
the numbers for docs/scale.md.

    python scripts/bench_ray.py --docs 8 --only smollm2-135m --index none

Model loading is timed apart (each worker loads the ensemble once); throughput counts tagging only.
Every configuration's output is checked equal to the single-process output.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = next(p for p in (ROOT.parent / "shared" / "data", Path("/work/shared/data")) if p.is_dir())


def sample(n: int) -> list[tuple[str, str]]:
    from el4ner_local.formats import read_conll

    sentences = [s for s in read_conll(DATA / "wnut17" / "emerging.test.annotated") if 6 <= len(s.tokens) <= 14]
    return [(f"wnut17-test-{i}", s.text) for i, s in enumerate(sentences[:n])]


def single(docs, tagger_args) -> tuple[dict, list]:
    from el4ner_local.pipeline.tagger import Tagger

    started = time.perf_counter()
    tagger = Tagger.load(**tagger_args)
    for model in tagger.models:
        model.load()
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    out = [tagger.tag(text, name=name).to_json() for name, text in docs]
    seconds = time.perf_counter() - started
    return {
        "workers": "single process",
        "load_s": round(loaded, 2),
        "tag_s": round(seconds, 2),
        "docs_per_min": round(60 * len(docs) / seconds, 2),
    }, out


def with_ray(docs, tagger_args, workers: int) -> tuple[dict, list]:
    from el4ner_local.tagging.ray_driver import _connect, start_workers

    ray = _connect("local")
    try:
        from ray.util import ActorPool

        started = time.perf_counter()
        actors, threads = start_workers(ray, workers, tagger_args)  # each loads its ensemble
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        out = [d.to_json() for d in ActorPool(actors).map(lambda a, v: a.tag.remote(v), docs)]
        seconds = time.perf_counter() - started
    finally:
        ray.shutdown()
    return {
        "workers": workers,
        "threads_per_worker": max(threads),
        "load_s": round(loaded, 2),
        "tag_s": round(seconds, 2),
        "docs_per_min": round(60 * len(docs) / seconds, 2),
    }, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=8)
    parser.add_argument("--only", default="smollm2-135m")
    parser.add_argument("--index", default="none")
    parser.add_argument("--labels", default="person,location,group,creative-work,corporation,product")
    parser.add_argument("--json", type=Path, default=ROOT / "docs" / "scale.json")
    args = parser.parse_args()
    docs = sample(args.docs)
    tagger_args = {
        "labels": args.labels,
        "index": None if args.index == "none" else args.index,
        "only": args.only.split(",") if args.only else None,
    }
    rows = []
    row, reference = single(docs, tagger_args)
    rows.append(row)
    print(row, flush=True)
    for workers in (1, 2, 4):
        row, out = with_ray(docs, tagger_args, workers)
        row["same_output"] = out == reference
        rows.append(row)
        print(row, flush=True)
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "sample": f"{len(docs)} WNUT-17 test sentences of 6-14 tokens, one document each",
        "models": args.only or "all",
        "index": args.index,
        "rows": rows,
    }
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
