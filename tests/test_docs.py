"""The finding codes are defined once (diagnostics.CODES) and every one is documented in the README's table."""

from __future__ import annotations

import re

from support import REPO

from truss_instance_plugin.diagnostics import CODES, FATAL_CODES


def test_every_code_used_is_defined_and_documented() -> None:
    used = set()
    for path in sorted((REPO / "truss_instance_plugin").glob("*.py")):
        used |= set(re.findall(r'"(TI\d{3})"', path.read_text(encoding="utf-8")))
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(TI\d{3})` \|", readme, re.M))
    assert used - set(CODES) == set(), "codes used but not in diagnostics.CODES"
    assert set(CODES) - documented == set(), "codes missing from the README's findings table"
    assert documented - set(CODES) == set(), "the README documents codes that do not exist"
    assert set(CODES) >= FATAL_CODES
