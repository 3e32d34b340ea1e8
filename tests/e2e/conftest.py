"""Fixtures for end-to-end tests: a whole local system per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.local_system import (
    LocalSystem,
    module_ports_base,
    start_local_system,
    stop_local_system,
)


@pytest.fixture(scope="module")
def local_system(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[LocalSystem]:
    """The whole local system at step 1, without telemetry, for this module's tests."""
    system = start_local_system(
        tmp_path_factory.mktemp("mesh"), module_ports_base(request.module.__name__)
    )
    yield system
    stop_local_system(system)
