"""One running local system for every task test of this package (Istio's tasks, issue 13).

Started once at step 4 (canary), without Prometheus: the step with the most to route
between (voting-app 1.0 and 2.0, analytics 1.1 and 2.0 as DestinationRule subsets, storage
on Redis and MySQL), STRICT mutual TLS and per-workload AuthorizationPolicies, i.e. what
Istio's tasks assume of Bookinfo (several versions, subsets, a gateway). Each test applies
its task with `task_applied(task_system, "<task>")` (tests/e2e/tasks/support.py), which
deletes it afterwards and checks the step is back as rendered, so tests are independent
of order and the whole package pays for one `voting up`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.local_system import (
    LocalSystem,
    module_ports_base,
    start_local_system,
    stop_local_system,
)
from tests.support.tasks import TASK_STEP


@pytest.fixture(scope="package")
def task_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    """The local system at step 4 (canary), shared by every module of tests/e2e/tasks."""
    system = start_local_system(
        tmp_path_factory.mktemp("tasks"),
        module_ports_base("tests.e2e.tasks"),
        extra=("--step", TASK_STEP),
    )
    yield system
    stop_local_system(system)
