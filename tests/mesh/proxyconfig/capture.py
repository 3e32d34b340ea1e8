"""Capture the proxy-config fixture from a running local system (kept for re-capturing).

    .venv/bin/voting step canary --state-dir S
    .venv/bin/python -m tests.mesh.proxyconfig.capture S voting-app-2-0-<hash>-0

Writes `canary_dump.json`: the real config_dump and `/clusters?format=json` of the gateway and
of one pod's sidecar, the resources in force, `voting status`'s services and the certificate
files the config names (public certificates only; Envoy redacts the key paths' content and
no key is read). Everything else is kept as Envoy answered.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from mesh.local.control import ControlClient
from mesh.proxyconfig import dump as d
from mesh.proxyconfig.certs import referenced_files

FIXTURE = Path(__file__).with_name("canary_dump.json")


def capture(state_dir: Path, pod: str) -> dict:
    client = ControlClient(state_dir)
    status = asyncio.run(client.status())
    documents = asyncio.run(client.documents())["documents"]
    result: dict = {
        "step": status["step"],
        "services": status["services"],
        "documents": [x for x in documents if x.get("kind") == "VirtualService"],
        "proxies": {},
        "certs": {},
    }
    for key, name in (("ingress", "ingress"), ("sidecar", pod)):
        proxy = d.resolve(status, name)
        config = d.config_dump(proxy)
        # the bootstrap section (~80 KB, mostly Envoy's list of extensions) is not shown
        config["configs"] = [
            c for c in config["configs"] if c["@type"] != d.SECTION_TYPES["bootstrap"]
        ]
        result["proxies"][key] = {
            "name": proxy.name,
            "config_dump": config,
            "clusters": d.cluster_statuses(proxy),
        }
        for _, path, _ in referenced_files(config):
            result["certs"][path] = Path(path).read_text()
    return result


if __name__ == "__main__":
    data = capture(Path(sys.argv[1]), sys.argv[2])
    FIXTURE.write_text(json.dumps(data, separators=(",", ":")))
    print(f"wrote {FIXTURE} ({FIXTURE.stat().st_size} bytes)")
