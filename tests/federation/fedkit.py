"""Helpers for the federation tests: ports, a manual clock, a fake remote server, a test CA.

Everything listens on 127.0.0.1 only and stops by itself.
"""
from __future__ import annotations

import datetime
import ipaddress
import json
import os
import shutil
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from wwm.federation.httpsig import sign_request
from wwm.federation.keys import public_pem

MIND_TOML = """kind = "mind"
name = "fungus"
description = "A test stand-in for the fungus Mind."
author = "tests"
command = "python3 ./mind.py"
"""
WORLD_TOML = """kind = "world"
name = "fungus"
description = "A World with the same name as a Mind."
author = "tests"
command = "python3 ./world.py"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 30.0, proc=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port}")


class ManualClock:
    """A clock the test moves forward by hand."""

    def __init__(self, start: float | None = None):
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_config(tmp_path, test_root, key_cache, **extra) -> dict:
    state = tmp_path / "federation"
    if not (state / "keys").exists():
        shutil.copytree(key_cache, state / "keys")
    config = {
        "TESTING": True,
        "ROOT": str(test_root),
        "RUNS": str(tmp_path / "runs"),
        "FEDERATION_BASE_URL": "http://node.test",
        "FEDERATION_DIR": str(state),
        "ALLOW_PRIVATE_FETCH": True,
        "FEDERATION_RETRY_BASE": 10,
        "FEDERATION_ASK_MIND": lambda ask: None,
    }
    config.update(extra)
    return config


_KEYS: dict[str, object] = {}


def rsa_key(name: str):
    """An RSA-2048 key for ``name``, made once per test session (key generation is slow)."""
    if name not in _KEYS:
        _KEYS[name] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _KEYS[name]


class FakeRemote:
    """Remote actors on 127.0.0.1: ``/users/NAME`` (with an RSA key), ``/users/NAME/inbox`` (records POSTs)."""

    def __init__(self):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.keys: dict[str, object] = {}
        self.docs: dict[str, dict] = {}
        self.received: list[dict] = []
        self.hits: list[str] = []
        self.inbox_status = 202
        self.status_for = None  # ``fn(headers) -> status or None``: answer by what was sent
        self.inbox_headers: dict = {}
        self.redirects: dict[str, str] = {}
        remote = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                remote.hits.append(self.path)
                if self.path in remote.redirects:
                    self.send_response(302)
                    self.send_header("Location", remote.redirects[self.path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                doc = remote.docs.get(self.path)
                body = json.dumps(doc).encode() if doc is not None else b"{}"
                self.send_response(200 if doc is not None else 404)
                self.send_header("Content-Type", "application/activity+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                remote.hits.append(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                remote.received.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                        "body": body, "method": "POST"})
                status = remote.status_for(remote.received[-1]["headers"]) if remote.status_for else None
                self.send_response(status or remote.inbox_status)
                for k, v in remote.inbox_headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def actor_id(self, name: str) -> str:
        return f"{self.base}/users/{name}"

    def key_id(self, name: str) -> str:
        return self.actor_id(name) + "#main-key"

    def add_actor(self, name: str, *, kind: str = "Person", key=None) -> str:
        key = key or self.keys.get(name) or rsa_key(name)
        self.keys[name] = key
        actor = self.actor_id(name)
        self.docs[f"/users/{name}"] = {
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": actor, "type": kind, "preferredUsername": name,
            "inbox": actor + "/inbox", "endpoints": {"sharedInbox": f"{self.base}/inbox"},
            "publicKey": {"id": self.key_id(name), "owner": actor, "publicKeyPem": public_pem(key)},
        }
        return actor

    def signed_post(self, client, path: str, activity, *, name: str, key=None, key_id=None, now=None,
                    algorithm="rsa-sha256", body: bytes | None = None, host="node.test", tamper=None):
        """POST ``activity`` to the node through a Flask test client, signed as ``name``."""
        raw = body if body is not None else json.dumps(activity).encode()
        headers = sign_request("POST", f"http://{host}{path}", key_id=key_id or self.key_id(name),
                               private_key=key or self.keys[name], body=raw, now=now, algorithm=algorithm,
                               headers={"Content-Type": "application/activity+json"})
        if tamper:
            tamper(headers)
        headers.pop("Host", None)
        return client.post(path, data=raw, headers=headers, base_url=f"http://{host}")

    def close(self):
        self.server.shutdown()
        self.server.server_close()



def make_tls_files(folder):
    """(ca.pem, cert.pem, key.pem): a throwaway CA and a server certificate for 127.0.0.1 and localhost."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wwm test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = (folder / "ca.pem", folder / "cert.pem", folder / "key.pem")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    os.chmod(paths[2], 0o600)
    return tuple(str(p) for p in paths)
