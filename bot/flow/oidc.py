"""The identity provider a step-up rule sends approvers to: OpenID Connect discovery, the
authorization code flow with PKCE (S256), and the ID token checked with PyJWT against the
issuer's published keys (issuer, audience, expiry, nonce; the rest is the caller's).

Only asymmetric signatures are accepted (never `none` or a shared-secret HMAC, which anyone
holding the client secret could forge), and the discovery document must name the very
issuer configured.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
CACHE = 300.0  # seconds discovery and keys are kept (a rotated key is fetched when unknown)
TIMEOUT = aiohttp.ClientTimeout(total=10)


class IdpError(Exception):
    """The provider could not be used, or its answer does not hold; the message says why."""


@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str

    @staticmethod
    def new() -> Pkce:
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        return Pkce(verifier, challenge)


class Provider:
    def __init__(self, issuer: str, client_id: str, client_secret: str | None) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self.client_secret = client_secret
        self._discovery: tuple[float, dict[str, Any]] | None = None
        self._keys: tuple[float, dict[str, Any]] | None = None

    async def _get(self, url: str) -> dict[str, Any]:
        try:
            async with aiohttp.ClientSession(timeout=TIMEOUT) as http, http.get(url, allow_redirects=False) as resp:
                if resp.status != 200:
                    raise IdpError(f"{url} answered {resp.status}")
                found = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise IdpError(f"{url}: {type(exc).__name__}") from None
        if not isinstance(found, dict):
            raise IdpError(f"{url} answered no JSON object")
        return found

    async def discovery(self) -> dict[str, Any]:
        if self._discovery is not None and self._discovery[0] > time.monotonic():
            return self._discovery[1]
        found = await self._get(f"{self.issuer}/.well-known/openid-configuration")
        if found.get("issuer") != self.issuer:
            raise IdpError(f"the discovery document names issuer {found.get('issuer')!r}, not {self.issuer!r}")
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(found.get(key), str):
                raise IdpError(f"the discovery document has no {key}")
        self._discovery = (time.monotonic() + CACHE, found)
        return found

    async def authorize_url(self, *, redirect_uri: str, state: str, nonce: str, pkce: Pkce, max_age: int,
                            acr_values: tuple[str, ...]) -> str:
        """Where the browser goes to log in again: a fresh login (`prompt=login`, `max_age`)."""
        params = {"response_type": "code", "client_id": self.client_id, "redirect_uri": redirect_uri,
                  "scope": "openid email", "state": state, "nonce": nonce, "code_challenge": pkce.challenge,
                  "code_challenge_method": "S256", "prompt": "login", "max_age": str(max_age)}
        if acr_values:
            params["acr_values"] = " ".join(acr_values)
        endpoint = (await self.discovery())["authorization_endpoint"]
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"

    async def id_token(self, *, code: str, verifier: str, redirect_uri: str) -> str:
        """Exchange the code (with the PKCE verifier) for the ID token."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "client_id": self.client_id, "code_verifier": verifier}
        auth = aiohttp.BasicAuth(self.client_id, self.client_secret) if self.client_secret else None
        endpoint = (await self.discovery())["token_endpoint"]
        try:
            async with aiohttp.ClientSession(timeout=TIMEOUT) as http, \
                    http.post(endpoint, data=form, auth=auth, allow_redirects=False) as resp:
                body = await resp.json(content_type=None)
                if resp.status != 200 or not isinstance(body, dict):
                    raise IdpError(f"the token endpoint refused the code ({resp.status})")
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise IdpError(f"the token endpoint: {type(exc).__name__}") from None
        token = body.get("id_token")
        if not isinstance(token, str):
            raise IdpError("the token endpoint returned no id_token")
        return token

    async def _key(self, kid: str | None) -> Any:
        import jwt

        for fresh in (False, True):
            if fresh or self._keys is None or self._keys[0] < time.monotonic():
                jwks = await self._get((await self.discovery())["jwks_uri"])
                self._keys = (time.monotonic() + CACHE, jwks)
            try:
                keys = jwt.PyJWKSet.from_dict(self._keys[1])
            except jwt.PyJWKSetError as exc:
                raise IdpError(f"the provider's keys cannot be read ({exc})") from None
            for key in keys.keys:
                if kid is None or key.key_id == kid:
                    return key
        raise IdpError("the ID token is signed with a key the provider does not publish")

    async def verify(self, id_token: str, *, nonce: str) -> dict[str, Any]:
        """The ID token's claims once its signature, issuer, audience, expiry and nonce hold."""
        import jwt

        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError:
            raise IdpError("the ID token is not a JWT") from None
        if header.get("alg") not in ALGORITHMS:
            raise IdpError(f"the ID token's algorithm {header.get('alg')!r} is not accepted")
        key = await self._key(header.get("kid"))
        try:
            claims = jwt.decode(id_token, key.key, algorithms=[header["alg"]], audience=self.client_id,
                                issuer=self.issuer, leeway=30,
                                options={"require": ["exp", "iat", "iss", "aud", "sub"]})
        except jwt.PyJWTError as exc:
            raise IdpError(f"the ID token does not hold ({exc})") from None
        if not isinstance(claims.get("nonce"), str) or not secrets.compare_digest(claims["nonce"], nonce):
            raise IdpError("the ID token was not issued for this login (wrong nonce)")
        return dict(claims)


def claims_text(claims: dict[str, Any]) -> str:
    return json.dumps({k: claims.get(k) for k in ("iss", "sub", "auth_time", "acr")})
