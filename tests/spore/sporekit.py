"""Helpers for the SPORE tests: a small model, weights bytes, a byte server on 127.0.0.1."""
from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch

from wwm.fungus.model import FungusModel
from wwm.fungus.weights import model_metadata, weights_to_bytes

ITEMS_SHA = "ab" * 32


def small_model(seed: int = 0, n_items: int = 30) -> FungusModel:
    return FungusModel(n_items, dim=8, hidden=16, max_history=5, seed=seed)


def model_bytes(model, items_sha: str = ITEMS_SHA, samples: int = 10, state=None) -> bytes:
    return weights_to_bytes(state if state is not None else model.state_dict(),
                            model_metadata(model, "songs", items_sha, samples=samples))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ByteServer:
    """Serves ``files[path] = bytes`` on 127.0.0.1 and records the request headers."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}})
                body = server.files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def perturbed(state, scale: float, seed: int):
    g = torch.Generator().manual_seed(seed)
    return {k: v + scale * torch.randn(v.shape, generator=g) for k, v in state.items()}
