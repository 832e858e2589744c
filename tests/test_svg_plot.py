"""The hand-written scatter plot of the results pages: valid SVG, one dot per finite point, placed by value."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from el4ner_local.evaluation.svg_plot import nice_top, scatter_svg

NS = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


@pytest.mark.parametrize(
    ("value", "top"), [(0.0, 1.0), (-3.0, 1.0), (0.7, 1.0), (3.2, 5.0), (12.0, 20.0), (50.0, 50.0)]
)
def test_nice_top(value, top):
    assert nice_top(value) == pytest.approx(top)


def test_dots_are_placed_by_their_values():
    svg = scatter_svg(
        [("cheap", 2.0, 30.0), ("dear", 20.0, 55.0), ("none", math.nan, 40.0)],
        x_label="s / sentence",
        y_label="F1",
        title="F1 vs cost",
    )
    circles = {c.find(f"{NS}title").text: c for c in parse(svg).iter(f"{NS}circle")}
    assert set(circles) == {"cheap", "dear"}  # the point without a cost is left out
    cheap, dear = circles["cheap"], circles["dear"]
    assert float(cheap.get("cx")) < float(dear.get("cx"))  # more seconds: further right
    assert float(cheap.get("cy")) > float(dear.get("cy"))  # higher F1: further up (smaller y)
    for c in circles.values():
        assert 0 <= float(c.get("cx")) <= 720 and 0 <= float(c.get("cy")) <= 420


def test_labels_are_escaped_and_no_points_still_parse():
    svg = scatter_svg([("a <b> & c", 1.0, 1.0)], x_label="x & y", y_label="<F1>")
    texts = [t.text for t in parse(svg).iter(f"{NS}text")]
    assert "a <b> & c" in texts and "x & y" in texts and "<F1>" in texts
    empty = parse(scatter_svg([], x_label="x", y_label="y"))
    assert not list(empty.iter(f"{NS}circle"))
    assert "no points" in [t.text for t in empty.iter(f"{NS}text")]
