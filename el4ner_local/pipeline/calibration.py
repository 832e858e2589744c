"""Confidence that means something: a map from the vote's raw confidence to the share of spans that
are right at that confidence, fit on a labelled sample (evaluation/tuning.py), and the measures of how
well a confidence is calibrated (expected calibration error, the reliability table).

The map never lowers a higher raw confidence. Two fits: isotonic (pool-adjacent-violators: a step per
distinct raw value, right for a confidence with few values) and logistic (Platt scaling: a sigmoid of
logit(raw), two parameters, for a confidence with many values on a small sample, where isotonic steps
follow the noise; scripts/confidence_study.py). A few lines here rather than scikit-learn, which is only
an indirect dependency (of sentence-transformers) and slow to import for a CLI."""

from __future__ import annotations

import math
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

    @classmethod
    def fit_logistic(cls, raw: Sequence[float], right: Sequence[bool], penalty: float = 1.0) -> Calibration:
        """P(right) = sigmoid(a + b * logit(raw)), b >= 0, by Newton's method with an L2 `penalty` on b (a
        sample whose spans are all right or all wrong stays finite), kept as points at LOGISTIC_GRID (linear
        between them). No samples: the identity; all right or all wrong, or b = 0 (a raw confidence that does not
        rank): the share right."""
        if len(raw) != len(right):
            raise ValueError("raw and right differ in length")
        if not raw:
            return cls()
        xs, ys = [_logit(x) for x in raw], [1.0 if ok else 0.0 for ok in right]
        if len(set(ys)) < 2:  # all right or all wrong: nothing to rank by, the share right
            return cls(((0.0, ys[0]), (1.0, ys[0])))
        a = b = 0.0
        for _ in range(100):
            ps = [_sigmoid(a + b * x) for x in xs]
            ga = sum(p - y for p, y in zip(ps, ys, strict=True))
            gb = sum((p - y) * x for p, y, x in zip(ps, ys, xs, strict=True)) + penalty * b
            ws = [p * (1 - p) for p in ps]
            haa = sum(ws) + 1e-9
            hab = sum(w * x for w, x in zip(ws, xs, strict=True))
            hbb = sum(w * x * x for w, x in zip(ws, xs, strict=True)) + penalty
            det = haa * hbb - hab * hab
            da, db = (hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det
            a, b = a - da, b - db
            if abs(da) + abs(db) < 1e-10:
                break
        if b <= 1e-6:  # no ranking (or the reverse of one, on a small sample): one confidence, the share right
            share = round(sum(ys) / len(ys), 4)
            return cls(((0.0, share), (1.0, share)))
        return cls(tuple((x, round(_sigmoid(a + b * _logit(x)), 4)) for x in LOGISTIC_GRID))


_EPS = 1e-3  # raw confidences are clipped to [EPS, 1 - EPS] before the logit
LOGISTIC_GRID = (0.0, 0.01, 0.02, 0.05, *(round(0.05 * i, 2) for i in range(2, 19)), 0.95, 0.98, 0.99, 1.0)


def _logit(p: float) -> float:
    p = min(max(float(p), _EPS), 1 - _EPS)
    return math.log(p / (1 - p))


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


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


def brier_score(conf: Sequence[float], right: Sequence[bool]) -> float:
    """Mean squared difference between confidence and outcome (1 right, 0 wrong): low for a confidence that
    is calibrated and also tells right from wrong (a calibrated constant has a low ECE, not a low Brier
    score). 0.0 without samples."""
    if len(conf) != len(right):
        raise ValueError("conf and right differ in length")
    return sum((c - (1.0 if ok else 0.0)) ** 2 for c, ok in zip(conf, right, strict=True)) / len(conf) if conf else 0.0


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
