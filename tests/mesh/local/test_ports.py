"""Pod ports: outside the kernel's ephemeral range, unless the caller's base lies in it."""

from __future__ import annotations

from mesh.local import topology
from mesh.local.topology import PortAllocator


def test_ports_skip_the_ephemeral_range_from_a_base_below_it(monkeypatch) -> None:
    monkeypatch.setattr(topology, "ephemeral_range", lambda: (32768, 60999))
    monkeypatch.setattr(topology, "port_is_free", lambda port: True)
    ports = PortAllocator(32766)
    assert [ports.allocate() for _ in range(3)] == [32766, 32767, 61000]


def test_a_base_inside_the_ephemeral_range_is_honoured(monkeypatch) -> None:
    monkeypatch.setattr(topology, "ephemeral_range", lambda: (32768, 60999))
    monkeypatch.setattr(topology, "port_is_free", lambda port: True)
    ports = PortAllocator(47010)
    assert [ports.allocate() for _ in range(2)] == [47010, 47011]
