"""Confidence that means something: a map from the vote's raw confidence to the share of spans that
are right at that confidence, fit on a labelled sample (evaluation/tuning.py), and the measures of how
well a confidence is calibrated (expected calibration error, the reliability table).

The map is isotonic (never lower for a higher raw confidence), by pool-adjacent-violators: a few
lines here rather than scikit-learn, which is only an indirect dependency (of sentence-transformers)
and slow to import for a CLI."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Calibration:
    """(raw confidence, P(right)) points, sorted by raw; between points linear, beyond them the end
    point's value. No points: the identity (the raw confidence is kept)."""

    points: tuple[tuple[float, float], ...] = ()

    def apply(self, raw: float) -> float:
        pts = self.points
        if not pts:
            return raw
        if raw <= pts[0][0]:
            return pts[0][1]
        if raw >= pts[-1][0]:
            return pts[-1][1]
        i = bisect_right([x for x, _ in pts], raw)
        (x0, y0), (x1, y1) = pts[i - 1], pts[i]
        return y0 + (y1 - y0) * (raw - x0) / (x1 - x0)

    def to_list(self) -> list[list[float]]:
        return [[x, y] for x, y in self.points]

    @classmethod
    def from_list(cls, data: Sequence[Sequence[float]]) -> Calibration:
        return cls(tuple(sorted((float(x), float(y)) for x, y in data)))

    @classmethod
    def fit(cls, raw: Sequence[float], right: Sequence[bool]) -> Calibration:
        """Isotonic regression of right (0/1) on raw confidence. Each block of the fit gives a point at
        its lowest and its highest raw value (one when they are equal). No samples: the identity."""
        if len(raw) != len(right):
            raise ValueError("raw and right differ in length")
        # equal raw confidences are pooled first; equal up to float noise (the same votes summed in another
        # order) too, or the fit would split one confidence into a right and a wrong block
        groups: dict[float, list[float]] = {}
        for x, ok in zip(raw, right, strict=True):
            groups.setdefault(round(float(x), 6), []).append(1.0 if ok else 0.0)
        blocks: list[list[float]] = []  # [lowest raw, highest raw, mean right, weight]
        for x in sorted(groups):
            ys = groups[x]
            blocks.append([x, x, sum(ys) / len(ys), float(len(ys))])
            while len(blocks) > 1 and blocks[-2][2] >= blocks[-1][2]:  # pool adjacent violators
                lo, hi = blocks[-2], blocks.pop()
                weight = lo[3] + hi[3]
                lo[1], lo[2], lo[3] = hi[1], (lo[2] * lo[3] + hi[2] * hi[3]) / weight, weight
        points: dict[float, float] = {}
        for lo_x, hi_x, y, _ in blocks:
            for x in (lo_x, hi_x):
                points[x] = round(y, 4)
        return cls(tuple(sorted(points.items())))


def _bins(conf: Sequence[float], right: Sequence[bool], bins: int) -> list[list[float]]:
    """Per equal-width bin of [0, 1]: [n, sum of confidence, number right]."""
    if len(conf) != len(right):
        raise ValueError("conf and right differ in length")
    out = [[0.0, 0.0, 0.0] for _ in range(bins)]
    for c, ok in zip(conf, right, strict=True):
        slot = out[min(max(int(c * bins), 0), bins - 1)]
        slot[0] += 1
        slot[1] += c
        slot[2] += 1.0 if ok else 0.0
    return out


def expected_calibration_error(conf: Sequence[float], right: Sequence[bool], bins: int = 10) -> float:
    """Sum over equal-width bins of the bin's share of the samples times |mean confidence - share right|.
    0.0 without samples."""
    total = len(conf)
    if not total:
        return 0.0
    return sum(n / total * abs(s / n - r / n) for n, s, r in _bins(conf, right, bins) if n)


def reliability_table(conf: Sequence[float], right: Sequence[bool], bins: int = 10) -> list[dict]:
    """One row per bin: lo, hi, n, mean_confidence and share_right (None for an empty bin)."""
    return [
        {
            "lo": round(i / bins, 4),
            "hi": round((i + 1) / bins, 4),
            "n": int(n),
            "mean_confidence": round(s / n, 4) if n else None,
            "share_right": round(r / n, 4) if n else None,
        }
        for i, (n, s, r) in enumerate(_bins(conf, right, bins))
    ]
