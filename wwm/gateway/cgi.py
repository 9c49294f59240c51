"""The CGI adapter: runs the WSGI App once per request, from the environment and stdin."""
from __future__ import annotations

import os
import sys

from wwm.gateway.app import App
from wwm.gateway.queries import Gateway
from wwm.protocol.manifest import list_servers


def default_paths() -> tuple[str, str]:
    """``(root, runs)`` from WWM_ROOT and WWM_RUNS, else next to this file."""
    here = os.path.dirname(os.path.abspath(__file__))
    if os.path.isfile(here):  # the compiled variant: __file__ is inside the archive (wwm.pyz, or named wwm.py)
        here = os.path.dirname(here)
    root = os.environ.get("WWM_ROOT") or here
    runs = os.environ.get("WWM_RUNS") or os.path.join(here, "wwm-runs")
    return root, runs


class _Input:
    """stdin for the app; whatever the app leaves unread is drained afterwards
    (bounded): a server that streams the body (Apache) drops our answer otherwise."""

    def __init__(self, stream, length: int):
        self.stream, self.left = stream, length

    def read(self, n: int) -> bytes:
        data = self.stream.read(min(n, self.left)) if self.left > 0 else b""
        self.left -= len(data)
        return data

    def drain(self) -> None:
        self.left = min(self.left, 64 << 20)
        while self.left > 0 and self.read(1 << 20):
            pass


def compile_to(dest: str) -> None:
    """Write this file's bytecode as an executable zip archive (``wwm.pyz``).

    A web server runs a CGI script from source, so Python compiles this whole
    file on every request; the archive holds it compiled once, by the very
    interpreter that will run it (compile on the server: bytecode is tied to
    the Python version).  Same code, same behaviour, less start-up.
    """
    import marshal
    import zipfile
    from importlib.util import MAGIC_NUMBER

    with open(__file__, "rb") as f:
        code = compile(f.read(), "wwm.py", "exec", dont_inherit=True, optimize=0)
    pyc = MAGIC_NUMBER + (0b11).to_bytes(4, "little") + bytes(8) + marshal.dumps(code)  # unchecked hash pyc
    tmp = f"{dest}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(f"#!{sys.executable or '/usr/bin/python3'}\n".encode())
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as z:
            z.writestr("__main__.pyc", pyc)
    os.chmod(tmp, 0o755)
    os.replace(tmp, dest)


def main(argv: list[str] | None = None) -> int:
    """CGI entry point; ``--check`` prints the configuration instead."""
    argv = sys.argv[1:] if argv is None else argv
    root, runs = default_paths()
    if argv[:1] == ["--compile"]:
        dest = argv[1] if len(argv) > 1 else os.path.splitext(os.path.abspath(__file__))[0] + ".pyz"
        compile_to(dest)
        print(f"wrote {dest}", file=sys.stderr)
        return 0
    if argv[:1] == ["--check"]:
        print(f"root: {root}\nruns: {runs}")
        for s in list_servers(root):
            print(f"  {s.kind:7} {s.name}")
        return 0
    if "GATEWAY_INTERFACE" not in os.environ:
        print("wwm.py is a CGI gateway; run it under a web server, or with --check", file=sys.stderr)
        return 2
    environ = dict(os.environ)
    try:
        length = max(int(environ.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        length = 0
    environ["wsgi.input"] = stdin = _Input(sys.stdin.buffer, length)
    sent = []

    def start_response(status, headers):
        sent.append("".join([f"Status: {status}\r\n"] + [f"{k}: {v}\r\n" for k, v in headers]) + "\r\n")

    try:
        body = b"".join(App(Gateway(root, runs))(environ, start_response))
    except Exception:  # handle() catches everything; this is the last guard
        sent[:] = ["Status: 500 Internal Server Error\r\nContent-Type: text/plain\r\n\r\n"]
        body = b"internal error\n"
    stdin.drain()
    out = sys.stdout.buffer
    out.write(sent[-1].encode("latin-1", "replace") + body)
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
