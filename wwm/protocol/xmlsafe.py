"""Parse untrusted XML with the standard library's expat, refusing while parsing.

DTDs (hence entity declarations, in any encoding) are refused by the parser
itself, and depth and element count are checked element by element, so a
hostile document costs no more than the bytes read before it is refused.
Documents must be UTF-8 (or ASCII): payloads are sliced out by byte offset.
"""
from __future__ import annotations

from wwm.protocol.errors import BadRequest

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
