"""A rollout's progress and verbs on a cluster (mesh/router/kubernetes_rollout.py): two
ConfigMaps, read and written through the fake API, and `voting rollout status|VERB
--context` on them. A mock of the API server: no cluster runs here."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from mesh.rollout_lease import CONTROLLER_LOST, RUNNING, CommandRefused
from mesh.router.kubernetes import KubernetesRouter
from mesh.router.kubernetes_rollout import COMMANDS, PROGRESS
from rollout.progress import progress_json
from rollout.spec import RolloutSpec
from tests.support.fake_kubernetes_api import FakeKubernetesApi
from voting.cli import main

SPEC = RolloutSpec(interval=30.0)


def running(**extra: Any) -> dict[str, Any]:
    outcome = {"state": RUNNING, "weight": 25, "reason": "", "history": [], "gates": [], **extra}
    return progress_json(outcome, SPEC, passed=[10], pid=4242)


async def test_progress_is_kept_in_a_configmap_and_read_back_by_status_fake_kubernetes_api(
    router: KubernetesRouter,
) -> None:
    await router.apply_step("canary")
    assert (await router.status())["rollout"] is None
    await router.report_rollout(running())
    shown = (await router.status())["rollout"]
    assert shown["state"] == RUNNING and shown["weight"] == 25 and shown["pid"] == 4242
    await router.report_rollout({**running(), "lease_expires_at": time.time() - 1})
    assert (await router.status())["rollout"]["state"] == CONTROLLER_LOST
    await router.apply_step("lock-down")  # a step change prunes what it owns, never these
    assert (await router.status())["rollout"]["pid"] == 4242


async def test_a_verb_reaches_the_controller_once_and_is_refused_when_it_does_not_apply_fake_kubernetes_api(
    fake: FakeKubernetesApi, router: KubernetesRouter
) -> None:
    await router.apply_step("canary")
    with pytest.raises(CommandRefused, match="no rollout to pause"):
        await router.rollout_command("pause", "alice")
    await router.report_rollout(running())
    await router.rollout_command("pause", "alice")
    taken = await router.take_rollout_commands()
    assert [(c["verb"], c["by"]) for c in taken] == [("pause", "alice")]
    assert await router.take_rollout_commands() == []  # once
    with pytest.raises(CommandRefused, match="not paused"):
        await router.rollout_command("resume", "bob")
    assert fake.find("ConfigMap", PROGRESS) and fake.find("ConfigMap", COMMANDS)


async def test_commands_sent_before_a_controller_started_are_not_its_own_fake_kubernetes_api(
    router: KubernetesRouter, fake: FakeKubernetesApi
) -> None:
    await router.apply_step("canary")
    await router.report_rollout(running())
    await router.rollout_command("abort", "alice")  # for an earlier controller
    later = KubernetesRouter(router.api, "voting", context="fake")
    assert await later.take_rollout_commands() == []


def test_voting_rollout_status_and_verbs_with_context_use_the_cluster_fake_kubernetes_api(
    fake: FakeKubernetesApi,
    kubeconfig: Path,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    import asyncio

    from kubernetes_asyncio.client import ApiClient, Configuration

    from mesh.cluster.api import KubeApi

    argv = ["--kubeconfig", str(kubeconfig), "--state-dir", str(tmp_path)]
    assert main(["cluster", "step", "canary", "--kubeconfig", str(kubeconfig)]) == 0
    capsys.readouterr()
    assert main(["rollout", "status", *argv]) == 0
    assert "no rollout: status shows none" in capsys.readouterr().out

    async def report() -> None:
        client = ApiClient(Configuration(host=fake.url))
        router = KubernetesRouter(KubeApi.from_client(client), "voting", context="fake")
        try:
            await router.report_rollout(running())
        finally:
            await router.close()

    asyncio.run(report())
    assert main(["rollout", "status", *argv]) == 0
    assert "rollout running: weight 25% to v2-0, passed 10%" in capsys.readouterr().out
    assert main(["rollout", "resume", *argv]) == 1  # not paused, and not lost: refused
    assert "the rollout is not paused" in capsys.readouterr().err
