"""skaffold.yaml: the official v4beta14 schema, one profile per step, the three images."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from mesh.steps import STEPS
from tests.mesh.objects import APP_FUNCTIONS, containers, of_kind

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = Path(__file__).parent / "schemas" / "skaffold-v4beta14.json"


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load((ROOT / "skaffold.yaml").read_text())


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_skaffold_config_passes_the_official_schema(config, validator):
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(config)]
    assert not errors, "\n".join(errors)


def test_the_skaffold_schema_rejects_a_misspelt_field(config, validator):
    broken = copy.deepcopy(config)
    broken["portForward"][0]["localport"] = 8080
    assert not validator.is_valid(broken)


def test_skaffold_api_version_is_v4beta14(config):
    assert config["apiVersion"] == "skaffold/v4beta14"
    assert config["kind"] == "Config"


def test_skaffold_has_one_profile_per_step_in_order(config):
    assert [p["name"] for p in config["profiles"]] == [step.name for step in STEPS]


def test_each_profile_deploys_its_step_kustomization(config):
    for profile, step in zip(config["profiles"], STEPS, strict=True):
        assert profile["manifests"]["kustomize"]["paths"] == [f"mesh/steps/{step.directory}"]


def test_every_kustomization_path_skaffold_names_exists(config):
    sections = [config, *config["profiles"]]
    paths = [p for s in sections if "manifests" in s for p in s["manifests"]["kustomize"]["paths"]]
    assert paths
    for path in paths:
        assert (ROOT / path / "kustomization.yaml").is_file(), path


def test_skaffold_deploys_with_kubectl(config):
    assert "kubectl" in config["deploy"]


def test_skaffold_builds_one_image_per_function(config):
    artifacts = {a["image"]: a for a in config["build"]["artifacts"]}
    assert set(artifacts) == set(APP_FUNCTIONS)
    for image, artifact in artifacts.items():
        assert artifact["docker"]["buildArgs"]["FUNCTION"] == APP_FUNCTIONS[image]
        assert (ROOT / artifact.get("context", ".") / artifact["docker"]["dockerfile"]).is_file()


def test_every_image_the_steps_use_is_built_or_an_official_server_image(config, rendered):
    built = {a["image"] for a in config["build"]["artifacts"]}
    used = {
        c["image"]
        for objs in rendered.values()
        for d in of_kind(objs, "Deployment")
        for c in containers(d)
    }
    assert used - built == {"redis:7", "mysql:8.4"}
    assert built <= used


def test_skaffold_forwards_the_ingress_gateway_and_prometheus(config):
    forwards = {
        (f["resourceType"], f["resourceName"], f["namespace"], f["port"], f["localPort"])
        for f in config["portForward"]
    }
    assert forwards == {
        ("service", "istio-ingressgateway", "istio-system", 80, 8080),
        ("service", "prometheus", "istio-system", 9090, 9090),
    }
