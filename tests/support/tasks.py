"""Istio's official tasks adapted to the voting app (`mesh/tasks/<task>/`): where they live
and which rollout step they run on top of.

Every task is applied with `voting apply -f mesh/tasks/<task>` on top of TASK_STEP (step 4,
canary: voting-app 1.0 and 2.0, analytics 1.1 and 2.0 as subsets, STRICT mutual TLS and
the step's AuthorizationPolicies), and undone with `voting delete -f` the same path. The
schema tests (tests/mesh/test_task_schemas.py) and the e2e tests (tests/e2e/tasks/) both
read these names, so a task folder is checked the same way it runs.
"""

from __future__ import annotations

from pathlib import Path

TASKS_DIR = Path(__file__).resolve().parents[2] / "mesh" / "tasks"
TASK_STEP = "4"  # canary: the step with the most versions and subsets to route between


def task_path(task: str) -> Path:
    """`mesh/tasks/<task>`: a folder, a sub-folder (`traffic-shifting/50-50`) or a file."""
    path = TASKS_DIR / task
    assert path.exists(), f"no task {task!r} in {TASKS_DIR}"
    return path


def task_files() -> list[Path]:
    """Every YAML file of every task, sorted (the order a sequence of files is applied in)."""
    return sorted(
        p
        for p in TASKS_DIR.rglob("*")
        if p.suffix in (".yaml", ".yml") and not p.name.startswith("kustomization.")
    )


def task_folders() -> list[Path]:
    """Each folder holding YAML: what a user passes to `voting apply -f`."""
    return sorted({f.parent for f in task_files()})


def task_of(path: Path) -> str:
    """The task a file or folder belongs to: the first folder under mesh/tasks."""
    return path.relative_to(TASKS_DIR).parts[0]


def tls_secret(
    name: str = "voting-credential", hosts: tuple[str, ...] = ("voting.example",)
) -> dict:
    """A kubernetes.io/tls Secret in istio-system from a throwaway local CA, as
    `voting tls-secret` makes one (what the secure-gateway task needs applied first)."""
    import tempfile

    from mesh.local.ca import LocalCA, tls_secret_document

    with tempfile.TemporaryDirectory() as directory:
        return tls_secret_document(LocalCA(Path(directory)), list(hosts), name)


def task_prerequisites(task: str) -> list[dict]:
    """What a task needs of the user's applied first, as Istio's own tasks do: the TLS Secret
    the secure-gateway task's credentialName names."""
    return [tls_secret()] if task == "secure-gateway" else []
