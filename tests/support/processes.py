"""What a test's processes left behind: processes naming a marker, ports still listening.

A process counts as the test's when its command line or its environment names the marker
(a temporary directory the test gave out as state dir, work dir or $TMPDIR): children
inherit the environment, and every process of `voting up` names its state dir in one of
the two. Only the test's own processes are ever killed, by pid.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
from collections.abc import Callable
from pathlib import Path

LISTEN = "0A"  # the TCP state in /proc/net/tcp*
_PR_SET_PDEATHSIG = 1


def die_with_test_run() -> Callable[[], None]:
    """A preexec_fn: the child gets SIGTERM when the test run (its parent) dies, however.

    So even a pytest killed with SIGKILL, whose finalizers never run, leaves no server or
    `voting up` behind (`voting up` then stops its own children, which carry the same).
    """
    parent = os.getpid()

    def preexec() -> None:  # in the child, between fork and exec
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the run died before prctl took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


def processes_naming(marker: str | Path) -> dict[int, str]:
    """Live processes (not zombies) whose command line or environment contains `marker`."""
    needle = str(marker).encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z" and (needle in cmdline or needle in environ):
            found[int(entry.name)] = cmdline.replace(b"\0", b" ").decode(errors="replace")[:200]
    return found


def listening_ports(ports: range) -> list[int]:
    """Ports of `ports` on which some socket listens (TCP, IPv4 or IPv6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                port = int(fields[1].rsplit(":", 1)[1], 16)
                if fields[3] == LISTEN and port in ports:
                    found.add(port)
    return sorted(found)


def kill_all(pids: dict[int, str] | list[int]) -> None:
    """SIGKILL each of these pids (the test's own, found by `processes_naming`)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
