"""Istio task "JWT authentication": the ingress validates tokens, then requires one.

Checks pilot/pkg/security/authn/policy_applier.go (a present token must be valid: 401; a
missing one passes) and the AuthorizationPolicy's `requestPrincipals` (403 without the right
`<iss>/<sub>`) on real Envoy's jwt_authn and RBAC filters. The task's own files run first,
with the demo token beside them (mesh/tasks/jwt/demo.jwt); then the RequestAuthentication is
replaced by one with a key set this test generates, to mint valid, expired, wrongly signed and
other-subject tokens (tests/mesh/conformance/test_jwt.py has the translation).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.e2e.local_system import LocalSystem
from tests.e2e.tasks.support import requests, task_applied, wait_for
from tests.support.tasks import task_path

pytestmark = pytest.mark.e2e

ISSUER = "voting-demo@local"
AUTHN = "jwt/1-request-authentication.yaml"
REQUIRE = "jwt/2-require-jwt.yaml"
PAGES = 8


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def statuses(system: LocalSystem, headers: dict[str, str] | None = None) -> Counter[int]:
    return Counter(a.status for a in requests(system, PAGES, headers=headers or {}))


class Signer:
    """A key pair of this test: its public half as an inline JWKS, tokens signed with it."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        self.jwks = json.dumps({"keys": [{**public, "kid": "test", "alg": "RS256"}]})

    def token(self, sub: str = "voter", iss: str = ISSUER, expires_in: float = 3600) -> str:
        now = int(time.time())
        claims = {"iss": iss, "sub": sub, "iat": now, "exp": now + int(expires_in)}
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "test"})


def with_jwks(jwks: str) -> str:
    """The task's RequestAuthentication with another inline key set."""
    text = task_path(AUTHN).read_text()
    head, _ = text.split("      jwks: ", 1)
    return head + f"      jwks: '{jwks}'\n"


def test_a_present_token_must_be_valid_then_a_valid_one_is_required(
    task_system: LocalSystem, tmp_path: Path
) -> None:
    demo = task_path("jwt/demo.jwt").read_text().strip()
    with task_applied(task_system, AUTHN) as task:
        wait_for(task_system, lambda a: a.status == 401, "tokens checked", headers=bearer("x.y.z"))
        assert statuses(task_system) == Counter({200: PAGES})  # no token: passes authn
        assert statuses(task_system, bearer(demo)) == Counter({200: PAGES})
        answer = requests(task_system, 1, headers=bearer("not.a.jwt"))[0]
        # answered by Envoy's jwt_authn filter ("Jwt header is an invalid JSON"), not the app
        assert answer.status == 401 and answer.body.startswith("Jwt "), answer

        task.apply(REQUIRE)
        wait_for(task_system, lambda a: a.status == 403, "a token required")
        assert statuses(task_system) == Counter({403: PAGES})
        assert statuses(task_system, bearer(demo)) == Counter({200: PAGES})

        signer = Signer()
        own = tmp_path / "own-key.yaml"
        own.write_text(with_jwks(signer.jwks))
        applied = task_system.cli("apply", "-f", str(own))
        assert applied.returncode == 0, applied.stderr
        valid = bearer(signer.token())
        wait_for(task_system, lambda a: a.status == 200, "the new key set", headers=valid)
        assert statuses(task_system, valid) == Counter({200: PAGES})
        assert statuses(task_system, bearer(demo)) == Counter({401: PAGES})  # key not in set
        expired = bearer(signer.token(expires_in=-120))
        assert statuses(task_system, expired) == Counter({401: PAGES})
        assert statuses(task_system, bearer(signer.token(iss="other@local"))) == Counter(
            {401: PAGES}
        )
        assert statuses(task_system, bearer(signer.token(sub="someone-else"))) == Counter(
            {403: PAGES}
        )

        # Bad input: a key set that is not one is refused naming the field; nothing changes.
        broken = tmp_path / "broken.yaml"
        broken.write_text(with_jwks('{"keys": "none"}'))
        refused = task_system.cli("apply", "-f", str(broken))
        assert refused.returncode == 2, refused
        assert "spec.jwtRules[0].jwks: jwks parse error" in refused.stderr, refused.stderr
        assert statuses(task_system, valid) == Counter({200: PAGES})

    wait_for(task_system, lambda a: a.status == 200, "open again")
    assert statuses(task_system, bearer("not.a.jwt")) == Counter({200: PAGES})
