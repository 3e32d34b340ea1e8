"""docs/cluster.md stays true to the steps and to skaffold.yaml."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from mesh.steps import STEPS
from tests.mesh.objects import ref

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "cluster.md"


@pytest.fixture(scope="module")
def guide() -> str:
    return GUIDE.read_text()


def test_the_guide_runs_every_skaffold_profile_in_order(guide):
    profiles = [p["name"] for p in yaml.safe_load((ROOT / "skaffold.yaml").read_text())["profiles"]]
    used = re.findall(r"skaffold (?:dev|run) -p ([\w-]+)", guide)
    assert list(dict.fromkeys(used)) == profiles == [step.name for step in STEPS]


def test_the_guide_deletes_exactly_what_finalize_retires(guide, rendered):
    retired = {ref(o) for o in rendered["4-canary"]} - {ref(o) for o in rendered["5-finalize"]}
    claims = {r for r in retired if r.startswith("persistentvolumeclaim/")}
    [command] = [line for line in guide.splitlines() if line.startswith("kubectl delete -n voting")]
    assert set(command.split()[4:]) == retired - claims
    for claim in claims:  # data is kept, as `voting step` prunes no claim: the guide says so
        assert f"`{claim}`" in guide


def test_every_file_the_guide_applies_exists(guide):
    for path in re.findall(r"-f (mesh/\S+\.yaml)", guide):
        assert (ROOT / path).is_file(), path


def test_the_guide_quotes_the_cookie_regex_the_canary_uses(guide, rendered):
    [vs] = [
        o
        for o in rendered["4-canary"]
        if o["kind"] == "VirtualService" and o["metadata"]["name"] == "voting-app"
    ]
    regex = vs["spec"]["http"][0]["match"][0]["headers"]["cookie"]["regex"]
    assert f"`{regex}`" in guide
