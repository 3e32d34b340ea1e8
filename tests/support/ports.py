"""Free loopback ports for test servers, chosen in one place.

`free_port()` is the default: the kernel picks a port nothing listens on (from its ephemeral
range). Two callers need more, and say why in their docstrings: `free_port_block` (consecutive
ports, for `voting up --base-port`) and `free_ports_in` (ports kept out of the ephemeral range
until a process started later binds them).
"""

from __future__ import annotations

import os
import random
import socket

import pytest

from mesh.local.topology import port_is_free  # the product's own check (voting up, bench)


def free_port() -> int:
    """A TCP port nothing listens on right now (bind 127.0.0.1:0, return what was given)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:`port`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def free_port_block(count: int, start: int, stop: int) -> int:
    """The first of `count` consecutive free ports at or above `start`, all below `stop`.

    Why not `free_port()`: `voting up --base-port N` takes the ports after N one by one, so
    it needs a free block, not one port; and suites that stop and restart their servers keep
    their ports in a range of their own below the kernel's ephemeral range (32768+), where
    an outgoing connection could take a port between this check and the server's bind.
    """
    port = start
    while port + count <= stop:
        if all(port_is_free(p) for p in range(port, port + count)):
            return port
        port += count
    pytest.fail(f"no {count} free ports from {start} below {stop}")


def free_ports_in(ports: range, count: int) -> list[int]:
    """`count` free ports from `ports`, in an order shuffled by this process's pid.

    Why not `free_port()`: the ports are handed to a process (Envoy) that binds them only
    later, so they must not come from the kernel's ephemeral range, where an outgoing
    connection could take one first; and shuffling by pid keeps two concurrent runs from
    picking the same ones.
    """
    candidates = list(ports)
    random.Random(os.getpid()).shuffle(candidates)
    chosen = []
    for port in candidates:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        chosen.append(port)
        if len(chosen) == count:
            return chosen
    raise RuntimeError(f"no free ports in {ports.start}-{ports.stop - 1}")
