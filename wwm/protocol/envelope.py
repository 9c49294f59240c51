"""Messages on the wire: the XML envelope (parsed safely), text and JSON; payload rules.

Payloads pass byte-exact: an XML state or action is embedded in the envelope
unchanged and read back out of it by byte offsets, never re-serialised.
"""
from __future__ import annotations

import json
import re

from wwm.protocol.errors import BadRequest, GatewayError, ProtocolError, TooLarge
from wwm.protocol.xmlsafe import parse_with_spans, parse_xml

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
