"""Where a running local system keeps its files (kept import-light for the CLI)."""

from __future__ import annotations

import os
from pathlib import Path


def default_state_dir() -> Path:
    """`$VOTING_STATE_DIR`, else a per-user directory under /tmp."""
    return Path(os.environ.get("VOTING_STATE_DIR") or f"/tmp/voting-mesh-{os.getuid()}")
