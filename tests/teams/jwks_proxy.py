"""A local stand-in for Microsoft's signing-key hosts, for tests that send VALID tokens.

The SDK fetches Bot Framework / Entra signing keys with PyJWT's `PyJWKClient`, i.e.
`urllib.request.urlopen`, from fixed https URLs. urllib honours `HTTPS_PROXY` and the
default SSL context honours `SSL_CERT_FILE`, so a test can point both at this module:

- `TestPKI` generates a throwaway CA, server certificates for the key hosts signed by it,
  and the RSA signing key whose public half is served as the JWKS;
- `InterceptingProxy` listens on 127.0.0.1, accepts `CONNECT <key host>:443`, answers 200,
  terminates TLS itself with the host's certificate and serves the JWKS (and, for the
  SDK's outbound token acquisition, MSAL's discovery document and a placeholder token).
  Any other host is refused with 403. It never opens a connection anywhere: it only answers.
"""

from __future__ import annotations

import base64
import datetime
import json
import socket
import socketserver
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

BOTFRAMEWORK_HOST = "login.botframework.com"
ENTRA_HOST = "login.microsoftonline.com"
KEY_HOSTS = (BOTFRAMEWORK_HOST, ENTRA_HOST)
MAX_HEAD = 16 * 1024


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()
    return {"kty": "RSA", "use": "sig", "kid": kid, "alg": "RS256",
            "n": _b64(numbers.n), "e": _b64(numbers.e)}


class TestPKI:
    """A throwaway CA and one server certificate per key host, written under `directory`."""

    __test__ = False  # not a pytest test class

    def __init__(self, directory: Path) -> None:
        now = datetime.datetime.now(datetime.timezone.utc)
        self.ca_key = rsa_key()
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Clearance test CA (throwaway)")])
        ca_ski = x509.SubjectKeyIdentifier.from_public_key(self.ca_key.public_key())
        self.ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name).issuer_name(ca_name)
            .public_key(self.ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(ca_ski, critical=False)
            .sign(self.ca_key, hashes.SHA256())
        )
        directory.mkdir(parents=True, exist_ok=True)
        self.ca_file = directory / "test-ca.pem"
        self.ca_file.write_bytes(self.ca_cert.public_bytes(serialization.Encoding.PEM))
        self.contexts: dict[str, ssl.SSLContext] = {}
        for host in KEY_HOSTS:
            key = rsa_key()
            cert = (
                x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
                .issuer_name(ca_name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                               critical=False)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(self.ca_key, hashes.SHA256())
            )
            cert_file = directory / f"{host}.pem"
            key_file = directory / f"{host}.key"
            cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            key_file.write_bytes(private_pem(key))
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert_file, key_file)
            self.contexts[host] = ctx


@dataclass
class Served:
    host: str
    method: str
    path: str
    status: int


@dataclass
class InterceptingProxy:
    """HTTPS-intercepting proxy on loopback that answers key hosts itself; see module doc."""

    pki: TestPKI
    jwks: dict[str, Any] = field(default_factory=lambda: {"keys": []})
    url: str = ""
    answer_msal: bool = True
    served: list[Served] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    _server: Any = None
    _thread: Any = None

    def start(self) -> "InterceptingProxy":
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.settimeout(10)
                try:
                    proxy._handle(self.request)
                except (OSError, ValueError, ssl.SSLError):
                    pass  # a client that went away or refused our certificate

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="test-jwks-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def jwks_fetches(self, host: str | None = None) -> list[Served]:
        return [s for s in self.served if s.path.endswith("/keys") and s.status == 200
                and (host is None or s.host == host)]

    # -- one client connection ---------------------------------------------------------------

    def _handle(self, sock: socket.socket) -> None:
        method, target, _ = _read_head(sock)
        host, _, port = target.rpartition(":")
        if method != "CONNECT" or port != "443" or host.lower() not in self.pki.contexts:
            self.refused.append(f"{method} {target}")
            sock.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        host = host.lower()
        sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        with self.pki.contexts[host].wrap_socket(sock, server_side=True) as tls:
            method, path, headers, rest = _read_head(tls, with_rest=True)
            _read_body(tls, rest, int(headers.get("content-length") or 0))
            status, body = self._answer(host, method, path)
            self.served.append(Served(host, method, path, status))
            payload = json.dumps(body).encode()
            reason = {200: "OK", 404: "Not Found"}[status]
            tls.sendall(f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                        f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode() + payload)

    def _answer(self, host: str, method: str, path: str) -> tuple[int, Any]:
        path = path.split("?", 1)[0]
        if method == "GET" and host == BOTFRAMEWORK_HOST and path == "/v1/.well-known/keys":
            return 200, self.jwks
        if method == "GET" and host == ENTRA_HOST and path.endswith("/discovery/v2.0/keys"):
            return 200, self.jwks
        if self.answer_msal and host == ENTRA_HOST:
            # Only so that the SDK's outbound token acquisition (MSAL, for replies) completes
            # in-process; the token is a placeholder that nothing here ever checks.
            tenant = path.strip("/").split("/", 1)[0]
            base = f"https://{ENTRA_HOST}/{tenant}"
            if method == "GET" and path.endswith("/v2.0/.well-known/openid-configuration"):
                return 200, {"issuer": f"https://{ENTRA_HOST}/{tenant}/v2.0",
                             "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                             "token_endpoint": f"{base}/oauth2/v2.0/token",
                             "jwks_uri": f"{base}/discovery/v2.0/keys"}
            if method == "POST" and path.endswith("/oauth2/v2.0/token"):
                return 200, {"token_type": "Bearer", "access_token": "placeholder-outbound-token",
                             "expires_in": 3600}
        return 404, {"error": "not served by the test proxy"}


def _read_body(sock: socket.socket, rest: bytes, length: int) -> bytes:
    """Drain a request body (bounded) so the client is never reset mid-send."""
    if length > MAX_HEAD:
        raise ValueError("request body too large")
    body = rest
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            break
        body += chunk
    return body


def _read_head(sock: socket.socket, *, with_rest: bool = False) -> Any:
    """Read one HTTP request head (bounded)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ValueError("connection closed before the request head")
        data += chunk
        if len(data) > MAX_HEAD:
            raise ValueError("request head too large")
    raw_head, rest = data.split(b"\r\n\r\n", 1)
    head = raw_head.decode("latin-1").split("\r\n")
    method, target, _version = head[0].split(" ", 2)
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return (method, target, headers, rest) if with_rest else (method, target, headers)
