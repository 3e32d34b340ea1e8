"""The local mesh (mesh/local) accepts every rendered step: the contract between the two."""

from __future__ import annotations

from mesh.model.resources import parse_resources


def test_the_local_mesh_accepts_every_rendered_step(objs):
    resources = parse_resources(objs)
    assert {w.name for w in resources.workloads} >= {
        d["metadata"]["name"]
        for d in objs
        if d["kind"] == "Deployment" and d["metadata"]["labels"]["app"].startswith("voting-")
    }
