"""A VALID Bot Framework / Entra token is accepted with our real configuration
(TEAMS_APP_ID / TEAMS_APP_PASSWORD / TEAMS_TENANT_ID → AgentAuthConfiguration →
the SDK's JwtTokenValidator), and near-misses are refused.

Nothing is patched: the SDK fetches the signing keys from its fixed Microsoft URLs with
urllib, which here goes through `HTTPS_PROXY` to a local intercepting proxy
(tests/teams/jwks_proxy.py) that terminates TLS with a certificate from a throwaway test
CA (`SSL_CERT_FILE`) and serves the public half of a key the test signs tokens with.
The SDK acquires the bot's outbound token (MSAL, over `requests`) at the start of every
inbound turn, so the proxy also answers MSAL's discovery and token endpoints with a
placeholder (`REQUESTS_CA_BUNDLE` trusts the test CA); nothing checks that token.

A network guard (an audit hook) refuses any connection or DNS lookup that is not
loopback while these tests run, so nothing leaves the machine. With real tokens the
adapter requires the activity's serviceUrl to be a Microsoft host (and equal to the
token's `serviceurl` claim), so outbound replies cannot reach the loopback fake connector:
acceptance is asserted inbound (2xx, and the approval is recorded in the ledger).
"""

from __future__ import annotations

import ipaddress
import sys
import threading
import time
import uuid
from typing import Any, Iterator

import jwt
import pytest

from tests.teams.conftest import teams_server
from tests.teams.fakes import TENANT, message
from tests.teams.jwks_proxy import (
    BOTFRAMEWORK_HOST,
    ENTRA_HOST,
    InterceptingProxy,
    TestPKI,
    jwk,
    private_pem,
    rsa_key,
)

APP_ID = "0e1f2a3b-4c5d-6e7f-8091-a2b3c4d5e6f7"
SECRET = "s3cr3t-teams-app-password-value"
SERVICE_URL = "https://smba.trafficmanager.net/amer/"
BOTFRAMEWORK_ISSUER = "https://api.botframework.com"
OTHER_TENANT = "11111111-2222-3333-4444-555555555555"
KID = "clearance-test-kid-1"
BOTFRAMEWORK_JWKS = f"https://{BOTFRAMEWORK_HOST}/v1/.well-known/keys"  # where the SDK looks
SIGNING_KEY = rsa_key()
SIGNING_PEM = private_pem(SIGNING_KEY)
REQUEST = "deploy api v2.3 to prod"
# The SDK stores the accepted identity under a plain string request key.
pytestmark = pytest.mark.filterwarnings("ignore:It is recommended to use web.RequestKey")

# -- network guard -------------------------------------------------------------------------

_guard = {"on": False, "blocked": []}
_guard_lock = threading.Lock()


def _loopback(host: Any) -> bool:
    if host in (None, "localhost", b"localhost"):
        return True
    try:
        return ipaddress.ip_address(host.decode() if isinstance(host, bytes) else str(host)).is_loopback
    except ValueError:
        return False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _guard["on"]:
        return
    host: Any = None
    if event == "socket.getaddrinfo":
        host = args[0]
    elif event == "socket.connect":
        address = args[1]
        if not isinstance(address, tuple):
            return  # unix sockets
        host = address[0]
    else:
        return
    if not _loopback(host):
        with _guard_lock:
            _guard["blocked"].append(f"{event} {host}")
        raise ConnectionRefusedError(f"test network guard: {event} to {host!r} refused")


_hook_installed = False


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InterceptingProxy]:
    global _hook_installed
    if not _hook_installed:  # audit hooks cannot be removed; it is inert while the guard is off
        sys.addaudithook(_audit)
        _hook_installed = True
    pki = TestPKI(tmp_path_factory.mktemp("test-ca"))
    proxy = InterceptingProxy(pki, jwks={"keys": [jwk(SIGNING_KEY, KID)]}).start()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def network(proxy: InterceptingProxy, monkeypatch: pytest.MonkeyPatch) -> Iterator[InterceptingProxy]:
    """Route the SDK's key fetches to the proxy and trust the test CA; loopback stays direct."""
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, proxy.url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    for name in ("ALL_PROXY", "all_proxy", "CURL_CA_BUNDLE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(proxy.pki.ca_file))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(proxy.pki.ca_file))  # MSAL (requests), for replies
    _guard["blocked"] = []
    _guard["on"] = True
    try:
        yield proxy
    finally:
        _guard["on"] = False


def token(*, key_pem: bytes = SIGNING_PEM, kid: str = KID, iss: str = BOTFRAMEWORK_ISSUER, aud: str = APP_ID,
          lifetime: tuple[int, int] = (-60, 3600), **claims: Any) -> str:
    """A token shaped as Bot Framework issues it to a bot (RS256, `kid`, `serviceurl`)."""
    now = int(time.time())
    payload = {"serviceurl": SERVICE_URL, "nbf": now + lifetime[0], "iat": now + lifetime[0],
               "exp": now + lifetime[1], "iss": iss, "aud": aud, "jti": uuid.uuid4().hex, **claims}
    return jwt.encode(payload, key_pem, algorithm="RS256", headers={"kid": kid, "typ": "JWT"})


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


async def _accepted(srv: Any, headers: dict[str, str]) -> None:
    status, body = await srv.post(message(SERVICE_URL, REQUEST), headers=headers)
    await srv.settle()
    assert 200 <= status < 300, body
    approvals = await srv.runtime.ledger.approvals()
    assert [(a.tool, a.requester.id, a.status.value) for a in approvals] == [
        ("deploy", "aaaaaaaa-0000-0000-0000-00000000a11c", "pending")]
    assert approvals[0].conversation.data["service_url"] == SERVICE_URL


async def _refused(srv: Any, headers: dict[str, str]) -> None:
    status, _ = await srv.post(message(SERVICE_URL, REQUEST), headers=headers)
    await srv.settle()
    assert status == 401
    assert await srv.runtime.ledger.approvals() == []


def _server(tmp_path: Any, **settings: Any) -> Any:
    return teams_server(f"sqlite:///{tmp_path}/v.db", TEAMS_ALLOW_ANONYMOUS=False,
                        TEAMS_APP_ID=APP_ID, TEAMS_APP_PASSWORD=SECRET, **settings)


async def test_valid_botframework_token_is_accepted(tmp_path, network) -> None:
    async with _server(tmp_path) as srv:
        await _accepted(srv, bearer(token()))
    # The key came from the SDK's own Bot Framework JWKS URL, through the proxy (or the SDK
    # still caches what the proxy served to an earlier test in this process).
    assert network.jwks_fetches(BOTFRAMEWORK_HOST) or _jwks_cached(BOTFRAMEWORK_JWKS)
    assert network.refused == []
    # The only thing the guard stopped is the reply to the real Teams host.
    assert set(_guard["blocked"]) <= {"socket.getaddrinfo smba.trafficmanager.net"}


def _jwks_cached(uri: str) -> bool:
    """The SDK's (process-wide) key cache for `uri` holds our key, which only the proxy serves."""
    from microsoft_agents.hosting.core.authorization.jwt.jwt_token_validator import JwtTokenValidator
    entry = JwtTokenValidator._jwk_client_manager._cache.get(uri)
    cached = entry.jwk_client.jwk_set_cache.get() if entry and entry.jwk_client.jwk_set_cache else None
    return bool(cached) and KID in {k.key_id for k in cached.keys}


@pytest.mark.parametrize("case", ["other-key-same-kid", "unknown-kid", "wrong-audience", "expired",
                                  "not-yet-valid", "serviceurl-mismatch"])
async def test_near_miss_botframework_tokens_are_401(tmp_path, network, case) -> None:
    other_pem = private_pem(rsa_key())
    value = {
        "other-key-same-kid": lambda: token(key_pem=other_pem),
        "unknown-kid": lambda: token(key_pem=other_pem, kid="not-in-the-jwks"),
        "wrong-audience": lambda: token(aud="99999999-8888-7777-6666-555555555555"),
        # The SDK allows 300 s of clock skew.
        "expired": lambda: token(lifetime=(-7200, -600)),
        "not-yet-valid": lambda: token(lifetime=(600, 7200)),
        "serviceurl-mismatch": lambda: token(serviceurl="https://smba.trafficmanager.net.example.org/amer/"),
    }[case]()
    async with _server(tmp_path) as srv:
        await _refused(srv, bearer(value))
        # The right token still works on the same server.
        await _accepted(srv, bearer(token()))
    assert network.refused == []


def entra_token(tenant: str, **claims: Any) -> str:
    return token(iss=f"https://login.microsoftonline.com/{tenant}/v2.0", tid=tenant, **claims)


@pytest.mark.parametrize("version", ["v2", "v1"])
async def test_single_tenant_accepts_an_entra_token_from_its_tenant(tmp_path, network, version) -> None:
    value = entra_token(TENANT) if version == "v2" else token(iss=f"https://sts.windows.net/{TENANT}/", tid=TENANT)
    async with _server(tmp_path, TEAMS_TENANT_ID=TENANT) as srv:
        await _accepted(srv, bearer(value))
    assert network.jwks_fetches(ENTRA_HOST) or _jwks_cached(f"https://{ENTRA_HOST}/{TENANT}/discovery/v2.0/keys")


async def test_single_tenant_still_accepts_botframework_tokens(tmp_path, network) -> None:
    async with _server(tmp_path, TEAMS_TENANT_ID=TENANT) as srv:
        await _accepted(srv, bearer(token()))


@pytest.mark.parametrize("version", ["v2", "v1"])
async def test_single_tenant_refuses_an_entra_token_from_another_tenant(tmp_path, network, version) -> None:
    # Same Microsoft signing key, right audience, and the activity claims our tenant: only
    # the issuer tells. (Needs the adapter's issuer check; the SDK's default is audience only.)
    value = (entra_token(OTHER_TENANT) if version == "v2"
             else token(iss=f"https://sts.windows.net/{OTHER_TENANT}/", tid=OTHER_TENANT))
    async with _server(tmp_path, TEAMS_TENANT_ID=TENANT) as srv:
        await _refused(srv, bearer(value))
        await _accepted(srv, bearer(entra_token(TENANT)))


async def test_multi_tenant_accepts_entra_tokens_as_the_sdk_does(tmp_path, network) -> None:
    """Multi-tenant keeps the SDK default (signature + audience + tid/issuer binding)."""
    async with _server(tmp_path) as srv:
        await _accepted(srv, bearer(entra_token(OTHER_TENANT)))


async def test_entra_token_whose_tid_disagrees_with_its_issuer_is_401(tmp_path, network) -> None:
    async with _server(tmp_path, TEAMS_TENANT_ID=TENANT) as srv:
        mismatched = token(iss=f"https://{ENTRA_HOST}/{TENANT}/v2.0", tid=OTHER_TENANT)
        await _refused(srv, bearer(mismatched))


async def test_valid_token_but_no_outbound_token_is_503_not_500(tmp_path, network) -> None:
    """The SDK fetches the bot's outbound token (Entra) before a turn starts. When it cannot
    (Entra unreachable, wrong TEAMS_APP_PASSWORD) that is our side's failure: 503 so Teams
    retries, one clear log line, and nothing half-done in the ledger."""
    network.answer_msal = False
    try:
        async with _server(tmp_path) as srv:
            status, body = await srv.post(message(SERVICE_URL, REQUEST), headers=bearer(token()))
            await srv.settle()
            assert status == 503, body
            assert await srv.runtime.ledger.approvals() == []
    finally:
        network.answer_msal = True
