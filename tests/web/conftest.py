"""Fixtures of the web UI tests (headless Chromium, a real wwm node); the helpers
live in webkit.py, importable by that unique name (every test folder has a conftest)."""
from webkit import browser, node, page, pytest_configure  # noqa: F401
