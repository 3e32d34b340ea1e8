"""`voting delete -f` undoes what was applied on top of a step: a document the step has of
its own comes back as the step rendered it; one created on top is removed."""

from __future__ import annotations

import pytest

from mesh.apply.documents import MissingDocuments, delete, merge, overlay

NAMESPACE = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "voting"}}


def vs(subset: str) -> dict:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "voting-analytics", "namespace": "voting"},
        "spec": {"hosts": ["voting-analytics"], "http": [{"route": [{"destination": {
            "host": "voting-analytics", "subset": subset}}]}]},
    }  # fmt: skip


POLICY = {
    "apiVersion": "security.istio.io/v1",
    "kind": "AuthorizationPolicy",
    "metadata": {"name": "allow-nothing", "namespace": "istio-system"},
    "spec": {"action": "ALLOW"},
}


def test_deleting_a_task_restores_the_step_version_and_removes_what_it_created() -> None:
    step = [NAMESPACE, vs("v1-1")]
    in_force, _ = merge(step, [vs("v2-0"), POLICY], "voting")

    kept, changes = delete(in_force, [vs("v2-0"), POLICY], "voting", step=step)

    assert kept == step
    assert overlay(step, kept, "voting") == []
    assert [c.line() for c in changes] == [
        "virtualservice.networking.istio.io/voting-analytics restored",
        "authorizationpolicy.security.istio.io/allow-nothing deleted",
    ]


def test_a_document_in_force_as_the_step_rendered_it_is_removed() -> None:
    step = [NAMESPACE, vs("v1-1")]
    kept, changes = delete(step, [vs("v1-1")], "voting", step=step)
    assert kept == [NAMESPACE] and [c.action for c in changes] == ["deleted"]


def test_ignore_not_found_skips_what_is_not_there_and_deletes_the_rest() -> None:
    step = [NAMESPACE, vs("v1-1")]
    in_force, _ = merge(step, [POLICY], "voting")
    other = {**POLICY, "metadata": {"name": "allow-get", "namespace": "istio-system"}}
    with pytest.raises(MissingDocuments, match="allow-get"):
        delete(in_force, [POLICY, other], "voting", step=step)

    kept, changes = delete(in_force, [POLICY, other], "voting", step=step, ignore_not_found=True)

    assert kept == step
    assert [c.line() for c in changes] == [
        "authorizationpolicy.security.istio.io/allow-nothing deleted"
    ]


def test_deleting_two_stages_of_a_task_in_reverse_restores_the_step_once() -> None:
    step = [NAMESPACE, vs("v1-1")]
    first, _ = merge(step, [vs("v1-0")], "voting")
    second, _ = merge(first, [vs("v2-0")], "voting")

    undone, changes = delete(second, [vs("v2-0")], "voting", step=step)
    assert undone == step and [c.action for c in changes] == ["restored"]
    again, changes = delete(undone, [vs("v1-0")], "voting", step=step)
    assert again == step and [c.action for c in changes] == ["unchanged"]
