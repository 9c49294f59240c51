"""Untrusted XML is refused while it is parsed: DTDs in any encoding, depth, element count."""
from __future__ import annotations

import time

import pytest

from wwm.protocol.errors import BadRequest
from wwm.protocol.xmlsafe import MAX_XML_DEPTH, MAX_XML_ELEMENTS, parse_xml

BOMB = ('<?xml version="1.0"?><!DOCTYPE s [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        '<s>&b;</s>')


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-le", "utf-16-be"])
def test_dtds_are_refused_in_any_encoding(encoding):
    doc = BOMB.replace('version="1.0"', f'version="1.0" encoding="{encoding}"')
    raw = doc.encode(encoding if encoding != "utf-16" else "utf-16")
    with pytest.raises(BadRequest, match="DTD|UTF-8"):
        parse_xml(raw, "state")


def test_external_entities_and_undeclared_references_are_refused():
    for doc in ('<!DOCTYPE s SYSTEM "file:///etc/passwd"><s/>', "<s>&xxe;</s>",
                '<!DOCTYPE s [<!ENTITY % p SYSTEM "http://127.0.0.1/">%p;]><s/>'):
        with pytest.raises(BadRequest):
            parse_xml(doc.encode(), "state")


def test_depth_is_refused_while_parsing_not_after():
    deep = b"<a>" * 300_000 + b"</a>" * 300_000  # 2 MB
    t = time.process_time()
    with pytest.raises(BadRequest, match=f"deeper than {MAX_XML_DEPTH}"):
        parse_xml(deep, "state")
    assert time.process_time() - t < 0.5  # refused near the start, not after building 300,000 elements
    parse_xml(b"<a>" * MAX_XML_DEPTH + b"</a>" * MAX_XML_DEPTH, "state")


def test_element_count_is_bounded():
    wide = b"<a>" + b"<b/>" * (MAX_XML_ELEMENTS + 1) + b"</a>"
    with pytest.raises(BadRequest, match="more than"):
        parse_xml(wide, "state")


def test_readable_reasons():
    with pytest.raises(BadRequest, match="not well-formed.*line 1"):
        parse_xml(b"<a><b></a>", "state")
    with pytest.raises(BadRequest):
        parse_xml(b"", "state")
    with pytest.raises(BadRequest, match="UTF-8"):
        parse_xml('<?xml version="1.0" encoding="latin-1"?><a>é</a>'.encode("latin-1"), "state")
    assert parse_xml("<a x='1'>é</a>").get("x") == "1"
