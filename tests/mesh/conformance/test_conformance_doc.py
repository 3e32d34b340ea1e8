"""docs/istio-conformance.md is generated from the model and must be current."""

from __future__ import annotations

from pathlib import Path

import pytest

from mesh.model import conformance
from mesh.model.errors import UnsupportedField
from mesh.model.resources import parse_resources
from tests.support.mesh_view import documents

DOC = Path(__file__).resolve().parents[3] / "docs" / "istio-conformance.md"


def test_the_conformance_page_is_current():
    assert DOC.read_text() == conformance.render(), (
        "docs/istio-conformance.md is stale: run "
        "`.venv/bin/python -m mesh.model.conformance > docs/istio-conformance.md`"
    )


def test_every_kind_the_model_runs_lists_its_fields():
    for kind in conformance.MODELS:
        rows = conformance.verdicts(kind)
        assert rows and any(verdict == "supported" for _, verdict in rows), kind


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mirror_percent", 50),
        ("delegate", {"name": "voting-app-routes"}),
    ],
)
def test_a_field_the_page_calls_rejected_is_refused_by_the_parser(field, value):
    rows = dict(conformance.verdicts("VirtualService"))
    assert rows[f"spec.http[].{field}"].startswith("rejected")
    docs = documents("deploy")
    vs = next(d for d in docs if d["kind"] == "VirtualService")
    vs["spec"]["http"][0][field] = value
    with pytest.raises(UnsupportedField, match=rf"spec\.http\[0\]\.{field}"):
        parse_resources(docs)
