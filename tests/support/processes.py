"""What a test's processes left behind: processes naming a marker, ports still listening.

A process counts as the test's when its command line or its environment names the marker
(a temporary directory the test gave out as state dir, work dir or $TMPDIR): children
inherit the environment, and every process of `voting up` names its state dir in one of
the two. Only the test's own processes are ever killed, by pid.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

LISTEN = "0A"  # the TCP state in /proc/net/tcp*


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
