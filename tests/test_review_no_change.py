"""With no cost change the text and markdown reviews are empty lists (nothing printed, no comment); JSON is complete."""

from __future__ import annotations

import json
from decimal import Decimal

from truss_instance_plugin.review.render import render_json, render_markdown, render_text
from truss_instance_plugin.review.units import Diff, Revision


def test_an_empty_review_renders_no_lines() -> None:
    d = Diff(Revision("main", "0123456789abcdef"), Revision("working tree", None), ())
    assert render_text(d) == []
    assert render_markdown(d) == []
    assert render_markdown(d, budget=100) == []
    doc = json.loads("\n".join(render_json(d)))
    assert (doc["units"], doc["total"]["changed"], doc["total"]["delta"]["percent"]) == ([], 0, None)
    assert d.totals() == (Decimal(0), Decimal(0))
