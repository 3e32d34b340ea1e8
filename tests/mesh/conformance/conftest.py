"""The one fixture every conformance module compiles with: a local CA for the proxies' certs."""

from __future__ import annotations

import pytest

from mesh.local.ca import LocalCA


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    """Module-scoped: issuing certificates is the slow part of compiling a view."""
    return LocalCA(tmp_path_factory.mktemp("ca"))
