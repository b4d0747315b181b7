"""A local OpenID Connect provider on 127.0.0.1, as a real one answers: discovery, an
authorize endpoint that "logs in" whoever the test says (and redirects back with a code),
a token endpoint that checks the client, the redirect and the PKCE verifier and returns an
RS256 ID token, and the JWKS. Knobs let a test make the login someone else's, stale, of
another acr, or issued for another nonce."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.asymmetric import rsa

CLIENT_ID, CLIENT_SECRET = "clearance-test", "idp-client-secret-9f1"


@dataclass
class Login:
    """Who logs in at /authorize, and how."""

    sub: str = "user-1"
    email: str | None = "dana@example.com"
    oid: str | None = None
    acr: str = "pwd"
    auth_time_offset: float = 0.0  # seconds added to the time of the login (negative: stale)
    nonce: str | None = None  # None: the nonce the client sent


@dataclass
class FakeIdp:
    login: Login = field(default_factory=Login)
    queue: list[Login] = field(default_factory=list)  # logins taken in turn by the next authorizations
    authorizations: list[dict[str, str]] = field(default_factory=list)
    _codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    _server: TestServer | None = None

    def __post_init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def issuer(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.port}"

    async def __aenter__(self) -> FakeIdp:
        app = web.Application()
        app.router.add_get("/.well-known/openid-configuration", self._discovery)
        app.router.add_get("/authorize", self._authorize)
        app.router.add_post("/token", self._token)
        app.router.add_get("/jwks", self._jwks)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self._server is not None
        await self._server.close()

    async def _discovery(self, request: web.Request) -> web.Response:
        return web.json_response({"issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
                                  "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
                                  "response_types_supported": ["code"], "id_token_signing_alg_values_supported":
                                  ["RS256"], "code_challenge_methods_supported": ["S256"]})

    async def _authorize(self, request: web.Request) -> web.Response:
        q = dict(request.query)
        self.authorizations.append(q)
        if q.get("client_id") != CLIENT_ID or q.get("response_type") != "code":
            return web.Response(status=400, text="bad client")
        code = secrets.token_urlsafe(16)
        self._codes[code] = {"query": q, "at": time.time(), "login": self.queue.pop(0) if self.queue else self.login}
        raise web.HTTPFound(f"{q['redirect_uri']}?code={code}&state={q['state']}")

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        auth = request.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        grant = self._codes.pop(str(form.get("code")), None)
        if auth != expected or grant is None:
            return web.json_response({"error": "invalid_client"}, status=401)
        q, login = grant["query"], grant["login"]
        challenge = base64.urlsafe_b64encode(hashlib.sha256(str(form.get("code_verifier")).encode()).digest())
        if challenge.decode().rstrip("=") != q["code_challenge"] or form.get("redirect_uri") != q["redirect_uri"]:
            return web.json_response({"error": "invalid_grant"}, status=400)
        now = time.time()
        claims: dict[str, Any] = {"iss": self.issuer, "aud": CLIENT_ID, "sub": login.sub, "iat": int(now),
                                  "exp": int(now) + 300, "nonce": login.nonce or q["nonce"],
                                  "auth_time": int(grant["at"] + login.auth_time_offset), "acr": login.acr}
        if login.email:
            claims.update(email=login.email, email_verified=True)
        if login.oid:
            claims["oid"] = login.oid
        token = jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": "k1"})
        return web.json_response({"access_token": "at", "token_type": "Bearer", "id_token": token})

    async def _jwks(self, request: web.Request) -> web.Response:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        return web.json_response({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]})
