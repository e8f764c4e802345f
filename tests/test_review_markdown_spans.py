"""A value in the markdown review is a code span nothing in it can end (CommonMark): the fence is one backtick longer
than the longest run inside, padded where the text starts or ends with a backtick, and | escaped in table cells."""

from __future__ import annotations

import pytest

from truss_instance_plugin.review.render import _code


@pytest.mark.parametrize(
    ("text", "cell", "span"),
    [
        ("a", True, "`a`"),
        ("a`b", True, "``a`b``"),
        ("x``y", True, "```x``y```"),
        ("`a", True, "`` `a ``"),
        (" a ", True, "`  a  `"),
        ("a|b", True, "`a\\|b`"),
        ("a|b", False, "`a|b`"),
        ("", True, "` `"),
    ],
)
def test_a_value_is_a_span_it_cannot_end(text: str, cell: bool, span: str) -> None:
    assert _code(text, cell=cell) == span
