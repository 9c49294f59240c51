#!/usr/bin/env python3
"""wwm stock gateway: puts any Program 1 on the web (standard library only).

Drop this one file into a web server's cgi-bin/ and set WWM_ROOT (a folder
holding minds/ and worlds/) and WWM_RUNS (a folder the web server may write).
`python3 wwm.py --check` prints what it sees.  See docs/gateway.md.

GENERATED from the wwm package (wwm/protocol, wwm/gateway) by
`python3 -m wwm.gateway.amalgamate`; edit those modules, not this file.
"""
from __future__ import annotations

import _thread
import errno
import fcntl
import json
import os
import re
import sys
import time


# ---------------------------------------------------------------------------
# wwm/protocol/errors.py: One exception tree for wwm; each gateway error carries its HTTP status.
# ---------------------------------------------------------------------------

class WWMError(Exception):
    """Base of every wwm error."""


class GatewayError(WWMError):
    """A query could not be answered; ``code`` is the HTTP status to send."""

    code = 500

    def __init__(self, message: str, *, run: str | None = None, log: str | None = None):
        if log:
            message = f"{message} (see log {log})"
        super().__init__(message)
        self.message = message
        self.run = run


class BadRequest(GatewayError):
    """The request itself is malformed: missing or invalid parameters, bad XML."""
    code = 400


class NotFound(GatewayError):
    """No such server, or no such run."""
    code = 404


class MethodNotAllowed(GatewayError):
    """Only GET and POST are served."""
    code = 405


class Conflict(GatewayError):
    """The query is out of sequence for the run (strict alternation)."""
    code = 409


class TooLarge(GatewayError):
    """The request body or a payload is over its size limit."""
    code = 413


class TooManyRuns(GatewayError):
    """The server or the gateway is at its limit of concurrent runs."""
    code = 503
    retry_after = 30


class TooManyRequests(GatewayError):
    """This client already holds its share of the runs (``max_runs_per_client``)."""
    code = 429
    retry_after = 30


class InsufficientStorage(GatewayError):
    """The gateway's disk (RUNS) is full: nothing new can be written."""
    code = 507
    retry_after = 60


class ProtocolError(GatewayError):
    """Program 1 crashed, wrote garbage, wrote non-atomically or flooded its log."""
    code = 502


class ProgramTimeout(GatewayError):
    """Program 1 did not answer within its step timeout."""
    code = 504


class ClientError(WWMError):
    """Talking to a gateway failed (not an answer from it)."""

    def __init__(self, message: str, *, url: str | None = None):
        super().__init__(f"{message} ({url})" if url else message)
        self.url = url


class ConnectionFailed(ClientError):
    """The gateway could not be reached, or dropped the connection."""


class BadResponse(ClientError):
    """The gateway answered something that is not a wwm response."""


_BY_CODE = {cls.code: cls for cls in (BadRequest, NotFound, MethodNotAllowed, Conflict, TooLarge,
                                      TooManyRequests, TooManyRuns, InsufficientStorage, ProtocolError,
                                      ProgramTimeout)}


def error_for_code(code: int, message: str, run: str | None = None) -> GatewayError:
    """The GatewayError subclass a remote gateway meant by ``code``."""
    cls = _BY_CODE.get(code, GatewayError)
    exc = cls(message, run=run)
    if cls is GatewayError:
        exc.code = code
    return exc


# ---------------------------------------------------------------------------
# wwm/protocol/manifest.py: Server folders and their manifests (``wwm.toml``): what a Mind or World is and its limits.
# ---------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------
# wwm/protocol/files.py: The file protocol's I/O: atomic writes, consume-on-read, and waiting for a file
# ---------------------------------------------------------------------------

MESSAGE_FILES = ("state", "action")


def write_atomic(path: str, data: bytes | str) -> None:
    """Write ``path`` so that a reader never sees half of it (tmp + rename).

    An existing ``path`` is unlinked first: on ext4 a rename over an existing
    file forces its data out to disk (auto_da_alloc), three times the cost.
    A reader may briefly find no file, never half of one.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        while data:
            data = data[os.write(fd, data):]
    except BaseException:
        os.close(fd)
        unlink_quiet(tmp)  # a full disk leaves no half file behind
        raise
    os.close(fd)
    unlink_quiet(path)
    os.rename(tmp, path)


def consume(path: str, limit: int) -> bytes | None:
    """Read and delete a message file; ``None`` when there is none.

    Raises ProtocolError when the file is larger than ``limit`` bytes (it is
    deleted all the same, so a flood cannot wedge the run).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        data = os.read(fd, limit + 1)
        while len(data) <= limit:
            more = os.read(fd, limit + 1 - len(data))
            if not more:
                break
            data += more
    finally:
        os.close(fd)
        unlink_quiet(path)
    if len(data) > limit:
        raise ProtocolError(f"{os.path.basename(path)} is larger than {limit} bytes")
    return data


def read_small(path: str, limit: int = 65536) -> str | None:
    """Read a file that is replaced, not consumed (``score``, ``done``)."""
    try:
        with open(path, "rb") as f:
            return f.read(limit).decode("utf-8", "replace")
    except FileNotFoundError:
        return None


def read_json(path: str) -> dict:
    """A small JSON file of ours; ``{}`` when missing or torn."""
    import json

    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (FileNotFoundError, ValueError):
        return {}


def unlink_quiet(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class Inotify:
    """A thin inotify binding (ctypes, Linux): one instance, many watches.

    Far cheaper than a general file-watching library: one fd, raw events.
    An instance is meant to live long: closing one waits for the kernel's
    RCU grace period (milliseconds on a busy machine), so each thread keeps
    one (``thread_inotify``) and adds and removes watches on it.
    """

    IN_MOVED_TO = 0x080
    IN_CREATE = 0x100
    _libc = None

    def __init__(self):
        import ctypes  # deferred: costs milliseconds at start-up

        if Inotify._libc is None:
            Inotify._libc = ctypes.CDLL(None, use_errno=True)
        self._errno = ctypes.get_errno
        self.watches: dict[int, list] = {}  # wd -> the Watch objects on it
        self.fd = Inotify._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(self._errno(), "inotify_init1 failed")

    def fileno(self) -> int:
        return self.fd

    def add(self, directory: str, mask: int) -> int:
        wd = Inotify._libc.inotify_add_watch(self.fd, os.fsencode(directory), mask)
        if wd < 0:
            raise OSError(self._errno(), f"inotify_add_watch failed on {directory}")
        return wd

    def pump(self) -> None:
        """Read pending events; give each Watch the names renamed into its folder."""
        while True:
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            i = 0
            while i + 16 <= len(buf):
                wd = int.from_bytes(buf[i:i + 4], "little", signed=True)
                size = int.from_bytes(buf[i + 12:i + 16], "little")
                name = buf[i + 16:i + 16 + size].rstrip(b"\0").decode("utf-8", "replace")
                for w in self.watches.get(wd, ()):
                    w.renamed.add(name)
                i += 16 + size

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class Watch:
    """One folder watched on an Inotify instance, until ``close()``.

    ``renamed`` collects the names renamed (or, with IN_CREATE, created)
    into the folder since the watch began.  By default only renames are
    watched: every message arrives that way, and writing ``NAME.tmp`` then
    wakes nobody.
    """

    def __init__(self, inotify: Inotify, directory: str, mask: int = Inotify.IN_MOVED_TO):
        self.inotify = inotify
        self.wd = inotify.add(directory, mask)
        self.renamed: set[str] = set()
        inotify.pump()  # events from before this watch belong to nobody
        inotify.watches.setdefault(self.wd, []).append(self)

    def fileno(self) -> int:
        return self.inotify.fd

    def close(self) -> None:
        users = self.inotify.watches.get(self.wd, [])
        if self in users:
            users.remove(self)
            if not users:
                del self.inotify.watches[self.wd]
                Inotify._libc.inotify_rm_watch(self.inotify.fd, self.wd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_local = _thread._local()  # per thread: its long-lived inotify instance (_thread: no import cost)


def new_inotify() -> Inotify | None:
    """A new inotify instance, or None where there is none (or WWM_POLL=1 asks to poll)."""
    if os.environ.get("WWM_POLL") or not sys.platform.startswith("linux"):
        return None
    try:
        return Inotify()
    except (OSError, AttributeError):
        return None  # e.g. fs.inotify.max_user_instances reached: poll instead


def open_watch(directory: str, mask: int = Inotify.IN_MOVED_TO) -> Watch | None:
    """Watch ``directory`` on this thread's long-lived instance; None means poll."""
    inotify = getattr(_local, "inotify", None)
    if inotify is None:
        inotify = _local.inotify = new_inotify() or False
    if not inotify:
        return None
    try:
        return Watch(inotify, directory, mask)
    except OSError:
        return None


def wait_for(directory: str, names: tuple[str, ...], timeout: float, check=None,
             watch: Watch | None = None, strict: bool = False) -> str | None:
    """Wait until one of ``names`` exists in ``directory``; return it.

    Uses inotify where it can (``watch``, opened on ``directory`` before the
    message being answered was sent, or a new one) and polling otherwise.
    ``check()`` is called about every 50 ms and may raise (when Program 1 has
    died, say).  ``strict``: the watch was opened before the message being
    answered was sent, so an answer that appears without being renamed into
    place was written in place, a non-atomic write: ProtocolError.  Returns
    None when ``timeout`` runs out.
    """
    import select  # deferred: a query that finds its answer waiting never needs it

    deadline = time.monotonic() + timeout
    own = watch is None
    if own:
        watch = open_watch(directory)
    try:
        next_check = time.monotonic() + 0.05
        delay = 0.0002
        while True:
            for name in names:
                if os.path.exists(os.path.join(directory, name)):
                    if strict and watch is not None and name in MESSAGE_FILES:
                        watch.inotify.pump()
                        if name not in watch.renamed:
                            # rename() makes the name visible a moment before it queues
                            # the event: give the event that moment before judging.
                            select.select([watch], [], [], 0.05)
                            watch.inotify.pump()
                        if name not in watch.renamed:
                            raise ProtocolError(
                                f"Program 1 wrote {name!r} in place; write {name}.tmp and rename it")
                    return name
            now = time.monotonic()
            if now >= next_check:
                if check:
                    check()
                next_check = now + 0.05
            if now >= deadline:
                return None
            pause = min(deadline - now, next_check - now)
            if watch is None:
                time.sleep(min(pause, delay))
                delay = min(delay * 2, 0.005)
            elif select.select([watch], [], [], max(pause, 0))[0]:
                watch.inotify.pump()
    finally:
        if own and watch is not None:
            watch.close()


# ---------------------------------------------------------------------------
# processes
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# wwm/protocol/xmlsafe.py: Parse untrusted XML with the standard library's expat, refusing while parsing.
# ---------------------------------------------------------------------------

MAX_XML_DEPTH = 64
MAX_XML_ELEMENTS = 50_000
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class _Refused(Exception):
    """Raised inside expat's callbacks; carries the reason out of Parse()."""


def parse_xml(data: bytes | str, what: str = "XML"):
    """Parse ``data`` into an ElementTree Element; raise BadRequest with a readable reason."""
    return parse_with_spans(data, what)[0]


def parse_with_spans(data: bytes | str, what: str = "XML", spans: tuple = (), span_depth: int = 0):
    """``(root, {id(elem): (start, end)})``: the tree, and for each element with
    a tag in ``spans`` at ``span_depth`` (the root is depth 1) the byte offsets
    of its content in ``data`` (``(None, None)`` when it has none)."""
    from xml.etree import ElementTree as ET  # deferred: a cached state needs no parsing
    from xml.parsers import expat

    raw = data.encode("utf-8") if isinstance(data, str) else data
    if raw[:2] in _UTF16_BOMS:
        raise BadRequest(f"{what} must be UTF-8")
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    builder = ET.TreeBuilder()
    state = {"depth": 0, "count": 0}
    found: dict = {}      # id(elem) -> [start, end]
    opening: list = []    # spans waiting for their content's first byte
    stack: list = []

    def refuse_dtd(*_):
        raise _Refused(f"{what}: DTDs and entity declarations are not allowed")

    def xml_decl(version, encoding, standalone):
        if encoding and encoding.lower().replace("_", "-") not in ("utf-8", "utf8", "us-ascii", "ascii"):
            raise _Refused(f"{what} must be UTF-8, not {encoding}")

    def mark():
        if opening:
            found[id(opening.pop())][0] = parser.CurrentByteIndex

    def start(tag, attrs):
        mark()
        state["depth"] += 1
        state["count"] += 1
        if state["depth"] > MAX_XML_DEPTH:
            raise _Refused(f"{what}: nested deeper than {MAX_XML_DEPTH} elements")
        if state["count"] > MAX_XML_ELEMENTS:
            raise _Refused(f"{what}: more than {MAX_XML_ELEMENTS} elements")
        elem = builder.start(tag, attrs)
        stack.append(elem)
        if state["depth"] == span_depth and tag in spans:
            found[id(elem)] = [None, None]
            opening.append(elem)

    def end(tag):
        elem = stack.pop()
        if id(elem) in found:
            if opening and opening[-1] is elem:  # no content at all
                opening.pop()
            else:
                found[id(elem)][1] = parser.CurrentByteIndex
        state["depth"] -= 1
        builder.end(tag)

    def data_(text):
        mark()
        builder.data(text)

    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    parser.XmlDeclHandler = xml_decl
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = data_
    parser.CommentHandler = lambda _text: mark()
    parser.ProcessingInstructionHandler = lambda _t, _d: mark()
    parser.StartCdataSectionHandler = mark
    try:
        parser.Parse(raw, True)
    except _Refused as exc:
        raise BadRequest(str(exc)) from None
    except expat.ExpatError as exc:
        raise BadRequest(f"{what} is not well-formed: {expat.ErrorString(exc.code)}: "
                         f"line {exc.lineno}, column {exc.offset}") from None
    root = builder.close() if state["count"] else None
    if root is None:
        raise BadRequest(f"{what} has no element")
    return root, {k: tuple(v) for k, v in found.items()}


# ---------------------------------------------------------------------------
# wwm/protocol/envelope.py: Messages on the wire: the XML envelope (parsed safely), text and JSON; payload rules.
# ---------------------------------------------------------------------------

VERSION = "1"
QUERIES = ("Describe", "StartRun", "EndRun", "GetState", "ExecuteAction",
           "GetScore", "HereIsState", "GetAction", "GetLog")
WORLD_QUERIES = ("GetState", "ExecuteAction", "GetScore")
MIND_QUERIES = ("HereIsState", "GetAction")
FORMATS = ("xml", "text", "json")
PAYLOAD_FIELDS = ("state", "action")

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # not allowed in XML 1.0


def check_payload(value, what: str, limit: int, from_program: bool = False) -> str:
    """A state or action as text: UTF-8, no NULs, within ``limit``, XML well-formed.

    From a request a bad payload is a 400 (413 when too large); from
    Program 1 it is a 502 (it wrote garbage).
    """
    bad = ProtocolError if from_program else BadRequest
    who = f"Program 1 wrote a {what} that" if from_program else f"the {what}"
    if value is None:
        raise BadRequest(f"this query needs a {what} parameter")
    raw = value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")
    if len(raw) > limit:
        raise (bad if from_program else TooLarge)(f"{who} is larger than {limit} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise bad(f"{who} is not UTF-8 text") from None
    if _CONTROL.search(text):
        raise bad(f"{who} contains control characters (only tab, newline and CR are allowed)")
    if text.lstrip().startswith("<"):
        try:
            parse_xml(raw, what)
        except BadRequest as exc:
            raise bad(f"{who} is not valid XML: {exc}") from None
    return text


_TEXT_ESCAPES = {ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;", ord("\r"): "&#13;"}
_ATTR_ESCAPES = {**_TEXT_ESCAPES, ord('"'): "&quot;", ord("\n"): "&#10;", ord("\t"): "&#9;"}
_XML_DECL = re.compile(r"\s*<\?xml[^>]*\?>")


_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean(text) -> str:
    """Text that can go into XML, JSON and UTF-8: characters XML cannot hold, and
    lone surrogates (bytes of a URL that were not UTF-8), shown as ``\\uXXXX``.
    Error messages echo what a client sent; they must stay valid responses."""
    text = str(text)
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text) if _UNSAFE.search(text) else text


def _element(tag: str, text: str, attrs: dict | None = None, payload: bool = False) -> str:
    """``<tag attrs>text</tag>``; a payload that is XML goes in as it is.

    Payloads were checked on the way in (``check_payload``), so an XML one
    is a single well-formed element and is embedded unchanged (less any
    XML declaration); anything else is escaped text.
    """
    head = tag + "".join(f' {k}="{clean(v).translate(_ATTR_ESCAPES)}"' for k, v in (attrs or {}).items())
    if payload and text.lstrip().startswith("<"):
        body = _XML_DECL.sub("", text, count=1) if text.lstrip().startswith("<?xml") else text
    else:
        body = (text if payload else clean(text)).translate(_TEXT_ESCAPES)
    return f"<{head}>{body}</{tag}>"


def _payload_from(raw: bytes, elem, span) -> str:
    """A payload back out of an envelope element: an XML payload as the exact
    bytes it was sent as, a text one unescaped."""
    start, end = span
    if len(elem) and start is not None:
        return raw[start:end].decode("utf-8")
    return elem.text or ""


class Outcome:
    """What a query produced (``fields``: element name -> value, ``done`` a bool); see ``render``."""

    __slots__ = ("query", "server", "run", "fields")

    def __init__(self, query: str, server: str, run: str | None = None, fields: dict | None = None):
        self.query, self.server, self.run, self.fields = query, server, run, fields or {}


def _wire(value) -> str:
    """A field as text on the wire: booleans as ``true``/``false``."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def render(outcome: Outcome | None, fmt: str, *, error: GatewayError | None = None,
           query: str = "", server: str = "", run: str | None = None) -> tuple[int, str, bytes, dict]:
    """Render an outcome (or an error) as ``(status, content_type, body, headers)``."""
    if error is not None:
        code, status, fields = error.code, "error", {"error": clean(error.message)}
        run = error.run or run
        query, server, run = clean(query), clean(server), run and clean(run)
    else:
        code, status, fields = 200, "ok", outcome.fields
        query, server, run = outcome.query, outcome.server, outcome.run
    headers = {}
    if getattr(error, "retry_after", None):
        headers["Retry-After"] = str(error.retry_after)
    if "done" in fields:
        headers["X-WWM-Done"] = _wire(fields["done"])
    if "score" in fields:
        headers["X-WWM-Score"] = fields["score"].splitlines()[0] if fields["score"] else ""
    if fmt == "json":
        doc = {"query": query, "server": server, "run": run, "status": status, "code": code}
        doc.update(fields)
        return code, "application/json", json.dumps(doc).encode(), headers
    if fmt == "text":
        if error is not None:
            body = f"error {code}: {error.message}\n"
        else:
            body = _text_body(outcome)
        return code, "text/plain; charset=utf-8", body.encode("utf-8"), headers
    attrs = {"query": query, "server": server, "status": status, "code": str(code)}
    if run:
        attrs["run"] = run
    inner = "".join(_element(k, _wire(v), payload=k in PAYLOAD_FIELDS) for k, v in fields.items())
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<wwm version="{VERSION}">'
            f'{_element("response", "", attrs)[:-len("</response>")]}{inner}</response></wwm>')
    return code, "application/xml; charset=utf-8", body.encode("utf-8"), headers


def _text_body(outcome: Outcome) -> str:
    f = outcome.fields
    for key in ("state", "action", "run", "score"):
        if key in f:
            return f[key]
    if outcome.query == "Describe":
        return "".join(f"{k}: {_wire(v)}\n" for k, v in f.items())
    return "ok\n"


def parse_response(body: bytes, content_type: str = "") -> dict:
    """Read a gateway response (XML or JSON) back into a dict of fields.

    Used by clients; includes ``status``, ``code``, ``run`` and ``error``;
    ``done`` is a bool.
    """
    if content_type.startswith("application/json") or body[:1] == b"{":
        doc = json.loads(body)
        if not isinstance(doc, dict):
            raise BadRequest("not a wwm response")
        return doc
    top, spans = parse_with_spans(body, "response", PAYLOAD_FIELDS, 3)
    resp = top.find("response")
    if top.tag != "wwm" or resp is None:
        raise BadRequest("not a wwm response envelope")
    doc = dict(resp.attrib)
    doc["code"] = int(doc.get("code", 0))
    for child in resp:
        if child.tag in PAYLOAD_FIELDS:
            doc[child.tag] = _payload_from(body, child, spans[id(child)])
        else:
            doc[child.tag] = child.text or ""
    if "done" in doc:
        doc["done"] = doc["done"] == "true"
    return doc


REQUEST_ATTRIBUTES = ("query", "run", "format", "seed", "minds")
RUN_RE = re.compile(r"[A-Za-z0-9_-]{22,64}\Z")
SEED_RE = re.compile(r"[+-]?[0-9]{1,18}\Z")


def _check_request(top, req) -> None:
    """The rules of wwm.xsd for a request, in the standard library (one validation for
    every front end; tests/protocol checks that the two agree)."""
    bad = BadRequest
    if len(top) != 1 or (top.text or "").strip() or (req.tail or "").strip():
        raise bad("request envelope: <wwm> must hold exactly one <request>")
    extra = sorted(set(req.attrib) - set(REQUEST_ATTRIBUTES))
    if extra:
        raise bad(f"request envelope: unknown attribute {extra[0][:40]!r} on <request>")
    query = req.get("query")
    if query not in QUERIES:
        raise bad(f"request envelope: query must be one of {', '.join(QUERIES)}")
    if "run" in req.attrib and not RUN_RE.match(req.get("run")):
        raise bad("request envelope: run is not a run id")
    if "format" in req.attrib and req.get("format") not in FORMATS:
        raise bad("request envelope: format must be xml, text or json")
    if "seed" in req.attrib and not SEED_RE.match(req.get("seed").strip()):
        raise bad("request envelope: seed must be an integer")
    if len(req) > 1 or (req.text or "").strip() or any((c.tail or "").strip() for c in req):
        raise bad("request envelope: <request> holds at most one <state> or <action>")
    for child in req:
        if child.tag not in PAYLOAD_FIELDS or child.attrib:
            raise bad(f"request envelope: unexpected <{child.tag[:40]}> in <request>")
        if len(child) > 1:
            raise bad(f"request envelope: <{child.tag}> holds at most one element")


def parse_envelope(body: bytes) -> dict:
    """Request parameters from a POSTed XML envelope; payloads byte-exact."""
    top, spans = parse_with_spans(body, "request envelope", PAYLOAD_FIELDS, 3)
    req = top.find("request")
    if top.tag != "wwm" or req is None:
        raise BadRequest("request envelope must be <wwm version=\"1\"><request query=...>")
    if top.get("version", VERSION) != VERSION:
        raise BadRequest(f"unsupported envelope version {top.get('version')!r}")
    _check_request(top, req)
    params = {k: v for k, v in req.attrib.items() if k in REQUEST_ATTRIBUTES}
    for child in req:
        if child.tag in PAYLOAD_FIELDS:
            params[child.tag] = _payload_from(body, child, spans[id(child)])
    return params


# ---------------------------------------------------------------------------
# wwm/protocol/rewards.py: Rewards and scores in the file protocol.
# ---------------------------------------------------------------------------

def score_value(score) -> float | None:
    """The number at the start of a score (``"35\nsteps: 200"`` -> 35.0)."""
    first = str(score or "").split()
    try:
        return float(first[0]) if first else None
    except ValueError:
        return None


# ---------------------------------------------------------------------------
# runs
# ---------------------------------------------------------------------------


def format_number(x: float) -> str:
    """``1`` for 1.0, ``0.25`` for 0.25: short and exact."""
    x = float(x)
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


def join_reward(state: str, reward: float | None) -> str:
    """Put ``reward`` into a state: a first line ``reward: R`` or a ``<reward>`` element."""
    if reward is None:
        return state
    if state.lstrip().startswith("<"):
        from xml.etree import ElementTree as ET  # deferred: the CGI gateway never needs it

        root = parse_xml(state, "state")
        elem = ET.Element("reward")
        elem.text = format_number(reward)
        elem.tail = root.text
        root.text = None
        root.insert(0, elem)
        return ET.tostring(root, encoding="unicode")
    return f"reward: {format_number(reward)}\n{state}"


def split_reward(payload: str) -> tuple[str, float | None]:
    """Take the reward back out of a state; ``(state, reward or None)``."""
    if payload.lstrip().startswith("<"):
        from xml.etree import ElementTree as ET

        root = parse_xml(payload, "state")
        first = root[0] if len(root) else None
        if first is None or first.tag != "reward":
            return payload, None
        try:
            reward = float((first.text or "").strip())
        except ValueError:
            return payload, None
        root.text = (root.text or "") + (first.tail or "") if (root.text or first.tail) else None
        root.remove(first)
        return ET.tostring(root, encoding="unicode"), reward
    head, sep, rest = payload.partition("\n")
    if head.startswith("reward:"):
        try:
            return rest, float(head[7:].strip())
        except ValueError:
            pass
    return payload, None


# ---------------------------------------------------------------------------
# wwm/gateway/processes.py: Program 1's process: starting it detached, liveness, building, stopping.
# ---------------------------------------------------------------------------

_children: dict = {}  # pid -> Popen started by this process; reaped lazily
PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV", "WWM_POLL",
              "WWM_DATA", "WWM_SONGS_GRAPH")  # the graph song requests are read against (wwm.songs.sources)


def _proc_start_time(pid: int) -> str | None:
    """Start time of ``pid`` (guards against pid reuse); None if dead or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("ascii", "replace")
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    if not fields or fields[0] in ("Z", "X"):
        return None
    return fields[19]


def _reap_children() -> None:
    for pid, proc in list(_children.items()):
        if proc.poll() is not None:
            _children.pop(pid, None)  # threads of one gateway reap concurrently


def process_alive(pid: int, start: str | None) -> bool:
    """True while the process ``pid`` started at ``start`` is running (a zombie is not)."""
    return pid > 0 and _proc_start_time(pid) == start


def build_dir(server: Server, runs: str) -> str:
    """Where a server's ``build`` runs and its output lives: under RUNS, never in
    the server folder (which the web server may not write, and we promise not to)."""
    return os.path.join(runs, ".builds", server.folder, server.name)


def resolve_command(server: Server, runs: str | None = None) -> list[str]:
    """The argv of a server's command: ``./x`` lives in the server folder, except
    the build's output (``build_creates``), which lives in the build folder."""
    import shlex  # deferred, like every import only some queries need

    argv = shlex.split(server.manifest["command"])
    if argv and argv[0] in ("python3", "python"):
        argv[0] = sys.executable or argv[0]
    built = server.manifest.get("build_creates") if runs and server.manifest.get("build") else None

    def where(arg: str) -> str:
        if not arg.startswith("./"):
            return arg
        return os.path.join(build_dir(server, runs) if arg[2:] == built else server.path, arg[2:])

    return [where(a) for a in argv]


def _package_parent() -> str | None:
    """The folder holding the ``wwm`` package, when this file lives in it."""
    here = os.path.dirname(os.path.abspath(__file__))
    if os.path.basename(here) == "gateway" and os.path.basename(os.path.dirname(here)) == "wwm":
        return os.path.dirname(os.path.dirname(here))
    return None


def build_server(server: Server, runs: str) -> None:
    """Run the manifest's ``build`` command, in a copy of the server folder under
    RUNS, when its output is missing or older than a source."""
    build = server.manifest.get("build")
    creates = server.manifest.get("build_creates")
    if not build or not creates:
        return
    where = build_dir(server, runs)
    target = os.path.join(where, creates)

    def stale() -> bool:
        try:
            built = os.stat(target).st_mtime
        except FileNotFoundError:
            return True
        return any(os.stat(os.path.join(server.path, f)).st_mtime > built
                   for f in os.listdir(server.path) if f != creates and not f.startswith("."))

    if not stale():
        return
    os.makedirs(runs, exist_ok=True)
    with open(os.path.join(runs, f".build-{server.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not stale():  # another process built it while we waited
            return
        import shlex
        import shutil
        import subprocess

        shutil.copytree(server.path, where, dirs_exist_ok=True,
                        ignore=lambda _dir, names: [n for n in names if n == creates or n.startswith(".")])
        proc = subprocess.run(shlex.split(build), cwd=where, capture_output=True, timeout=120)
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).decode("utf-8", "replace")[-2000:]
            raise GatewayError(f"server {server.name!r}: build failed: {detail}")


# [limits] keys for Program 1's resource limits (setrlimit), on by default:
# a runaway Program 1 is stopped by the kernel, not by the operator.
RLIMITS = {"cpu_seconds": "RLIMIT_CPU", "memory_mb": "RLIMIT_AS", "open_files": "RLIMIT_NOFILE",
           "processes": "RLIMIT_NPROC"}


def _set_limits(pid: int, limits: dict, shared: bool) -> None:
    """Apply the run's resource limits to Program 1 (and so to its children).

    Set from the gateway just after the start (subprocess has no rlimit option
    and preexec_fn is unsafe in a threaded server): the few instructions before
    are Program 1's start-up, not its work."""
    import resource

    for key, name in RLIMITS.items():
        if key == "cpu_seconds" and shared:
            continue  # one process serves every run for as long as the gateway lives
        value = int(limits.get(key) or 0)
        if value <= 0:
            continue
        value = value << 20 if key == "memory_mb" else value
        try:
            _soft, hard = resource.prlimit(pid, getattr(resource, name))
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.prlimit(pid, getattr(resource, name), (value, value))
        except (OSError, ValueError):
            pass  # exited already, or a limit this system refuses: the others still hold


def start_process(server: Server, cwd: str, env_extra: dict[str, str], runs: str | None = None,
                  refuse_root: bool = False) -> tuple[int, str]:
    """Start Program 1 detached in its own session; return ``(pid, start_time)``.

    Its stdout and stderr go to ``cwd/log``.  It never sees the request's
    environment: only the variables of ``PASSED_ENV`` are passed, plus the
    ``WWM_*`` ones this gateway sets itself (``WWM_SERVER_DIR``, ``env_extra``).
    A web gateway (``refuse_root``) never starts Program 1 as root unless
    WWM_ALLOW_ROOT=1: code reached from the web must not run with every right.
    """
    if refuse_root and os.geteuid() == 0 and os.environ.get("WWM_ALLOW_ROOT") != "1":
        raise GatewayError("the gateway runs as root and will not start Program 1 as root: run the web "
                           "server's CGI or wwm serve as an unprivileged user (or set WWM_ALLOW_ROOT=1)")
    env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    parent = _package_parent()
    extra_path = [p for p in (parent, os.environ.get("WWM_PYTHONPATH")) if p]
    if extra_path:
        env["PYTHONPATH"] = os.pathsep.join(extra_path + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYTHONUNBUFFERED"] = "1"
    if runs:  # Python bytecode goes under RUNS too, not into the server folder or a checkout
        env["PYTHONPYCACHEPREFIX"] = os.path.join(runs, ".pycache")
    env["WWM_SERVER_DIR"] = server.path
    env.update(env_extra)
    import subprocess  # deferred, like every import only some queries need

    with open(os.path.join(cwd, "log"), "ab") as log:
        try:
            proc = subprocess.Popen(resolve_command(server, runs), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, close_fds=True,
                                    start_new_session=True)
        except OSError as exc:
            raise ProtocolError(f"server {server.name!r}: cannot start its command: {exc.strerror}") from None
    _set_limits(proc.pid, server.limits, server.shared)
    _reap_children()
    _children[proc.pid] = proc
    start = _proc_start_time(proc.pid) or ""
    return proc.pid, start


def stop_process(pid: int, start: str | None, grace: float) -> None:
    """End Program 1's process group: SIGTERM, then SIGKILL after ``grace``.

    The caller has already written ``stop``; we first give the program
    ``grace`` seconds to notice it and leave on its own.
    """
    import signal

    for sig in (None, signal.SIGTERM, signal.SIGKILL):
        if sig is not None and process_alive(pid, start):
            try:
                os.killpg(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and process_alive(pid, start):
            time.sleep(0.01)
        if not process_alive(pid, start):
            break
    # Program 1's own children share its process group; clear them too.
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    _reap_children()


def kill_strays(run: str) -> int:
    """SIGKILL processes that left Program 1's process group (setsid, daemons)
    but still carry this run's WWM_RUN_ID; Linux /proc only, best effort."""
    import signal

    marker = f"WWM_RUN_ID={run}".encode()
    killed = 0
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if marker not in f.read().split(b"\0"):
                    continue
            os.kill(int(entry), signal.SIGKILL)
            killed += 1
        except OSError:
            continue
    return killed


# ---------------------------------------------------------------------------
# scoreboard
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# wwm/gateway/scoreboard.py: The gateway's record of every run: one SQLite file.
# ---------------------------------------------------------------------------

class Scoreboard:
    """Every run, durably, in one SQLite file (WAL: CGI processes and workers share it).

    A run is written when it starts (outcome ``running``) and again when it
    ends, each in its own transaction, so a crash mid-run leaves a
    consistent record that says the run never finished.
    """

    COLUMNS = ("run", "server", "kind", "world", "minds", "steps", "score", "score_value",
               "start", "end", "outcome", "error", "source")

    def __init__(self, path: str):
        self.path = path

    def _db(self):
        import sqlite3  # deferred: only runs that start or end need it

        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS runs (run TEXT PRIMARY KEY, server TEXT, kind TEXT, "
                   "world TEXT, minds TEXT, steps INTEGER, score TEXT, score_value REAL, start REAL, "
                   "end REAL, outcome TEXT, error TEXT, source TEXT)")
        return db

    def record(self, rec: dict) -> None:
        """Insert or update the record of ``rec["run"]``."""
        row = {k: rec.get(k) for k in self.COLUMNS}
        row["score_value"] = score_value(row.get("score"))
        db = self._db()
        try:
            with db:
                db.execute(f"INSERT OR REPLACE INTO runs ({', '.join(self.COLUMNS)}) "
                           f"VALUES ({', '.join('?' * len(self.COLUMNS))})", [row[k] for k in self.COLUMNS])
        finally:
            db.close()

    def list(self, world: str | None = None, limit: int = 100) -> list[dict]:
        """The newest runs first; only those of ``world`` (id or URL substring) if given."""
        db = self._db()
        try:
            sql, args = "SELECT * FROM runs", []
            if world:
                sql += " WHERE world LIKE ? ESCAPE '\\'"
                args.append("%" + world.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
            sql += " ORDER BY start DESC LIMIT ?"
            args.append(int(limit))
            cur = db.execute(sql, args)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r)) for r in cur.fetchall()]
        finally:
            db.close()


# ---------------------------------------------------------------------------
# wwm/gateway/runs.py: One run's folder: its notes, its lock, and one query's session with Program 1's files.
# ---------------------------------------------------------------------------

def new_run_id() -> str:
    """An unguessable run id (144 random bits, URL-safe)."""
    import base64

    return base64.urlsafe_b64encode(os.urandom(18)).decode("ascii")


LIVE = ".live"  # RUNS/.live/<folder>%<name>%<run>: one entry per run not yet ended


def live_entry(runs: str, server_id: str, run: str) -> str:
    return os.path.join(runs, LIVE, f"{server_id.replace('/', '%')}%{run}")


def claim_live(runs: str, server_id: str, run: str, client: str) -> None:
    """Count a run as live (StartRun, under the start lock); the entry holds its client."""
    os.makedirs(os.path.join(runs, LIVE), exist_ok=True)
    write_atomic(live_entry(runs, server_id, run), client)


def drop_live(runs: str, server_id: str, run: str) -> None:
    unlink_quiet(live_entry(runs, server_id, run))


def list_live(runs: str) -> list[tuple[str, str, str]]:
    """``(server id, run, client)`` of every live run: O(live runs), not O(all runs kept)."""
    folder = os.path.join(runs, LIVE)
    found = []
    for name in os.listdir(folder) if os.path.isdir(folder) else []:
        parts = name.split("%")
        if len(parts) == 3 and not name.endswith(".tmp"):
            found.append((f"{parts[0]}/{parts[1]}", parts[2], read_small(os.path.join(folder, name), 256) or ""))
    return found


def read_notes(run_dir: str) -> dict:
    """A run's notes; ``{}`` while it has none (a StartRun in progress, or gone)."""
    try:
        with open(os.path.join(run_dir, ".wwm.json"), encoding="utf-8") as f:
            return json.load(f)
    except (FileNotFoundError, ValueError):
        return {}


def save_notes(run_dir: str, notes: dict) -> None:
    notes["used"] = time.time()
    write_atomic(os.path.join(run_dir, ".wwm.json"), json.dumps(notes))


class RunLock:
    """Exclusive hold of one run, across threads and processes, never inherited.

    A POSIX record lock (``lockf``) guards against other processes (CGI
    requests, gunicorn workers).  Unlike ``flock``, it is not shared with a
    child forked at that moment: with ``flock``, a Program 1 being spawned by
    another thread kept a copy of the lock until its ``exec``, and the run's
    owner got a spurious 409 on its next query.  POSIX locks belong to the
    process, so threads are kept apart by a ``threading.Lock`` per run, taken
    first: the file is only opened (and closed, which drops every POSIX lock
    of the process on it) by the thread holding that.
    """

    _guard = _thread.allocate_lock()  # _thread: the lock threading wraps, without its import cost
    _held: dict = {}

    def __init__(self, path: str):
        self.path = path
        with RunLock._guard:
            self.local = RunLock._held.setdefault(path, _thread.allocate_lock())
        self.fd = -1

    def acquire(self) -> bool:
        if not self.local.acquire(blocking=False):
            return False
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            fcntl.lockf(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            self.release()
            return False

    @classmethod
    def forget(cls, path: str) -> None:
        """Drop the in-process lock of a run whose folder is being deleted."""
        with cls._guard:
            cls._held.pop(path, None)

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # drops the POSIX lock
            self.fd = -1
        if self.local.locked():
            self.local.release()


class RunSession:
    """One query on one run: holds the run's lock and its notes.

    A second query on the same run while one is in progress is out of
    sequence (409), never queued behind it.
    """

    def __init__(self, gateway, server: Server, run: str, run_dir: str):
        self.g, self.server, self.run, self.dir = gateway, server, run, run_dir

    def __enter__(self):
        self.lock = RunLock(os.path.join(self.dir, ".lock"))
        if not self.lock.acquire():
            raise Conflict("another query on this run is in progress", run=self.run)
        self.notes = read_notes(self.dir)
        if not self.notes:
            self.lock.release()
            raise NotFound(f"no run {self.run!r}")
        if self.notes.get("phase") == "ended":
            self.lock.release()
            raise NotFound(f"run {self.run!r} has ended ({self.notes.get('outcome', 'ended')})")
        self.log = self.g.log_name(self.server, self.run)
        self.before = dict(self.notes)
        self.watch = None  # opened before the first send, so every event of the answer is seen
        return self

    def __exit__(self, kind, exc, tb):
        try:
            if isinstance(exc, (ProtocolError, ProgramTimeout)):
                # The run cannot go on: end it, keep its log, name both.
                self.finish("crashed" if isinstance(exc, ProtocolError) else "timeout", str(exc))
                exc.message = f"run {self.run}: {exc.message} (see log {self.log})"
                exc.args = (exc.message,)
                exc.run = self.run
            elif self.notes.get("phase") != "ended":
                try:
                    save_notes(self.dir, self.notes)
                except OSError as err:
                    # A full disk: a query that changed nothing (GetScore) still answers.
                    changed = {k: v for k, v in self.notes.items() if k != "used"} != \
                        {k: v for k, v in self.before.items() if k != "used"}
                    if err.errno not in (errno.ENOSPC, errno.EDQUOT) or changed:
                        raise
        finally:
            if self.watch is not None:
                self.watch.close()
            self.lock.release()
        return False

    # -- Program 1's files -------------------------------------------------

    @property
    def files(self) -> str:
        return self.dir  # shared or not, a run's files live in its own folder

    def alive(self) -> bool:
        return process_alive(self.notes.get("pid", 0), self.notes.get("start"))

    def check(self) -> None:
        """Raise when Program 1 has died or flooded its log."""
        if not self.alive():
            raise ProtocolError("Program 1 has exited")
        log = os.path.join(self.g.home(self.server) if self.server.shared else self.dir, "log")
        try:
            size = os.stat(log).st_size
        except FileNotFoundError:
            size = 0
        if size > self.server.limits["max_log"]:
            raise ProtocolError(f"Program 1 flooded its log (over {self.server.limits['max_log']} bytes)")

    def send(self, name: str, payload: str) -> None:
        self.check()
        if self.watch is None:
            self.watch = open_watch(self.dir)
        write_atomic(os.path.join(self.files, name), payload)

    def receive(self, names, timeout: float) -> str:
        """Wait for Program 1's message, consume it, check it; return the name."""
        names = ((names,) if isinstance(names, str) else tuple(names)) + ("error",)
        strict = self.watch is not None  # opened before our send: every rename was seen
        if self.watch is None:  # a World's first state: nothing was sent
            self.watch = open_watch(self.dir)
        got = wait_for(self.files, names, timeout, self.check, self.watch, strict)
        if got is None:
            raise ProgramTimeout(f"Program 1 did not answer within {timeout:g} s")
        if got == "done":
            return got
        if got == "error":
            detail = (read_small(os.path.join(self.files, "error"), 2000) or "").strip()
            raise ProtocolError(f"Program 1 gave up on the run: {detail or 'no reason given'}")
        raw = consume(os.path.join(self.files, got), self.server.limits["max_payload"])
        text = check_payload(raw, got, self.server.limits["max_payload"], from_program=True)
        if got == "state":
            self.notes["state"] = text
            return "state"
        return text

    def is_done(self) -> bool:
        return os.path.exists(os.path.join(self.files, "done"))

    def score(self) -> str:
        return (read_small(os.path.join(self.files, "score")) or "").strip()

    def finish(self, outcome: str, error: str | None = None) -> None:
        """End the run: ``stop``, then signals; record it; mark it ended.

        On a full disk the run still ends (signals need no space) and frees its
        slot; its notes cannot be written, so its folder is removed instead."""
        try:
            write_atomic(os.path.join(self.files, "stop"), "")
        except OSError:
            pass  # a full disk: the signals below end Program 1 all the same
        if not self.server.shared:
            stop_process(self.notes.get("pid", 0), self.notes.get("start"), self.server.limits["grace"])
            kill_strays(self.run)
        score = self.score()
        self.notes.update(phase="ended", outcome=outcome, ended=time.time())
        drop_live(self.g.runs, self.server.id, self.run)
        try:
            save_notes(self.dir, self.notes)
        except OSError as err:
            if err.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            import shutil

            shutil.rmtree(self.dir, ignore_errors=True)
        try:
            self.g.record(self.server, self.run, self.notes, outcome, score, error)
        except Exception as exc:  # the scoreboard must never break a run's ending
            sys.stderr.write(f"wwm gateway: scoreboard not updated: {exc!r}\n")


# ---------------------------------------------------------------------------
# messages


# ---------------------------------------------------------------------------
# wwm/gateway/reaper.py: Housekeeping of a runs folder: ending idle runs, deleting old ones, ending all at exit.
# ---------------------------------------------------------------------------

class Reaper:
    """Ends idle runs and deletes ended ones of one gateway's runs folder."""

    REAP_EVERY = float(os.environ.get("WWM_REAP_EVERY", 30.0))  # seconds between sweeps
    KEEP_ENDED = 3600.0    # seconds an ended run's folder (and log) is kept

    def __init__(self, gateway):
        self.g = gateway
        self._timer = None  # a threading.Event while the timer runs

    def homes(self):
        """``(server id, folder)`` for every server that has had runs here: the root's (under
        minds/ and worlds/) and a local client's from any folder (their ``.server`` names it)."""
        for sub in sorted(os.listdir(self.g.runs)) if os.path.isdir(self.g.runs) else []:
            top = os.path.join(self.g.runs, sub)
            if sub.startswith(".") or not os.path.isdir(top):
                continue
            for name in sorted(os.listdir(top)):
                home = os.path.join(top, name)
                if NAME_RE.match(name) and os.path.isdir(home) and \
                        (sub in SERVER_FOLDERS or os.path.isfile(os.path.join(home, ".server"))):
                    yield f"{sub}/{name}", home

    def reap(self, force: bool = False) -> int:
        """End idle runs and delete old ended ones; at most every REAP_EVERY s
        (across processes: the stamp file's mtime), unless ``force``.  Returns
        the number of runs ended."""
        stamp = os.path.join(self.g.runs, ".reaped")
        os.makedirs(self.g.runs, exist_ok=True)
        try:
            if not force and time.time() - os.stat(stamp).st_mtime < self.REAP_EVERY:
                return 0
        except FileNotFoundError:
            pass
        with open(stamp, "w"):
            pass
        import shutil  # deferred, as the sweep itself: most queries find it is not due

        ended = 0
        now = time.time()
        for sid, home in list(self.homes()):
            server = self._server_of(sid, home)
            idle = server.limits["idle"] if server else DEFAULT_LIMITS["idle"]
            live = 0
            for run in os.listdir(home):
                run_dir = os.path.join(home, run)
                if not RUN_RE.match(run):
                    continue
                notes = read_notes(run_dir)
                if not notes:  # a StartRun that died before writing its notes
                    try:
                        if now - os.stat(run_dir).st_mtime > 60:
                            shutil.rmtree(run_dir, ignore_errors=True)
                    except FileNotFoundError:
                        pass
                    continue
                if notes.get("phase") == "ended":
                    if now - notes.get("used", 0) > self.KEEP_ENDED:
                        shutil.rmtree(run_dir, ignore_errors=True)
                        RunLock.forget(os.path.join(run_dir, ".lock"))
                    continue
                dead = notes.get("pid") and not server.shared and not process_alive(notes["pid"], notes.get("start")) \
                    if server else False
                if server and (dead or now - notes.get("used", now) > idle):
                    # idle, or Program 1 died while nobody was asking (a gateway killed and restarted)
                    try:
                        with RunSession(self.g, server, run, run_dir) as r:
                            r.finish("crashed" if dead else "reaped", "Program 1 had exited" if dead else None)
                        ended += 1
                    except GatewayError:
                        live += 1
                else:
                    live += 1
            if server and server.shared and not live:
                self.stop_shared(server)
        for sid, run, _ in list_live(self.g.runs):  # entries of runs gone or ended (a gateway killed mid-way)
            run_dir = os.path.join(self.g.runs, sid, run)
            if not os.path.isdir(run_dir) or read_notes(run_dir).get("phase") == "ended":
                drop_live(self.g.runs, sid, run)
        return ended

    def stop_shared(self, server: Server) -> None:
        home = self.g.home(server)
        notes = read_json(os.path.join(home, ".shared.json"))
        if notes and process_alive(notes["pid"], notes["start"]):
            write_atomic(os.path.join(home, "stop"), "")
            stop_process(notes["pid"], notes["start"], server.limits["grace"])

    def _server_of(self, sid: str, home: str) -> Server | None:
        """The server whose runs live in ``home``: from the folder it recorded
        at its first StartRun (a local client's servers may live anywhere),
        else by its id under the root."""
        path = read_small(os.path.join(home, ".server"), 4096)
        for find in ((lambda: load_server(path)) if path else None, lambda: find_server(self.g.root, sid)):
            try:
                if find:
                    return find()
            except GatewayError:
                continue
        return None

    def shutdown(self) -> None:
        """End every active run and shared process (``wwm serve`` and local clients on exit)."""
        for sid, home in list(self.homes()):
            server = self._server_of(sid, home)
            if server is None:
                continue
            for run in os.listdir(home):
                if not RUN_RE.match(run) or read_notes(os.path.join(home, run)).get("phase") == "ended":
                    continue
                try:
                    with RunSession(self.g, server, run, os.path.join(home, run)) as r:
                        r.finish("ended")
                except GatewayError:
                    continue
            if server.shared:
                self.stop_shared(server)

    def start_timer(self) -> None:
        """Reap every REAP_EVERY seconds in a daemon thread, without traffic (``wwm serve``)."""
        import threading

        if self._timer is not None:
            return
        self._timer = stop = threading.Event()

        def loop():
            while not stop.wait(self.REAP_EVERY):
                try:
                    self.reap()
                except Exception as exc:  # housekeeping must never kill the server
                    import sys
                    sys.stderr.write(f"wwm gateway: reaping failed: {exc!r}\n")

        threading.Thread(target=loop, name="wwm-reaper", daemon=True).start()

    def stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.set()
            self._timer = None


# ---------------------------------------------------------------------------
# wwm/gateway/queries.py: The gateway's queries: ``Gateway`` answers each one, ``dispatch`` picks it from the table.
# ---------------------------------------------------------------------------

class Gateway:
    """The gateway's queries as Python methods, over a root and a runs folder.

    Stateless between calls: everything lives in the runs folder, guarded by
    one lock file per run, so CGI processes and several WSGI workers can share
    it.  Each run folder holds Program 1's files and ``.wwm.json`` (our notes:
    pid, phase, the World's current state, timestamps).
    """

    MAX_RUNS = 64          # concurrent runs, all servers together

    def __init__(self, root: str, runs: str, *, max_runs: int | None = None, web: bool = True):
        """``web``: a gateway that answers the network (refuses to start Program 1 as
        root); a local client's gateway runs the user's own programs as the user."""
        self.web = web
        self.root = os.path.abspath(root)
        self.runs = os.path.abspath(runs)
        self.max_runs = max_runs or int(os.environ.get("WWM_MAX_RUNS", self.MAX_RUNS))
        self.scoreboard = Scoreboard(os.path.join(self.runs, "scores.sqlite"))
        self.reaper = Reaper(self)

    def reap(self, force: bool = False) -> int:
        return self.reaper.reap(force)

    def active_runs(self) -> list[tuple[str, str]]:
        """``(server id, run)`` of every run not yet ended."""
        return [(sid, run) for sid, run, _ in list_live(self.runs)]

    def shutdown(self) -> None:
        """End every active run and shared process (``wwm serve`` and local clients on exit)."""
        self.reaper.stop_timer()
        self.reaper.shutdown()

    # -- paths and notes ---------------------------------------------------

    def home(self, server: Server) -> str:
        """The folder holding a server's runs (the shared process's cwd)."""
        return os.path.join(self.runs, server.folder, server.name)

    def run_dir(self, server: Server, run: str) -> str:
        return os.path.join(self.home(server), run)

    def log_name(self, server: Server, run: str | None) -> str:
        return f"{server.id}/{run}/log" if run and not server.shared else f"{server.id}/log"

    def _open_run(self, server: Server, run: str | None):
        """Lock an existing run for one query; returns a context manager."""
        if not run:
            raise BadRequest("this query needs a run parameter (from StartRun)")
        if not RUN_RE.match(run):
            raise NotFound(f"no run {run!r}")
        run_dir = self.run_dir(server, run)
        if not os.path.isdir(run_dir):
            raise NotFound(f"no run {run!r} on {server.name!r} (it may have ended or been reaped)")
        return RunSession(self, server, run, run_dir)

    # -- queries -----------------------------------------------------------

    def describe(self, server: Server) -> Outcome:
        m = server.manifest
        queries = ("Describe", "StartRun", "EndRun") + (WORLD_QUERIES if server.role == "world" else MIND_QUERIES) \
            + ("GetLog",)
        fields = {
            "name": server.name, "kind": server.kind, "role": server.role,
            "description": str(m.get("description", "")), "author": str(m.get("author", "")),
            "formats": " ".join(m.get("formats", ["text"])), "instances": m.get("instances", "per-run"),
            "queries": " ".join(queries),
        }
        if server.params:
            fields["params"] = " ".join(f"{k}={_show(v)}" for k, v in server.params.items())
        if isinstance(m.get("spaces"), dict):  # a World's Gymnasium spaces (docs/gymnasium.md), as JSON
            fields["spaces"] = json.dumps(m["spaces"], sort_keys=True)
        return Outcome("Describe", server.id, fields=fields)

    def start_run(self, server: Server, seed: str | None = None, minds: str | None = None,
                  client: str = "", params: dict | None = None) -> Outcome:
        """Start a run.  ``minds``: who plays this World, for the scoreboard only;
        ``client``: who asks (an address), held to ``max_runs_per_client``;
        ``params``: values for parameters the manifest declares, written to the
        run's ``params`` file before Program 1 starts."""
        chosen = run_params(server, params or {})
        if seed is not None:
            if not SEED_RE.match(seed.strip()):
                raise BadRequest("seed must be an integer (ASCII digits)")
            seed = str(int(seed))
        build_server(server, self.runs)
        run = new_run_id()
        run_dir = self.run_dir(server, run)
        os.makedirs(self.home(server), exist_ok=True)
        with open(os.path.join(self.runs, ".start.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # count and claim a slot in one step
            if read_small(os.path.join(self.home(server), ".server")) != server.path:
                write_atomic(os.path.join(self.home(server), ".server"), server.path)
            live = list_live(self.runs)
            mine = server.limits["max_runs_per_client"]
            if client and sum(1 for s, _, c in live if s == server.id and c == client) >= mine:
                raise TooManyRequests(f"you already have {mine} runs of {server.name!r}; end one or try later")
            if sum(1 for s, _, _ in live if s == server.id) >= server.limits["max_runs"]:
                raise TooManyRuns(f"server {server.name!r} already has {server.limits['max_runs']} runs; try later")
            if len(live) >= self.max_runs:
                raise TooManyRuns(f"the gateway already has {self.max_runs} runs; try later")
            os.makedirs(run_dir, mode=0o755)
            try:
                claim_live(self.runs, server.id, run, client)
            except BaseException:
                os.rmdir(run_dir)
                raise
        notes = {"server": server.name, "kind": server.kind, "created": time.time(),
                 "phase": "new", "steps": 0, "seed": seed or "1", "client": client}
        env = {"WWM_RUN_ID": run, "WWM_SEED": seed or "1",
               "WWM_INSTANCES": "shared" if server.shared else "per-run"}
        try:
            if chosen:
                write_atomic(os.path.join(run_dir, "params"), "".join(f"{k}={v}\n" for k, v in chosen.items()))
                notes["params"] = chosen
            if server.shared:
                notes["pid"], notes["start"] = self._shared_process(server, env)
            else:
                env["WWM_RUN_DIR"] = run_dir
                notes["pid"], notes["start"] = start_process(server, run_dir, env, self.runs, self.web)
            if minds is not None:
                notes["minds"] = minds[:2000]
            save_notes(run_dir, notes)
        except BaseException:
            # a run that never fully started holds no slot and leaves no process (a full disk, say)
            if notes.get("pid") and not server.shared:
                stop_process(notes["pid"], notes["start"], 0)
            import shutil

            shutil.rmtree(run_dir, ignore_errors=True)
            drop_live(self.runs, server.id, run)
            raise
        try:
            self.record(server, run, notes, "running")
        except Exception as exc:  # the scoreboard never blocks a run
            import sys

            sys.stderr.write(f"wwm gateway: scoreboard not updated: {exc!r}\n")
        return Outcome("StartRun", server.id, run, {"run": run})

    def record(self, server: Server, run: str, notes: dict, outcome: str, score: str = "",
                error: str | None = None) -> None:
        self.scoreboard.record({
            "run": run, "server": server.id, "kind": server.kind,
            "world": server.id if server.role == "world" else None,
            "minds": notes.get("minds") if server.role == "world" else server.id,
            "steps": notes.get("steps", 0), "score": score, "start": notes.get("created"),
            "end": notes.get("ended"), "outcome": outcome, "error": error, "source": "gateway"})

    def _shared_process(self, server: Server, env: dict) -> tuple[int, str]:
        """The one process serving every run of a shared server; started once."""
        home = self.home(server)
        with open(os.path.join(home, ".shared.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            notes = read_json(os.path.join(home, ".shared.json"))
            if notes and process_alive(notes["pid"], notes["start"]):
                return notes["pid"], notes["start"]
            unlink_quiet(os.path.join(home, "stop"))
            env = dict(env, WWM_RUN_DIR=home)
            env.pop("WWM_RUN_ID")
            pid, start = start_process(server, home, env, self.runs, self.web)
            write_atomic(os.path.join(home, ".shared.json"), json.dumps({"pid": pid, "start": start}))
            return pid, start

    def abort(self, server: Server, run: str) -> None:
        """Stop a run's Program 1 without taking its lock (a query on it may be stuck);
        the next query on the run finds Program 1 gone and ends it."""
        run_dir = self.run_dir(server, run)
        notes = read_json(os.path.join(run_dir, ".wwm.json"))
        if not notes or not RUN_RE.match(run):
            return
        write_atomic(os.path.join(run_dir, "stop"), "")
        if not server.shared:
            stop_process(notes.get("pid", 0), notes.get("start"), 0.5)

    LOG_TAIL = 65536  # bytes of a log that GetLog returns

    def get_log(self, server: Server, run: str | None) -> Outcome:
        """The tail of a run's log (Program 1's stdout and stderr), for whoever holds
        the run id (144 random bits), also for an hour after the run ended."""
        if not run:
            raise BadRequest("GetLog needs the run parameter")
        run_dir = self.run_dir(server, run)
        if not RUN_RE.match(run) or not os.path.isdir(run_dir):
            raise NotFound(f"no run {run!r} on {server.name!r} (logs are kept an hour after a run ends)")
        if server.shared:
            raise BadRequest(f"the runs of {server.name!r} share one process and one log; ask its operator")
        try:
            with open(os.path.join(run_dir, "log"), "rb") as f:
                f.seek(max(0, os.fstat(f.fileno()).st_size - self.LOG_TAIL))
                tail = f.read(self.LOG_TAIL)
        except FileNotFoundError:
            tail = b""
        return Outcome("GetLog", server.id, run, {"log": tail.decode("utf-8", "replace")})

    def end_run(self, server: Server, run: str | None) -> Outcome:
        with self._open_run(server, run) as r:
            score = r.score()
            r.finish("ended")
        return Outcome("EndRun", server.id, run, {"score": score})

    def get_state(self, server: Server, run: str | None) -> Outcome:
        with self._open_run(server, run) as r:
            if r.notes["phase"] == "new":
                r.receive("state", server.limits["start_timeout"])
                r.notes["phase"] = "acting"
                r.notes["done"] = r.is_done()
            return Outcome("GetState", server.id, run,
                           {"state": r.notes["state"], "done": bool(r.notes.get("done"))})

    def execute_action(self, server: Server, run: str | None, action: str | None) -> Outcome:
        payload = check_payload(action, "action", server.limits["max_payload"])
        with self._open_run(server, run) as r:
            if r.notes["phase"] == "new":
                raise Conflict("ExecuteAction before GetState: read the state the action answers first", run=run)
            if r.notes.get("done"):
                raise Conflict("the run is over (the World wrote done); call EndRun", run=run)
            r.send("action", payload)
            got = r.receive(("state", "done"), server.limits["step_timeout"])
            if got == "done":
                # A World writes done, then its last state: give it a moment;
                # without a last state the previous one stands.
                if wait_for(r.files, ("state",), 1.0, watch=r.watch, strict=True):
                    r.receive("state", server.limits["step_timeout"])
            r.notes["steps"] += 1
            r.notes["done"] = r.is_done()
            return Outcome("ExecuteAction", server.id, run,
                           {"state": r.notes["state"], "done": bool(r.notes["done"]), "score": r.score()})

    def get_score(self, server: Server, run: str | None) -> Outcome:
        with self._open_run(server, run) as r:
            return Outcome("GetScore", server.id, run, {"score": r.score()})

    def here_is_state(self, server: Server, run: str | None, state: str | None) -> Outcome:
        payload = check_payload(state, "state", server.limits["max_payload"])
        with self._open_run(server, run) as r:
            if r.notes["phase"] == "thinking":
                raise Conflict("the Mind has not yet answered the previous state; call GetAction", run=run)
            r.send("state", payload)
            r.notes["phase"] = "thinking"
            return Outcome("HereIsState", server.id, run)

    def get_action(self, server: Server, run: str | None, state: str | None = None) -> Outcome:
        payload = None if state is None else check_payload(state, "state", server.limits["max_payload"])
        with self._open_run(server, run) as r:
            if payload is not None:
                if r.notes["phase"] == "thinking":
                    raise Conflict("the Mind has not yet answered the previous state", run=run)
                r.send("state", payload)
                r.notes["phase"] = "thinking"
            elif r.notes["phase"] != "thinking":
                raise Conflict("no state to act on: send HereIsState first, or GetAction with state=", run=run)
            timeout = server.limits["step_timeout"]
            if r.notes["steps"] == 0:
                timeout = max(timeout, server.limits["start_timeout"])
            action = r.receive("action", timeout)
            r.notes["phase"] = "ready"
            r.notes["steps"] += 1
            return Outcome("GetAction", server.id, run, {"action": action})


def _show(value) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def run_params(server: Server, given: dict) -> dict:
    """The values of a StartRun's ``param.NAME`` parameters, checked against the
    manifest's ``[params]`` (name known, value of the default's type); ``{}`` if none."""
    chosen = {}
    for name, raw in given.items():
        if name not in server.params:
            known = ", ".join(server.params) or "none"
            raise BadRequest(f"{server.name!r} has no parameter {name[:40]!r} (it has: {known})")
        default, raw = server.params[name], raw.strip()
        try:
            if isinstance(default, bool):
                if raw.lower() not in ("true", "false", "1", "0"):
                    raise ValueError
                value = raw.lower() in ("true", "1")
            elif isinstance(default, int):
                if not raw.isascii():  # int() would take Arabic-Indic digits
                    raise ValueError
                value = int(raw)
            elif isinstance(default, float):
                value = float(raw)
                if value != value or value in (float("inf"), float("-inf")):
                    raise ValueError
            else:
                value = raw
                if len(value) > 200 or "\n" in value or "\r" in value:
                    raise ValueError
        except ValueError:
            raise BadRequest(f"parameter {name!r} must be a {type(default).__name__} like {_show(default)!r}") from None
        chosen[name] = _show(value)
    return chosen


# query -> (the role it needs, or None for any server; Gateway method; its parameters)
QUERY_TABLE = {
    "Describe": (None, "describe", ()),
    "StartRun": (None, "start_run", ("seed", "minds", "client", "params")),
    "EndRun": (None, "end_run", ("run",)),
    "GetState": ("world", "get_state", ("run",)),
    "ExecuteAction": ("world", "execute_action", ("run", "action")),
    "GetScore": ("world", "get_score", ("run",)),
    "HereIsState": ("mind", "here_is_state", ("run", "state")),
    "GetAction": ("mind", "get_action", ("run", "state")),
    "GetLog": (None, "get_log", ("run",)),
}


def dispatch(gateway: Gateway, server: Server, query: str, params: dict) -> Outcome:
    """Run one named query against a server."""
    entry = QUERY_TABLE.get(query)
    if entry is None:
        what = f"unknown query {query[:40]!r}" if query else "missing query parameter"
        raise BadRequest(f"{what}; one of {', '.join(QUERIES)}")
    role, method, names = entry
    if role and server.role != role:
        raise BadRequest(f"{query} is a {role} query and {server.name!r} is a {server.kind}")
    if "params" in names:  # param.NAME=value: a World's own parameters for this run
        params = dict(params, params={k[6:]: v for k, v in params.items() if k.startswith("param.")})
    return getattr(gateway, method)(server, *(params.get(n) for n in names))


# ---------------------------------------------------------------------------
# wwm/gateway/app.py: The gateway as one WSGI application: every front end (CGI, ``wwm serve``,
# ---------------------------------------------------------------------------

MAX_BODY = 1 << 20  # bytes; payload limits per server are usually far lower


class Request:
    """A transport-free HTTP request: what CGI and WSGI both hand us.

    ``server`` is the path naming the server (``worlds/NAME``), "" for the index.
    """

    __slots__ = ("method", "server", "query_string", "body", "content_type", "client")

    def __init__(self, method: str, server: str, query_string: str = "", body: bytes = b"",
                 content_type: str = "", client: str = ""):
        self.method, self.server, self.query_string = method, server, query_string
        self.body, self.content_type, self.client = body, content_type, client


class Response:
    """What to send back: status, content type, body, extra headers."""

    __slots__ = ("status", "content_type", "body", "headers")

    def __init__(self, status: int, content_type: str, body: bytes, headers: dict | None = None):
        self.status, self.content_type, self.body, self.headers = status, content_type, body, headers or {}


def request_params(req: Request) -> dict:
    """Every parameter of a request: query string, then form or XML body."""
    params = {}
    for key, value in _parse_qsl(req.query_string, "query string"):
        params.setdefault(key, value)
    if req.method == "POST" and req.body:
        ctype = req.content_type.split(";")[0].strip().lower()
        if ctype == "application/x-www-form-urlencoded":
            for key, value in _parse_qsl(_utf8(req.body), "form body"):
                params.setdefault(key, value)
        elif ctype in ("application/xml", "text/xml"):
            params.update(parse_envelope(req.body))
        elif ctype == "text/plain":
            # curl --data-binary @file -H 'Content-Type: text/plain': the body is the payload
            slot = "action" if params.get("query") == "ExecuteAction" else "state"
            params.setdefault(slot, _utf8(req.body))
        else:
            raise BadRequest(f"unsupported Content-Type {ctype!r}; use form, XML or text/plain")
    return params


MAX_FIELDS = 32
_HEX = frozenset(b"0123456789abcdefABCDEF")


def _parse_qsl(text: str, what: str) -> list[tuple[str, str]]:
    """Form-encoded pairs (``a=1&b=%20``, ``+`` for space, blank values kept);
    more than MAX_FIELDS fields, or %-escapes that are not UTF-8, are a 400.

    urllib.parse.parse_qsl does the same, but importing it costs every CGI
    request more than parsing does."""
    pairs = [p for p in text.split("&") if p]
    if len(pairs) > MAX_FIELDS:
        raise BadRequest(f"{what} is not valid: more than {MAX_FIELDS} fields")
    out = []
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            out.append((_unquote(key), _unquote(value)))
        except UnicodeDecodeError:
            raise BadRequest(f"{what}: a %-escape is not UTF-8 text") from None
    return out


def _unquote(part: str) -> str:
    part = part.replace("+", " ")
    if "%" not in part:
        return part
    raw = part.encode("utf-8", "surrogateescape").split(b"%")
    out = bytearray(raw[0])
    for chunk in raw[1:]:
        if len(chunk) >= 2 and chunk[0] in _HEX and chunk[1] in _HEX:
            out.append(int(chunk[:2], 16))
            out += chunk[2:]
        else:  # a lone % stays as it is, as urllib.parse leaves it
            out += b"%" + chunk
    return out.decode("utf-8")


def _utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the body is not UTF-8 text") from None


def handle(req: Request, gateway: Gateway) -> Response:
    """Answer one HTTP request; never raises, never leaks a traceback."""
    fmt, query, run = "xml", "", None
    try:
        if req.method not in ("GET", "POST", "HEAD"):
            raise MethodNotAllowed(f"method {req.method} is not allowed; use GET or POST")
        if len(req.body) > MAX_BODY:
            raise TooLarge(f"request body is larger than {MAX_BODY} bytes")
        for part in (req.server, req.query_string):
            try:
                part.encode("utf-8")
            except UnicodeEncodeError:  # CGI hands undecodable bytes over as surrogates
                raise BadRequest("the URL is not UTF-8 text") from None
        params = request_params(req)
        fmt = params.get("format") or "xml"
        if fmt not in FORMATS:
            fmt = "xml"
            raise BadRequest(f"unknown format {params.get('format')!r}; use xml, text or json")
        query, run = params.get("query", ""), params.get("run")
        if req.method == "HEAD" and query not in ("Describe", ""):
            raise MethodNotAllowed(f"HEAD answers Describe only; {query[:40]} needs GET or POST")
        params["client"] = req.client  # who asks comes from the connection, never from a parameter
        gateway.reap()  # at most every REAP_EVERY s: idle runs end without a daemon
        if not req.server:
            return _index(gateway, fmt)
        server = find_server(gateway.root, req.server, os.path.join(gateway.runs, ".manifests"))
        outcome = dispatch(gateway, server, query, params)
        return Response(*render(outcome, fmt))
    except GatewayError as exc:
        err = exc
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            err = InsufficientStorage("the gateway's disk is full: no run can start or step until space is "
                                      "freed (EndRun, GetScore and GetLog still work)")
        else:
            err = _internal(exc)
    except Exception as exc:
        err = _internal(exc)
    return Response(*render(None, fmt, error=err, query=query, server=req.server, run=run))


def _internal(exc: BaseException) -> GatewayError:
    """A bug of ours: logged for the operator, answered as a bare 500 without details."""
    sys.stderr.write(f"wwm gateway: internal error: {exc!r}\n")
    return GatewayError("internal error in the gateway")


def _index(gateway: Gateway, fmt: str) -> Response:
    servers = [{"id": s.id, "name": s.name, "kind": s.kind, "description": str(s.manifest.get("description", ""))}
               for s in list_servers(gateway.root)]
    if fmt == "json":
        return Response(200, "application/json", json.dumps({"servers": servers}).encode())
    if fmt == "text":
        body = "".join(f"{s['id']}\t{s['kind']}\t{s['description']}\n" for s in servers)
        return Response(200, "text/plain; charset=utf-8", body.encode())
    body = "".join(_element("server", s["description"], {"id": s["id"], "name": s["name"], "kind": s["kind"]})
                   for s in servers)
    return Response(200, "application/xml; charset=utf-8",
                    f'<?xml version="1.0" encoding="UTF-8"?>\n<wwm version="{VERSION}">{body}</wwm>'.encode())


# ---------------------------------------------------------------------------
# cgi


REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           409: "Conflict", 413: "Payload Too Large", 429: "Too Many Requests", 500: "Internal Server Error",
           502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


def client_of(environ) -> str:
    """The client's address: REMOTE_ADDR, or behind a reverse proxy the header the
    operator names in WWM_CLIENT_HEADER (e.g. ``X-Real-IP``), which that proxy sets."""
    header = os.environ.get("WWM_CLIENT_HEADER", "")
    if header:
        value = environ.get("HTTP_" + header.upper().replace("-", "_"), "")
        if value:
            return value.split(",")[-1].strip()[:64]  # the proxy appends the address it saw last
    return environ.get("REMOTE_ADDR", "")[:64]


def _wsgi_str(value: str) -> str:
    """A WSGI environ string (bytes as latin-1, PEP 3333) as CGI hands it over:
    UTF-8, with undecodable bytes as surrogates, which ``handle`` refuses."""
    try:
        return value.encode("latin-1").decode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a server that already decoded it
        return value


class App:
    """The gateway as a WSGI application; ``PATH_INFO`` names the server."""

    def __init__(self, gateway: Gateway):
        self.gateway = gateway

    def __call__(self, environ, start_response):
        resp = handle(self.request(environ), self.gateway)
        headers = [("Content-Type", resp.content_type), ("Content-Length", str(len(resp.body)))]
        headers += [(k, v) for k, v in resp.headers.items() if "\n" not in v and "\r" not in v]
        start_response(f"{resp.status} {REASONS.get(resp.status, '')}", headers)
        return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else resp.body]

    @staticmethod
    def request(environ) -> Request:
        """A Request from a WSGI environ, reading at most MAX_BODY + 1 bytes of body."""
        try:
            length = max(int(environ.get("CONTENT_LENGTH") or 0), 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(min(length, MAX_BODY + 1)) if length else b""
        if length > MAX_BODY:
            body = b"\0" * (MAX_BODY + 1)  # handle() answers 413 without parsing it
        return Request(method=environ.get("REQUEST_METHOD", "GET").upper(),
                       server=_wsgi_str(environ.get("PATH_INFO", "")).strip("/"),
                       query_string=_wsgi_str(environ.get("QUERY_STRING", "")), body=body,
                       content_type=environ.get("CONTENT_TYPE", ""), client=client_of(environ))


# ---------------------------------------------------------------------------
# wwm/gateway/cgi.py: The CGI adapter: runs the WSGI App once per request, from the environment and stdin.
# ---------------------------------------------------------------------------

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


if __name__ == "__main__":
    sys.exit(main())
