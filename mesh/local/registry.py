"""Every running local system of this user, so that `voting down --all` finds each one.

A `voting up` supervisor writes `<registry>/<pid>.json` (its pid, its start time and its
state directory) when it starts and removes it when it stops. An entry whose process is
gone, or whose pid now belongs to another process (the start time differs), is stale: a
supervisor killed with SIGKILL left it. Kept import-light: the CLI reads it.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path


def registry_dir() -> Path:
    """`$VOTING_REGISTRY_DIR`, else a per-user directory under /tmp."""
    return Path(os.environ.get("VOTING_REGISTRY_DIR") or f"/tmp/voting-mesh-{os.getuid()}-systems")


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (None: no such process)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] == "Z":  # exited, not yet reaped: as good as gone
        return None
    return int(fields[19])


@dataclass(frozen=True)
class Entry:
    pid: int
    started: int
    state_dir: Path
    path: Path

    @property
    def running(self) -> bool:
        return start_time(self.pid) == self.started


def register(state_dir: Path, directory: Path | None = None) -> Path:
    """Record this process as the supervisor of `state_dir`; returns the entry's file."""
    directory = directory or registry_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    pid = os.getpid()
    path = directory / f"{pid}.json"
    tmp = path.with_suffix(".tmp")
    record = {"pid": pid, "started": start_time(pid), "state_dir": str(state_dir.resolve())}
    tmp.write_text(json.dumps(record))
    os.replace(tmp, path)
    return path


def unregister(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def entries(directory: Path | None = None) -> list[Entry]:
    """Every recorded system, running or stale, oldest pid first."""
    directory = directory or registry_dir()
    found = []
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            record = json.loads(path.read_text())
            found.append(
                Entry(int(record["pid"]), int(record["started"]), Path(record["state_dir"]), path)
            )
        except (OSError, ValueError, KeyError, TypeError):
            unregister(path)  # half-written or foreign: not a system
    return found


def supervisor_of(state_dir: Path, directory: Path | None = None) -> int | None:
    """The pid of the running supervisor of `state_dir`, if one is registered."""
    wanted = state_dir.resolve()
    for entry in entries(directory):
        if entry.state_dir == wanted and entry.running:
            return entry.pid
    return None
