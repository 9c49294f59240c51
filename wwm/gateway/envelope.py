"""Validate XML envelopes against the shipped schema (lxml, safe parser settings).

The Flask gateway checks every POSTed envelope here before the core reads it;
the one-file CGI gateway, which must run on the standard library alone, relies
on the core's own safe parser and structural checks.
"""
from __future__ import annotations

import os
from functools import lru_cache

from lxml import etree

from wwm.gateway.core import BadRequest, parse_xml

SCHEMA_PATH = os.path.join(os.path.dirname(__file__), "wwm.xsd")


def safe_parser() -> etree.XMLParser:
    """An lxml parser that loads no DTD, resolves no entity and reaches no network."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_pis=True)


@lru_cache(maxsize=1)
def schema() -> etree.XMLSchema:
    with open(SCHEMA_PATH, "rb") as f:
        return etree.XMLSchema(etree.parse(f, safe_parser()))


def validate(body: bytes) -> None:
    """Raise BadRequest unless ``body`` is a valid wwm envelope."""
    parse_xml(body, "request envelope")  # refuses DTDs and entities before lxml sees them
    try:
        doc = etree.fromstring(body, safe_parser())
    except etree.XMLSyntaxError as exc:
        raise BadRequest(f"request envelope is not well-formed: {exc}") from None
    s = schema()
    if not s.validate(doc):
        raise BadRequest(f"request envelope does not match the wwm schema: {s.error_log.last_error.message}")
