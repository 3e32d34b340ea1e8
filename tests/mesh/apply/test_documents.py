"""Loading `-f` sources and kubectl-apply's set arithmetic: merge, delete, the overlay."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from mesh.apply.documents import (
    DocumentError,
    Key,
    MissingDocuments,
    delete,
    format_overlay,
    load_sources,
    merge,
    overlay,
)

VS = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: voting-app}
spec: {hosts: ["*"], http: [{route: [{destination: {host: voting-app, subset: %s}}]}]}
"""
POLICY = """apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ingress-no-flags, namespace: istio-system}
spec: {action: DENY}
"""
NAMESPACE = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "voting"}}


def vs(subset: str, namespace: str | None = "voting") -> dict:
    import yaml

    doc = yaml.safe_load(VS % subset)
    if namespace:
        doc["metadata"]["namespace"] = namespace
    return doc


def test_files_directories_and_stdin_load_in_order_with_their_sources(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text(POLICY)
    (tmp_path / "a.yml").write_text(VS % "v1-0" + "---\n" + VS % "v2-0")
    (tmp_path / "notes.txt").write_text("not: yaml")
    (tmp_path / "sub").mkdir()  # not read: a directory is not walked
    single = tmp_path / "sub" / "single.yaml"
    single.write_text(VS % "v2-0")

    loaded = load_sources([str(tmp_path), str(single), "-"], stdin=io.StringIO(POLICY))

    assert [item.source for item in loaded] == [
        f"{tmp_path}/a.yml#1",
        f"{tmp_path}/a.yml#2",
        f"{tmp_path}/b.yaml",
        str(single),
        "<stdin>",
    ]
    assert loaded[1].document["spec"]["http"][0]["route"][0]["destination"]["subset"] == "v2-0"


def test_a_directory_with_a_kustomization_is_rendered(tmp_path: Path) -> None:
    (tmp_path / "vs.yaml").write_text(VS % "v2-0")
    (tmp_path / "ignored.yaml").write_text(POLICY)
    (tmp_path / "kustomization.yaml").write_text("resources: [vs.yaml]\nnamespace: voting\n")

    loaded = load_sources([str(tmp_path)])

    assert [item.document["kind"] for item in loaded] == ["VirtualService"]
    assert loaded[0].document["metadata"]["namespace"] == "voting"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: [", "x.yaml: not YAML"),
        ("- a\n- b\n", "x.yaml: not an object"),
        ("kind: Service\nmetadata: {name: a}\n", "x.yaml: apiVersion is missing"),
        ("apiVersion: v1\nkind: Service\nmetadata: {}\n", "x.yaml: Service has no metadata.name"),
        ("# only a comment\n", "no objects in"),
    ],
)
def test_what_is_not_an_object_is_refused_naming_the_file(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(text)
    with pytest.raises(DocumentError, match=re.escape(message.replace("x.yaml", str(path)))):
        load_sources([str(path)])


def test_a_missing_file_is_refused() -> None:
    with pytest.raises(DocumentError, match=re.escape("/no/such.yaml: no such file or directory")):
        load_sources(["/no/such.yaml"])


def test_merge_creates_replaces_and_reports_unchanged_by_kind_namespace_name() -> None:
    current = [NAMESPACE, vs("v1-0")]
    import yaml

    policy = yaml.safe_load(POLICY)
    merged, changes = merge(current, [vs("v2-0", namespace=None), policy], "voting")

    assert [c.line() for c in changes] == [
        "virtualservice.networking.istio.io/voting-app configured",
        "authorizationpolicy.security.istio.io/ingress-no-flags created",
    ]
    assert merged[1] == vs("v2-0")  # replaced in place, its namespace filled in
    assert merged[2] == policy  # new ones at the end
    assert current[1] == vs("v1-0")  # the input is not modified
    again, changes = merge(merged, [vs("v2-0", namespace=None)], "voting")
    assert again == merged and [c.action for c in changes] == ["unchanged"]
    assert changes[0].line(dry_run=True).endswith(" unchanged (dry run)")


def test_the_same_name_in_another_namespace_or_kind_is_another_document() -> None:
    merged, changes = merge([vs("v1-0")], [vs("v1-0", namespace="istio-system")], "voting")
    assert len(merged) == 2 and changes[0].action == "created"
    assert changes[0].key == Key("VirtualService", "istio-system", "voting-app")


def test_delete_removes_by_key_or_nothing_when_one_is_not_there() -> None:
    import yaml

    policy = yaml.safe_load(POLICY)
    current = [NAMESPACE, vs("v1-0"), policy]

    kept, changes = delete(current, [policy], "voting")
    assert kept == [NAMESPACE, vs("v1-0")]
    assert [c.line() for c in changes] == [
        "authorizationpolicy.security.istio.io/ingress-no-flags deleted"
    ]

    other = vs("v1-0", namespace="istio-system")
    with pytest.raises(MissingDocuments, match=r"not found: virtualservice.networking.istio.io/"):
        delete(current, [policy, other], "voting")


def test_overlay_names_what_is_created_configured_and_deleted_on_top_of_a_step() -> None:
    import yaml

    policy = yaml.safe_load(POLICY)
    step = [
        NAMESPACE,
        vs("v1-0"),
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}},
    ]
    current = [NAMESPACE, vs("v2-0"), policy]

    applied = overlay(step, current, "voting")

    assert [(a["describe"], a["action"]) for a in applied] == [
        ("virtualservice voting-app", "configured"),
        ("authorizationpolicy ingress-no-flags.istio-system", "created"),
        ("service s", "deleted"),
    ]
    assert format_overlay({"number": 3}, applied) == (
        "applied on top of step 3: virtualservice voting-app (configured), "
        "authorizationpolicy ingress-no-flags.istio-system (created), service s (deleted)"
    )
    assert overlay(step, step, "voting") == [] and format_overlay({"number": 3}, []) is None
