"""One colour per entity type, in the order of the schema (so number key n and colour n agree)."""

from __future__ import annotations

PALETTE = ("#e5c07b", "#61afef", "#98c379", "#c678dd", "#e06c75", "#56b6c2", "#d19a66", "#a9b665", "#f4a6c1")


def label_colour(label: str | None, labels: list[str]) -> str:
    if not label:
        return "#7f848e"
    if label in labels:
        return PALETTE[labels.index(label) % len(PALETTE)]
    return PALETTE[sum(map(ord, label)) % len(PALETTE)]
