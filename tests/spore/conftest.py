"""Fixtures for the SPORE tests."""
from __future__ import annotations

import pytest

pytest.importorskip("torch")

from sporekit import ByteServer  # noqa: E402


@pytest.fixture
def byte_server():
    server = ByteServer()
    yield server
    server.close()
