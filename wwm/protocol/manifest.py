"""Server folders and their manifests (``wwm.toml``): what a Mind or World is and its limits."""
from __future__ import annotations

import json
import os
import re

from wwm.protocol.errors import GatewayError, NotFound

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
KINDS = ("mind", "world", "society")
DEFAULT_LIMITS = {
    "step_timeout": 10.0,   # seconds Program 1 may take to answer one message
    "start_timeout": 30.0,  # seconds for a World's first state (models load slowly)
    "max_payload": 65536,   # bytes per state or action
    "max_log": 10 << 20,    # bytes of log before the run is ended
    "max_runs": 64,         # concurrent runs of this server
    "max_runs_per_client": 16,  # of those, held by one client address (429 beyond)
    "idle": 600.0,          # seconds without a query before a run is reaped
    "grace": 2.0,           # seconds between `stop` and SIGTERM (and SIGTERM and SIGKILL)
    # resource limits of Program 1 and its children (0: none)
    "cpu_seconds": 3600,    # CPU time of one process
    "memory_mb": 16384,     # address space (virtual: a torch Program 1 reserves several GiB)
    "open_files": 1024,
    "processes": 4096,      # processes of the user Program 1 runs as (a fork bomb stops here)
}


class Server:
    """One server folder: a Mind, World or society with its manifest."""

    __slots__ = ("name", "kind", "path", "manifest", "limits")

    def __init__(self, name: str, kind: str, path: str, manifest: dict, limits: dict):
        self.name, self.kind, self.path, self.manifest, self.limits = name, kind, path, manifest, limits

    def __repr__(self) -> str:
        return f"<Server {self.kind} {self.path}>"

    @property
    def folder(self) -> str:
        """``minds`` or ``worlds``: the folder the server lives in."""
        return os.path.basename(os.path.dirname(self.path))

    @property
    def id(self) -> str:
        """``worlds/NAME`` or ``minds/NAME``: unique even where a Mind and a World share a name."""
        return f"{self.folder}/{self.name}"

    @property
    def role(self) -> str:
        """``world`` or ``mind``: a society answers as a Mind."""
        return "world" if self.kind == "world" else "mind"

    @property
    def params(self) -> dict:
        """The run parameters a client may set at StartRun (``[params]``: name = default)."""
        table = self.manifest.get("params") or {}
        return {k: v for k, v in table.items() if isinstance(v, (str, int, float, bool)) and NAME_RE.match(k)}

    @property
    def shared(self) -> bool:
        return self.manifest.get("instances", "per-run") == "shared"


def _load_toml(path: str, cache: str | None = None) -> dict:
    """A manifest, parsed; with ``cache`` (a folder) kept as JSON beside the runs.

    Importing tomllib costs a CGI request about 5 ms; the JSON copy is used
    while the manifest's size and mtime are unchanged.
    """
    st = os.stat(path)
    stamp = [st.st_mtime_ns, st.st_size]
    copy = os.path.join(cache, os.path.abspath(path).replace(os.sep, "%") + ".json") if cache else None
    if copy:
        try:
            with open(copy, encoding="utf-8") as f:
                saved = json.load(f)
            if saved.get("stamp") == stamp:
                return saved["manifest"]
        except (OSError, ValueError):
            pass
    import tomllib  # deferred: only needed when a manifest is read

    with open(path, "rb") as f:
        manifest = tomllib.load(f)
    if copy:
        try:
            os.makedirs(cache, exist_ok=True)
            with open(f"{copy}.{os.getpid()}.tmp", "w", encoding="utf-8") as f:
                json.dump({"stamp": stamp, "manifest": manifest}, f)
            os.rename(f"{copy}.{os.getpid()}.tmp", copy)
        except (OSError, TypeError, ValueError):
            pass  # a manifest with values JSON cannot hold is simply not cached
    return manifest


def load_server(path: str, cache: str | None = None) -> Server:
    """Read and check the manifest of the server folder at ``path``."""
    name = os.path.basename(os.path.normpath(path))
    try:
        manifest = _load_toml(os.path.join(path, "wwm.toml"), cache)
    except FileNotFoundError:
        raise NotFound(f"no server folder with a wwm.toml at {name!r}") from None
    except Exception as exc:  # a broken manifest is the admin's error, say which
        raise GatewayError(f"server {name!r}: wwm.toml is invalid: {exc}") from None
    kind = manifest.get("kind")
    if kind not in KINDS:
        raise GatewayError(f"server {name!r}: kind must be one of {', '.join(KINDS)}")
    if manifest.get("name", name) != name:
        raise GatewayError(f"server {name!r}: manifest name {manifest.get('name')!r} differs from its folder")
    if not isinstance(manifest.get("command"), str) or not manifest["command"].strip():
        raise GatewayError(f"server {name!r}: wwm.toml needs a command")
    limits = dict(DEFAULT_LIMITS)
    for key, value in (manifest.get("limits") or {}).items():
        if key in limits and isinstance(value, (int, float)) and value > 0:
            limits[key] = type(limits[key])(value)
    return Server(name, kind, os.path.abspath(path), manifest, limits)


SERVER_FOLDERS = ("worlds", "minds")


def find_server(root: str, name: str, cache: str | None = None) -> Server:
    """The server ``name``: ``worlds/NAME``, ``minds/NAME``, or a bare NAME
    that only one of the two folders holds."""
    folder, _, bare = (name or "").rpartition("/")
    if folder and folder not in SERVER_FOLDERS or not NAME_RE.match(bare) or ".." in bare:
        raise NotFound(f"no server named {name[:80]!r}")
    found = [os.path.join(root, sub, bare) for sub in ([folder] if folder else SERVER_FOLDERS)
             if os.path.isfile(os.path.join(root, sub, bare, "wwm.toml"))]
    if not found:
        raise NotFound(f"no server named {name!r}")
    if len(found) > 1:
        raise NotFound(f"{bare!r} names both a World and a Mind: say worlds/{bare} or minds/{bare}")
    return load_server(found[0], cache)


def list_servers(root: str) -> list[Server]:
    """Every server installed under ``root``, worlds then minds, by name."""
    servers = []
    for sub in SERVER_FOLDERS:
        folder = os.path.join(root, sub)
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            if NAME_RE.match(name) and os.path.isfile(os.path.join(folder, name, "wwm.toml")):
                try:
                    servers.append(load_server(os.path.join(folder, name)))
                except GatewayError:
                    continue  # a broken manifest hides its server from the index only
    return servers


# ---------------------------------------------------------------------------
# files
