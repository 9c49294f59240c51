"""The SSRF guard and the caps of outgoing requests.

Connections to anything but 127.0.0.1 are made impossible in these tests (``socket.connect``
is patched to fail loudly), so a guard that let a private address through would fail the
test without sending a single packet there.
"""
from __future__ import annotations

import socket

import pytest

from wwm.federation import fetch as fetch_module
from wwm.federation.errors import FetchError, ForbiddenAddress
from wwm.federation.fetch import SafeHTTP, check_address

_real_connect = socket.socket.connect


@pytest.fixture
def loopback_only(monkeypatch):
    """Any connection attempt to an address other than 127.0.0.1 fails the test."""
    attempts = []

    def connect(self, address):
        attempts.append(address)
        if address[0] != "127.0.0.1":
            raise AssertionError(f"a connection to {address} was attempted")
        return _real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
                                     "0.0.0.0", "100.64.0.1", "224.0.0.1", "255.255.255.255", "::1",
                                     "::ffff:127.0.0.1", "fe80::1", "fc00::1", "::"])
def test_internal_addresses_refused(address):
    with pytest.raises(ForbiddenAddress):
        check_address(address)
    check_address(address, allow_private=True)


def test_public_addresses_pass():
    check_address("93.184.216.34")
    check_address("2606:4700:4700::1111")


@pytest.mark.parametrize("url", ["https://127.0.0.1/actor", "https://10.0.0.7/actor", "https://169.254.169.254/latest",
                                 "https://[::1]/actor", "https://[::ffff:10.0.0.1]/x", "https://localhost/actor",
                                 "https://2130706433/actor", "https://0x7f.1/actor"])
def test_fetch_refuses_internal_targets_without_connecting(url, loopback_only):
    http = SafeHTTP()
    with pytest.raises(ForbiddenAddress):
        http.get_json(url)
    assert loopback_only == []


def test_loopback_server_not_reached_without_the_test_setting(remote, loopback_only):
    remote.add_actor("bob")
    http = SafeHTTP(allow_http=True)
    with pytest.raises(ForbiddenAddress):
        http.get_json(remote.actor_id("bob"))
    assert remote.hits == [] and loopback_only == []
    allowed = SafeHTTP(allow_http=True, allow_private=True)
    assert allowed.get_json(remote.actor_id("bob"))["id"] == remote.actor_id("bob")


def test_name_resolving_to_private_address_refused(monkeypatch, loopback_only):
    def fake_getaddrinfo(host, port, *args, **kwargs):
        addresses = {"evil.example": ["93.184.216.34", "10.0.0.5"], "inner.example": ["169.254.169.254"]}[host]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    monkeypatch.setattr(fetch_module.socket, "getaddrinfo", fake_getaddrinfo)
    http = SafeHTTP()
    for url in ("https://evil.example/actor", "https://inner.example/actor"):
        with pytest.raises(ForbiddenAddress):
            http.get_json(url)
    assert loopback_only == []


def test_redirect_to_private_address_refused(remote, monkeypatch, loopback_only):
    """A (pretend-public) server redirects to 10.x and to 169.254.x: refused, never connected."""
    real_check = fetch_module.check_address

    def check(address, allow_private=False):
        if address == "127.0.0.1":  # pretend the fake remote is a public server
            return
        real_check(address, allow_private)

    monkeypatch.setattr(fetch_module, "check_address", check)
    remote.redirects["/a"] = "http://10.0.0.1/actor"
    remote.redirects["/b"] = "http://169.254.169.254/latest/meta-data"
    http = SafeHTTP(allow_http=True)
    for path in ("/a", "/b"):
        with pytest.raises(ForbiddenAddress):
            http.get_json(remote.base + path)
    assert all(a[0] == "127.0.0.1" for a in loopback_only)


def test_schemes_and_credentials_refused():
    http = SafeHTTP(allow_private=True)
    for url in ("http://127.0.0.1/x", "file:///etc/passwd", "ftp://example.com/x", "gopher://x/",
                "https://user:pw@example.com/x", "/relative"):
        with pytest.raises(ForbiddenAddress):
            http.check_url(url)


def test_response_size_cap(remote):
    remote.docs["/big"] = {"id": "x", "padding": "x" * 50000}
    http = SafeHTTP(allow_http=True, allow_private=True, max_bytes=10000)
    with pytest.raises(FetchError, match="too large"):
        http.get_json(remote.base + "/big")


def test_non_json_and_errors(remote):
    http = SafeHTTP(allow_http=True, allow_private=True)
    with pytest.raises(FetchError, match="404"):
        http.get_json(remote.base + "/missing")
