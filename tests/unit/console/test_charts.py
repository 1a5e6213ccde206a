"""The server-drawn charts: accessible, scaled to their data, safe with any label."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from winback.console.charts import Series, bars, lines


def svg_of(markup: str) -> ET.Element:
    [svg] = re.findall(r"<svg viewBox.*?</svg>", markup, flags=re.S)
    return ET.fromstring(svg)


def test_bars_are_as_tall_as_their_values_and_say_so_in_words() -> None:
    chart = bars("Cases opened", Series("opened", [("Mon", 10), ("Tue", 40), ("Wed", 20)]))
    svg = svg_of(chart)
    heights = [float(r.get("height", 0)) for r in svg.iter("rect")]
    assert heights[1] == 4 * heights[0]
    assert heights[2] == 2 * heights[0]
    assert svg.get("role") == "img"
    assert "from 10 to 20, highest 40" in svg.get("aria-label", "")
    assert '<th scope="row">Tue</th><td>40</td>' in chart  # the numbers, one click away


def test_lines_leave_a_gap_where_a_value_is_missing_and_draw_each_series() -> None:
    chart = lines(
        "SLA attainment",
        [Series("first response", [("1", 0.9), ("2", None), ("3", 0.8)]),
         Series("resolution", [("1", 0.5), ("2", 0.6), ("3", 0.7)])],
        top=1.0,
    )  # fmt: skip
    svg = svg_of(chart)
    assert len(svg.findall("polyline")) == 1  # the first series has no two neighbours left
    assert len(svg.findall("circle")) == 5
    assert "latest first response 0.80, resolution 0.70" in svg.get("aria-label", "")


def test_labels_and_names_are_escaped() -> None:
    chart = bars("<b>", Series("s", [("<script>alert(1)</script>", 1)]))
    assert "<script>" not in chart
    svg_of(chart)  # still well-formed


def test_an_empty_chart_says_there_is_no_data() -> None:
    assert "no data yet" in bars("Spend", Series("spend", []))
