"""HTTP Signatures (draft-cavage-12): signing, verifying, and every way a request is refused."""
from __future__ import annotations

import base64
import email.utils
import hashlib
import time

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from wwm.federation.errors import SignatureError, UnsupportedSignature
from wwm.federation.httpsig import (KeyInfo, body_digest, check_digest, parse_signature, prepare_verification,
                                    sign_request, verify_request)
from wwm.federation.keys import public_pem

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KEY_ID = "https://remote.example/users/alice#main-key"
OWNER = "https://remote.example/users/alice"
URL = "https://node.example/ap/actors/fungus/inbox"
BODY = b'{"type":"Follow"}'


def resolver(*keys):
    """resolve_key returning ``keys`` in turn (the last one again), counting calls."""
    calls = []

    def resolve(key_id, refresh):
        calls.append(refresh)
        key = keys[min(len(calls) - 1, len(keys) - 1)]
        return KeyInfo(key_id, OWNER, public_pem(key), key.public_key())

    resolve.calls = calls
    return resolve


def getter(headers):
    lower = {k.lower(): v for k, v in headers.items()}
    return lower.get


def verify(headers, *, method="POST", target="/ap/actors/fungus/inbox", body=BODY, keys=(KEY,), now=None):
    return verify_request(method, target, getter(headers), body, resolve_key=resolver(*keys),
                          now=time.time() if now is None else now)


def test_sign_then_verify_post():
    headers = sign_request("POST", URL, key_id=KEY_ID, private_key=KEY, body=BODY)
    assert headers["Host"] == "node.example"
    assert headers["Digest"] == "SHA-256=" + base64.b64encode(hashlib.sha256(BODY).digest()).decode()
    sig = parse_signature(headers["Signature"])
    assert sig.headers == ("(request-target)", "host", "date", "digest")
    assert sig.algorithm == "rsa-sha256"
    assert verify(headers).key.owner == OWNER


def test_sign_then_verify_get_with_query():
    headers = sign_request("GET", "https://node.example/ap/actors/fungus/outbox?page=2", key_id=KEY_ID,
                           private_key=KEY)
    assert "Digest" not in headers
    assert verify(headers, method="GET", target="/ap/actors/fungus/outbox?page=2", body=b"")
    with pytest.raises(SignatureError):
        verify(headers, method="GET", target="/ap/actors/fungus/outbox?page=3", body=b"")


def _hand_signed(names, values, *, algorithm, sign):
    """A signature built by hand from the spec, not by sign_request (a known-answer check)."""
    text = "\n".join(f"{n}: {values[n]}" for n in names)
    raw = base64.b64encode(sign(text.encode())).decode()
    return f'keyId="{KEY_ID}",algorithm="{algorithm}",headers="{" ".join(names)}",signature="{raw}"'


def test_hs2019_rsa_pkcs1_and_pss_and_ed25519_verify():
    date = email.utils.formatdate(usegmt=True)
    values = {"(request-target)": "post /ap/actors/fungus/inbox", "host": "node.example", "date": date,
              "digest": body_digest(BODY)}
    names = ["(request-target)", "host", "date", "digest"]
    base = {"Host": "node.example", "Date": date, "Digest": body_digest(BODY)}
    pkcs1 = _hand_signed(names, values, algorithm="hs2019",
                         sign=lambda d: KEY.sign(d, padding.PKCS1v15(), hashes.SHA256()))
    assert verify({**base, "Signature": pkcs1})
    pss = _hand_signed(names, values, algorithm="hs2019", sign=lambda d: KEY.sign(
        d, padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64), hashes.SHA512()))
    assert verify({**base, "Signature": pss})
    ed_key = ed25519.Ed25519PrivateKey.generate()
    ed = _hand_signed(names, values, algorithm="hs2019", sign=ed_key.sign)
    assert verify({**base, "Signature": ed}, keys=(ed_key,))
    # rsa-sha256 means PKCS#1 v1.5 only
    with pytest.raises(SignatureError):
        verify({**base, "Signature": pss.replace('algorithm="hs2019"', 'algorithm="rsa-sha256"')})


def test_signing_string_uses_headers_as_sent_in_their_order():
    date = email.utils.formatdate(usegmt=True)
    names = ["date", "digest", "host", "(request-target)", "content-type"]
    values = {"(request-target)": "post /ap/actors/fungus/inbox", "host": "node.example", "date": date,
              "digest": body_digest(BODY), "content-type": "application/activity+json"}
    sig = _hand_signed(names, values, algorithm="rsa-sha256",
                       sign=lambda d: KEY.sign(d, padding.PKCS1v15(), hashes.SHA256()))
    headers = {"Host": "node.example", "Date": date, "Digest": body_digest(BODY),
               "Content-Type": "application/activity+json", "Signature": sig}
    assert verify(headers)
    headers["Content-Type"] = "application/json"  # a signed header changed on the way
    with pytest.raises(SignatureError):
        verify(headers)


def test_forged_signature_refused():
    headers = sign_request("POST", URL, key_id=KEY_ID, private_key=OTHER, body=BODY)
    with pytest.raises(SignatureError, match="does not verify"):
        verify(headers)


def test_key_refetched_once_on_failure():
    headers = sign_request("POST", URL, key_id=KEY_ID, private_key=KEY, body=BODY)
    resolve = resolver(OTHER, KEY)  # cached key is stale, the refetch gives the rotated one
    assert verify_request("POST", "/ap/actors/fungus/inbox", getter(headers), BODY, resolve_key=resolve,
                          now=time.time())
    assert resolve.calls == [False, True]
    resolve = resolver(OTHER, OTHER)
    with pytest.raises(SignatureError):
        verify_request("POST", "/ap/actors/fungus/inbox", getter(headers), BODY, resolve_key=resolve,
                       now=time.time())
    assert resolve.calls == [False, True]  # once, not in a loop


def test_expired_and_future_dates_refused():
    old = sign_request("POST", URL, key_id=KEY_ID, private_key=KEY, body=BODY, now=time.time() - 3 * 3600)
    with pytest.raises(SignatureError, match="Date"):
        verify(old)
    future = sign_request("POST", URL, key_id=KEY_ID, private_key=KEY, body=BODY, now=time.time() + 3 * 3600)
    with pytest.raises(SignatureError, match="Date"):
        verify(future)
    slightly = sign_request("POST", URL, key_id=KEY_ID, private_key=KEY, body=BODY, now=time.time() - 600)
    assert verify(slightly)


def test_expires_parameter_honoured():
    headers = sign_request("POST", URL, key_id=KEY_ID, private_key=KEY, body=BODY)
    headers["Signature"] += f",expires={int(time.time()) - 5}"
    with pytest.raises(SignatureError, match="expired"):
        verify(headers)


def test_digest_mismatch_refused_before_anything_else():
    headers = sign_request("POST", URL, key_id=KEY_ID, private_key=KEY, body=BODY)
    resolve = resolver(KEY)
    with pytest.raises(SignatureError, match="Digest"):
        verify_request("POST", "/ap/actors/fungus/inbox", getter(headers), BODY + b" ", resolve_key=resolve,
                       now=time.time())
    assert resolve.calls == []  # no key was fetched for it


def test_check_digest_forms():
    check_digest(body_digest(BODY), BODY)
    check_digest("sha-512=" + base64.b64encode(hashlib.sha512(BODY).digest()).decode(), BODY)
    with pytest.raises(SignatureError):
        check_digest("MD5=abc", BODY)
    with pytest.raises(SignatureError):
        check_digest(None, BODY)
    with pytest.raises(SignatureError):
        check_digest(body_digest(BODY) + ",SHA-512=AAAA", BODY)  # every listed digest must match


@pytest.mark.parametrize("names,method,message", [
    (["(request-target)", "host", "digest"], "POST", "Date"),
    (["host", "date"], "POST", "request-target"),
    (["(request-target)", "host", "date"], "POST", "Digest header must be signed"),
    (["(request-target)", "date"], "GET", "Host"),
])
def test_required_headers(names, method, message):
    date = email.utils.formatdate(usegmt=True)
    values = {"(request-target)": f"{method.lower()} /ap/actors/fungus/inbox", "host": "node.example",
              "date": date, "digest": body_digest(BODY)}
    sig = _hand_signed(names, values, algorithm="rsa-sha256",
                       sign=lambda d: KEY.sign(d, padding.PKCS1v15(), hashes.SHA256()))
    headers = {"Host": "node.example", "Date": date, "Digest": body_digest(BODY), "Signature": sig}
    with pytest.raises(SignatureError, match=message):
        verify(headers, method=method, body=BODY if method == "POST" else b"")


def test_malformed_rfc9421_and_unknown_algorithms_refused():
    headers = sign_request("POST", URL, key_id=KEY_ID, private_key=KEY, body=BODY)
    with pytest.raises(SignatureError):
        verify({**headers, "Signature-Input": 'sig1=("@method");keyid="x"'})
    with pytest.raises(SignatureError):
        verify({**headers, "Signature": "sig1=:" + base64.b64encode(b"x" * 64).decode() + ":"})
    with pytest.raises(UnsupportedSignature):
        verify({**headers, "Signature": headers["Signature"].replace("rsa-sha256", "hmac-sha256")})


def test_unsigned_and_malformed_refused():
    with pytest.raises(SignatureError, match="not signed"):
        verify({"Host": "node.example", "Date": email.utils.formatdate(usegmt=True)})
    for bad in ('keyId="x"', 'keyId="x",signature="***"', 'garbage', 'keyId="a",keyId="b",signature="AA=="'):
        with pytest.raises(SignatureError):
            parse_signature(bad)


def test_small_rsa_keys_refused():
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    headers = sign_request("POST", URL, key_id=KEY_ID, private_key=small, body=BODY)
    with pytest.raises(SignatureError):
        verify(headers, keys=(small,))


def test_prepare_checks_without_a_key():
    headers = sign_request("POST", URL, key_id=KEY_ID, private_key=KEY, body=BODY)
    pending = prepare_verification("POST", "/ap/actors/fungus/inbox", getter(headers), BODY, now=time.time())
    assert pending.signing_string.startswith("(request-target): post /ap/actors/fungus/inbox\nhost: node.example\n")
