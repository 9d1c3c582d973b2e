"""Every registered component honours its kind's contract (driven by the registry)."""
from __future__ import annotations

import pytest

import posediff
from posediff.testing import check_component

CASES = [(kind, name) for kind in posediff.KINDS for name in posediff.list_components(kind)
         if posediff.registry.provider(kind, name) == "posediff"]


@pytest.mark.parametrize("kind,name", CASES, ids=[f"{k}-{n}" for k, n in CASES])
def test_contract(kind, name):
    check_component(kind, name)
