"""Production habits of every workload, and the env contract of the functions."""

from __future__ import annotations

from tests.mesh.objects import (
    APP_FUNCTIONS,
    containers,
    env,
    function_deployments,
    named,
    of_kind,
    pod_labels,
    pod_spec,
    ref,
)

SECRET = "voting-storage-secret"
MYSQL_KEYS = {"MYSQL_USER", "MYSQL_PASSWORD", "MYSQL_DATABASE", "MYSQL_ROOT_PASSWORD"}


def effective_security(deployment, container):
    """The container's security context with the pod's defaults filled in."""
    return {**pod_spec(deployment).get("securityContext", {}), **container["securityContext"]}


# ----------------------------------------------------------------- every Deployment
def test_every_container_has_readiness_and_liveness_probes(objs):
    for deployment in of_kind(objs, "Deployment"):
        for container in containers(deployment):
            assert "readinessProbe" in container, ref(deployment)
            assert "livenessProbe" in container, ref(deployment)


def test_every_container_has_resource_requests_and_limits(objs):
    for deployment in of_kind(objs, "Deployment"):
        for container in containers(deployment):
            resources = container["resources"]
            for kind in ("requests", "limits"):
                assert set(resources[kind]) == {"cpu", "memory"}, f"{ref(deployment)} {kind}"


def test_every_container_runs_non_root_read_only_without_privileges(objs):
    for deployment in of_kind(objs, "Deployment"):
        for container in containers(deployment):
            security = effective_security(deployment, container)
            assert security["runAsNonRoot"] is True, ref(deployment)
            assert security["readOnlyRootFilesystem"] is True, ref(deployment)
            assert security["allowPrivilegeEscalation"] is False, ref(deployment)
            assert security["capabilities"] == {"drop": ["ALL"]}, ref(deployment)
            assert security["seccompProfile"] == {"type": "RuntimeDefault"}, ref(deployment)
            assert security.get("runAsUser", 1) != 0, ref(deployment)


def test_every_workload_carries_app_version_and_recommended_labels(objs):
    for deployment in of_kind(objs, "Deployment"):
        labels = pod_labels(deployment)
        assert (
            deployment["metadata"]["labels"].items()
            >= {k: v for k, v in labels.items() if k != "app.kubernetes.io/part-of"}.items()
        )
        assert isinstance(labels["version"], str), ref(deployment)
        assert labels["app.kubernetes.io/name"] == labels["app"]
        assert labels["app.kubernetes.io/version"] == labels["version"]
        assert labels["app.kubernetes.io/part-of"] == "voting-app"


def test_every_workload_runs_under_its_own_service_account(objs):
    accounts = {o["metadata"]["name"]: o for o in of_kind(objs, "ServiceAccount")}
    for deployment in of_kind(objs, "Deployment"):
        spec = pod_spec(deployment)
        assert spec["serviceAccountName"] == pod_labels(deployment)["app"]
        assert spec["serviceAccountName"] in accounts
        assert spec["automountServiceAccountToken"] is False


def test_secrets_reach_containers_only_through_secret_key_refs(objs):
    for deployment in of_kind(objs, "Deployment"):
        volumes = pod_spec(deployment).get("volumes", [])
        assert not [v for v in volumes if "secret" in v], ref(deployment)
        for container in containers(deployment):
            assert "envFrom" not in container, ref(deployment)
            for name, item in env(container).items():
                if "PASSWORD" in name or name in ("MYSQL_USER", "MYSQL_DATABASE"):
                    assert item["valueFrom"]["secretKeyRef"]["name"] == SECRET, name


def test_the_stateful_servers_are_replaced_never_run_side_by_side(objs):
    for name in ("voting-redis", "voting-mysql"):
        deployment = named(objs, "Deployment", name)
        if deployment:
            assert deployment["spec"]["strategy"] == {"type": "Recreate"}
            assert deployment["spec"]["replicas"] == 1


# ----------------------------------------------------------------- the functions
def test_functions_probe_readyz_and_healthz_on_the_http_port(objs):
    for deployment in function_deployments(objs):
        [container] = containers(deployment)
        assert container["ports"] == [{"name": "http", "containerPort": 8080}]
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}


def test_functions_run_voting_function_with_the_function_of_their_app(objs):
    for deployment in function_deployments(objs):
        app = pod_labels(deployment)["app"]
        [container] = containers(deployment)
        assert container["name"] == app
        assert container["image"] == app
        assert container["args"] == ["voting", "function", APP_FUNCTIONS[app]]
        assert "command" not in container


def test_function_deployments_are_named_after_app_and_version(objs):
    for deployment in function_deployments(objs):
        labels = pod_labels(deployment)
        expected = f"{labels['app']}-{labels['version'].replace('.', '-')}"
        assert deployment["metadata"]["name"] == expected


def test_functions_know_their_version_and_pod_name(objs):
    for deployment in function_deployments(objs):
        variables = env(containers(deployment)[0])
        assert variables["FUNCTION_VERSION"]["value"] == pod_labels(deployment)["version"]
        assert variables["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}


def test_vote_gets_its_page_settings_and_both_backends(objs):
    for deployment in function_deployments(objs):
        if pod_labels(deployment)["app"] != "voting-app":
            continue
        values = _values(deployment)
        assert (
            values.items()
            >= {
                "TITLE": "AKS Voting App",
                "VOTE1VALUE": "Cats",
                "VOTE2VALUE": "Dogs",
                "SHOWDETAILS": "true",
                "ANALYTICS_URL": "http://voting-analytics:8080",
                "STORAGE_URL": "http://voting-storage:8080",
            }.items()
        )
        assert values["FEATUREFLAG"] in ("true", "false")


def test_results_gets_the_option_names_and_storage(objs):
    for deployment in function_deployments(objs):
        if pod_labels(deployment)["app"] == "voting-analytics":
            assert (
                _values(deployment).items()
                >= {
                    "VOTE1VALUE": "Cats",
                    "VOTE2VALUE": "Dogs",
                    "STORAGE_URL": "http://voting-storage:8080",
                }.items()
            )


def test_storage_1_0_uses_redis_and_2_0_uses_mysql_with_the_secret(objs):
    for deployment in function_deployments(objs):
        labels = pod_labels(deployment)
        if labels["app"] != "voting-storage":
            continue
        variables = env(containers(deployment)[0])
        if labels["version"] == "1.0":
            assert variables["REDIS_URL"]["value"] == "redis://voting-redis:6379/0"
            assert named(objs, "Service", "voting-redis") is not None
        else:
            assert _values(deployment).items() >= {"MYSQL_HOST": "voting-mysql"}.items()
            assert variables["MYSQL_PORT"]["value"] == "3306"
            for key in ("MYSQL_USER", "MYSQL_PASSWORD", "MYSQL_DATABASE"):
                assert variables[key]["valueFrom"]["secretKeyRef"] == {"name": SECRET, "key": key}
            assert named(objs, "Secret", SECRET) is not None


def test_voting_app_runs_three_replicas_and_the_others_one(objs):
    for deployment in function_deployments(objs):
        expected = 3 if pod_labels(deployment)["app"] == "voting-app" else 1
        assert deployment["spec"]["replicas"] == expected, ref(deployment)


def test_the_feature_flag_toggle_shows_on_both_app_versions_in_the_canary_only(rendered):
    for directory, objs in rendered.items():
        flags = {
            deployment["metadata"]["name"]: _values(deployment)["FEATUREFLAG"]
            for deployment in function_deployments(objs)
            if pod_labels(deployment)["app"] == "voting-app"
        }
        if directory == "4-canary":
            assert flags == {"voting-app-1-0": "true", "voting-app-2-0": "true"}
        else:
            assert set(flags.values()) == {"false"}, directory


def test_analytics_1_0_and_1_1_keep_running_through_the_canary(rendered):
    objs = rendered["4-canary"]
    for name in ("voting-analytics-1-0", "voting-analytics-1-1", "voting-analytics-2-0"):
        assert named(objs, "Deployment", name) is not None, name


# ----------------------------------------------------------------- the backing stores
def test_mysql_keeps_its_data_on_a_1gi_claim_at_var_lib_mysql(rendered):
    objs = rendered["4-canary"]
    claim = named(objs, "PersistentVolumeClaim", "mysql-pv-claim")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    mysql = named(objs, "Deployment", "voting-mysql")
    [data] = [v for v in pod_spec(mysql)["volumes"] if "persistentVolumeClaim" in v]
    assert data["persistentVolumeClaim"]["claimName"] == "mysql-pv-claim"
    mounts = {m["name"]: m["mountPath"] for m in containers(mysql)[0]["volumeMounts"]}
    assert mounts[data["name"]] == "/var/lib/mysql"


def test_mysql_is_set_up_from_the_secret(rendered):
    mysql = named(rendered["4-canary"], "Deployment", "voting-mysql")
    variables = env(containers(mysql)[0])
    assert set(variables) == MYSQL_KEYS
    for key, item in variables.items():
        assert item["valueFrom"]["secretKeyRef"] == {"name": SECRET, "key": key}


def test_the_storage_secret_holds_marked_demo_values_for_database_azurevote(rendered):
    secret = named(rendered["4-canary"], "Secret", SECRET)
    assert set(secret["stringData"]) == MYSQL_KEYS
    assert secret["stringData"]["MYSQL_DATABASE"] == "azurevote"
    assert secret["metadata"]["annotations"]["voting-mesh/demo-placeholder"] == "true"
    for key in ("MYSQL_PASSWORD", "MYSQL_ROOT_PASSWORD"):
        assert "demo-only" in secret["stringData"][key]


def test_backing_stores_listen_on_named_tcp_ports(rendered):
    objs = rendered["4-canary"]
    for name, port, port_name in (
        ("voting-redis", 6379, "tcp-redis"),
        ("voting-mysql", 3306, "tcp-mysql"),
    ):
        service = named(objs, "Service", name)
        assert service["spec"]["ports"] == [
            {"name": port_name, "port": port, "targetPort": port_name}
        ]
        assert service["spec"]["selector"] == {"app": name}


def test_the_backing_stores_run_the_official_images(rendered):
    objs = rendered["4-canary"]
    assert containers(named(objs, "Deployment", "voting-redis"))[0]["image"] == "redis:7"
    assert containers(named(objs, "Deployment", "voting-mysql"))[0]["image"] == "mysql:8.4"


def test_the_voting_namespace_has_istio_injection_enabled(objs):
    namespace = named(objs, "Namespace", "voting")
    assert namespace["metadata"]["labels"]["istio-injection"] == "enabled"


def test_every_other_object_lives_in_the_voting_namespace(objs):
    for obj in objs:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "voting", ref(obj)


def _values(deployment):
    """A function container's plain env values by name."""
    return {k: v["value"] for k, v in env(containers(deployment)[0]).items() if "value" in v}
