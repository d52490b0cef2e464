"""A loopback stand-in for Bot Framework's token signing: OpenID metadata, JWKS and tokens.

Teams signs every activity it POSTs to a bot with an RS256 JWT whose keys are published at
`https://login.botframework.com/v1/.well-known/openidconfiguration` (→ `jwks_uri`). That is
outside the machine, so the authenticated path is tested against this fake instead: point
`LAUNCHOPS_TEAMS_OPENID_METADATA_URL` at `fake.metadata_url` and send `fake.token(...)`.
The app's botbuilder validation runs unchanged; only where it fetches keys differs.

Each instance has its own RSA key, key id and URL path: botbuilder caches key sets per URL
for a day, process-wide, so a reused port must not serve it a stale key set.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.fakes import HttpRequest, HttpResponse, LoopbackServer

__all__ = ["BOT_FRAMEWORK_ISSUER", "FakeBotFrameworkAuth", "bearer"]

BOT_FRAMEWORK_ISSUER: Final = "https://api.botframework.com"  # what Teams' tokens carry


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class FakeBotFrameworkAuth(LoopbackServer):
    """OpenID metadata at `.metadata_url`, its key set at `<prefix>/keys`, and a signer."""

    def __init__(self, *, endorsements: tuple[str, ...] = ("msteams",)) -> None:
        super().__init__()
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key_id = uuid.uuid4().hex
        self._prefix = f"/{uuid.uuid4().hex[:12]}"
        self._endorsements = list(endorsements)
        self._lock = threading.Lock()
        self.fetched: list[str] = []  # paths requested, in order

    @property
    def metadata_url(self) -> str:
        return f"{self.origin}{self._prefix}/v1/.well-known/openidconfiguration"

    # tokens -----------------------------------------------------------------------------------
    def claims(
        self,
        *,
        audience: str,
        service_url: str,
        issuer: str = BOT_FRAMEWORK_ISSUER,
        expires_in: float = 3600,
    ) -> dict[str, Any]:
        """The claims Bot Framework puts in a channel → bot token."""
        now = int(time.time())
        return {
            "serviceurl": service_url,
            "nbf": now - 60,
            "exp": int(now + expires_in),
            "iss": issuer,
            "aud": audience,
        }

    def token(self, **claims: Any) -> str:
        """A token signed with this fake's key; keyword arguments as for `claims()`."""
        return jwt.encode(
            self.claims(**claims), self._key, algorithm="RS256", headers={"kid": self.key_id}
        )

    def token_signed_by_stranger(self, **claims: Any) -> str:
        """Right claims and key id, but signed with a key nobody published."""
        stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return jwt.encode(
            self.claims(**claims), stranger, algorithm="RS256", headers={"kid": self.key_id}
        )

    def unsigned_token(self, **claims: Any) -> str:
        """`alg: none`: what a forger sends hoping the signature check is skipped."""
        header = {"alg": "none", "typ": "JWT", "kid": self.key_id}
        body = self.claims(**claims)
        return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(body).encode())}."

    def token_without_signature(self, **claims: Any) -> str:
        """A properly signed token with its signature cut off."""
        header, body, _ = self.token(**claims).split(".")
        return f"{header}.{body}."

    # the endpoints ----------------------------------------------------------------------------
    def handle(self, request: HttpRequest) -> HttpResponse:
        with self._lock:
            self.fetched.append(request.path)
        if request.verb != "GET":
            return HttpResponse.of_json({"error": "method not allowed"}, 405)
        if request.path == f"{self._prefix}/v1/.well-known/openidconfiguration":
            return HttpResponse.of_json(
                {
                    "issuer": BOT_FRAMEWORK_ISSUER,
                    "authorization_endpoint": "https://invalid.botframework.com",
                    "jwks_uri": f"{self.origin}{self._prefix}/keys",
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                }
            )
        if request.path == f"{self._prefix}/keys":
            jwk = RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
            jwk.update(kid=self.key_id, use="sig", endorsements=self._endorsements)
            return HttpResponse.of_json({"keys": [jwk]})
        return HttpResponse.of_json({"error": "not found"}, 404)
