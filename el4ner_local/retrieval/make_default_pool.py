"""Make el4ner_local/data/default_pool.jsonl: a sample of WNUT-17 train (CC-BY 4.0).

    python -m el4ner_local.retrieval.make_default_pool ../shared/data/wnut17/wnut17train.conll

Deterministic. Picks sentences of 5 to 40 tokens, round-robin over the six entity types so the rare
ones (product, creative-work) are as present as the common ones, then adds some sentences without
entities (a pool of only entity-rich sentences teaches a model to always find something). Each
record keeps the file and line it came from.
"""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path

from ..formats import read_labelled
from ..formats.jsonl import dumps_record, record_of
from .default import DEFAULT_POOL

WITH_ENTITIES = 320
WITHOUT_ENTITIES = 60
SEED = 17


def _usable(s) -> bool:
    n = len(s.tokens)
    if not 5 <= n <= 40:
        return False
    if len(re.findall(r"https?://|\burl\b", s.text, re.I)) > 1:
        return False
    return sum(ch.isalpha() for ch in s.text) >= 0.5 * len(s.text.replace(" ", ""))


def select(sentences, with_entities: int = WITH_ENTITIES, without: int = WITHOUT_ENTITIES, seed: int = SEED):
    rng = random.Random(seed)
    seen, usable = set(), []
    for i, s in enumerate(sentences):
        if _usable(s) and s.text not in seen:
            seen.add(s.text)
            usable.append((i, s))
    labelled = [(i, s) for i, s in usable if s.spans]
    empty = [(i, s) for i, s in usable if not s.spans]
    by_label: dict[str, list] = {}
    for item in labelled:
        for label in sorted({sp.label for sp in item[1].spans}):
            by_label.setdefault(label, []).append(item)
    for items in by_label.values():
        rng.shuffle(items)
    chosen: dict[int, object] = {}
    labels = sorted(by_label)
    while len(chosen) < with_entities and any(by_label.values()):
        for label in labels:
            while by_label[label]:
                i, s = by_label[label].pop()
                if i not in chosen:
                    chosen[i] = s
                    break
            if len(chosen) >= with_entities:
                break
    rng.shuffle(empty)
    for i, s in empty[:without]:
        chosen[i] = s
    return [chosen[i] for i in sorted(chosen)]


def main(argv: list[str]) -> None:
    src = Path(argv[0]) if argv else Path("../shared/data/wnut17/wnut17train.conll")
    sentences = read_labelled(src)
    pool = select(sentences)
    with open(DEFAULT_POOL, "w", encoding="utf-8", newline="\n") as f:
        for s in pool:
            record = record_of(s)
            record["source"] = f"WNUT-17 {Path(s.source).name}"
            f.write(dumps_record(record) + "\n")
    counts: dict[str, int] = {}
    for s in pool:
        for sp in s.spans:
            counts[sp.label] = counts.get(sp.label, 0) + 1
    print(f"{DEFAULT_POOL}: {len(pool)} sentences, {sum(1 for s in pool if not s.spans)} without entities, {counts}")


if __name__ == "__main__":
    main(sys.argv[1:])
