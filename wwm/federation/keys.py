"""RSA key pairs of the node's actors: generated on first use, kept on disk, never regenerated.

Each actor has one RSA-2048 key (PKCS#1 v1.5 signatures, as Mastodon uses) in
``KEYS_DIR/NAME.pem``, PKCS#8 PEM, mode 0600.  Creation is race-free between
processes: the key is written to a temporary file and hard-linked into place;
whoever links first wins and everyone loads that file.
"""
from __future__ import annotations

import os
import re
import threading

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["KeyStore", "load_public_key", "public_pem"]

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")


def public_pem(private_key) -> str:
    """The SubjectPublicKeyInfo PEM of ``private_key``'s public half."""
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def load_public_key(pem: str):
    """Parse a public key PEM (SubjectPublicKeyInfo or PKCS#1 ``RSA PUBLIC KEY``).

    Raises:
        ValueError: the text is not a public key PEM.
    """
    if not isinstance(pem, str) or len(pem) > 16384:
        raise ValueError("not a public key PEM")
    try:
        return serialization.load_pem_public_key(pem.strip().encode("ascii", "strict"))
    except Exception as exc:  # UnsupportedAlgorithm, UnicodeError, ...: all mean "no usable key"
        raise ValueError(f"not a usable public key: {type(exc).__name__}") from None


class KeyStore:
    """The private keys of local actors, one PEM file each under ``directory``.

    Args:
        directory: where the keys live (created 0700 if missing).
        bits: RSA modulus size for new keys.
    """

    def __init__(self, directory: str, bits: int = 2048):
        self.directory = directory
        self.bits = bits
        self._cache: dict[str, object] = {}
        self._lock = threading.Lock()

    def _path(self, name: str) -> str:
        if not _NAME_RE.match(name) or ".." in name:
            raise ValueError(f"bad actor name {name!r}")
        return os.path.join(self.directory, name + ".pem")

    def private_key(self, name: str):
        """The private key of actor ``name``, generated and stored the first time."""
        with self._lock:
            key = self._cache.get(name)
            if key is None:
                key = self._cache[name] = self._load_or_create(self._path(name))
            return key

    def public_pem(self, name: str) -> str:
        """The public key PEM of actor ``name``."""
        return public_pem(self.private_key(name))

    def exists(self, name: str) -> bool:
        return os.path.exists(self._path(name))

    def _load_or_create(self, path: str):
        try:
            return self._load(path)
        except FileNotFoundError:
            pass
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=self.bits)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, path)  # atomic, and fails if another process got there first
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
        return self._load(path)

    @staticmethod
    def _load(path: str):
        with open(path, "rb") as f:
            # our own file (0600, written by us): the slow RSA consistency check buys nothing here
            return serialization.load_pem_private_key(f.read(), password=None, unsafe_skip_rsa_key_validation=True)
