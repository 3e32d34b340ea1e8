"""Every rendered object against its official schema, offline.

Kubernetes kinds: kubernetes-validate in strict mode (unknown fields rejected) for the
newest Kubernetes version it ships. Istio kinds: Istio's API models with unknown fields
rejected (see istio_schema.py).
"""

from __future__ import annotations

import copy
import functools
import json

import kubernetes_validate
import pydantic
import pytest

from tests.mesh.istio_schema import UnknownIstioKind, validate_istio
from tests.mesh.objects import is_istio, of_kind, ref

KUBERNETES_VERSION = kubernetes_validate.latest_version()


def test_kubernetes_schemas_are_a_current_release():
    major, minor = (int(part) for part in KUBERNETES_VERSION.split(".")[:2])
    assert (major, minor) >= (1, 33)


def test_kubernetes_objects_pass_strict_schema_validation(objs):
    failures = [
        f"{ref(obj)}: {error}"
        for obj in objs
        if not is_istio(obj) and (error := _kubernetes_error(json.dumps(obj, sort_keys=True)))
    ]
    assert not failures, f"Kubernetes {KUBERNETES_VERSION}:\n" + "\n".join(failures)


def test_strict_kubernetes_validation_rejects_an_unknown_field(rendered):
    deployment = copy.deepcopy(of_kind(rendered["1-deploy"], "Deployment")[0])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["pth"] = (
        "/readyz"
    )
    with pytest.raises(kubernetes_validate.ValidationError, match="'pth' was unexpected"):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_istio_objects_pass_the_istio_schema_with_unknown_fields_rejected(objs):
    failures = []
    for obj in filter(is_istio, objs):
        try:
            validate_istio(obj)
        except (pydantic.ValidationError, UnknownIstioKind) as exc:
            failures.append(f"{ref(obj)}: {exc}")
    assert not failures, "\n".join(failures)


def test_a_misspelt_weight_fails_the_istio_schema(rendered):
    vs = _voting_app_virtual_service(rendered)
    vs["spec"]["http"][0]["route"][0]["wieght"] = 100
    with pytest.raises(pydantic.ValidationError, match=r"route\.0\.wieght"):
        validate_istio(vs)


def test_a_python_style_field_name_fails_the_istio_schema(rendered):
    vs = copy.deepcopy(of_kind(rendered["3-lock-down"], "VirtualService")[0])
    vs["spec"]["export_to"] = ["."]
    with pytest.raises(pydantic.ValidationError, match="export_to"):
        validate_istio(vs)


def test_an_unknown_enum_value_fails_the_istio_schema(rendered):
    rule = copy.deepcopy(of_kind(rendered["3-lock-down"], "DestinationRule")[0])
    rule["spec"]["trafficPolicy"]["tls"]["mode"] = "MUTUAL_ISTIO"
    with pytest.raises(pydantic.ValidationError, match="ISTIO_MUTUAL"):
        validate_istio(rule)


def test_the_retired_authentication_policy_kind_has_no_schema():
    policy = {
        "apiVersion": "authentication.istio.io/v1alpha1",
        "kind": "Policy",
        "metadata": {"name": "default"},
        "spec": {"peers": [{"mtls": {"mode": "STRICT"}}]},
    }
    with pytest.raises(UnknownIstioKind):
        validate_istio(policy)


def test_every_object_is_checked_by_one_of_the_two_validators(objs):
    for obj in objs:
        group = obj["apiVersion"].rpartition("/")[0]
        assert is_istio(obj) or group in ("", "apps"), f"{ref(obj)}: no validator for {group}"


@functools.cache
def _kubernetes_error(serialised: str) -> str | None:
    """Strict validation of one object; cached because most objects recur in every step."""
    try:
        kubernetes_validate.validate(json.loads(serialised), KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return f"{'.'.join(map(str, exc.path))}: {exc.message}"
    return None


def _voting_app_virtual_service(rendered):
    vs = of_kind(rendered["4-canary"], "VirtualService")
    return copy.deepcopy(next(o for o in vs if o["metadata"]["name"] == "voting-app"))
