"""The envelope and manifests without a web server: rendering, parsing, byte-exact payloads, one validation."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from wwm.protocol import envelope
from wwm.protocol.envelope import (MIND_QUERIES, QUERIES, WORLD_QUERIES, Outcome, parse_envelope, parse_response,
                                   render)
from wwm.protocol.errors import BadRequest
from wwm.protocol.manifest import find_server


def test_manifest_cache_follows_edits(tmp_path):
    server = tmp_path / "worlds" / "w"
    server.mkdir(parents=True)
    manifest = server / "wwm.toml"
    manifest.write_text('kind = "world"\ncommand = "./w"\ndescription = "one"\n')
    cache = str(tmp_path / "cache")
    assert find_server(str(tmp_path), "w", cache).manifest["description"] == "one"
    assert os.listdir(cache)  # the JSON copy was written
    manifest.write_text('kind = "world"\ncommand = "./w"\ndescription = "two, longer"\n')
    os.utime(manifest, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert find_server(str(tmp_path), "w", cache).manifest["description"] == "two, longer"


def test_xml_payloads_are_embedded_unchanged_and_text_escaped():
    out = Outcome("GetAction", "minds/m", "r" * 24, {"action": '<a x="1">&amp;</a>'})
    body = render(out, "xml")[2].decode()
    assert '<action><a x="1">&amp;</a></action>' in body
    assert parse_response(body.encode())["action"] == '<a x="1">&amp;</a>'
    out = Outcome("GetAction", "minds/m", "r" * 24, {"action": "1 < 2 & 3\r\n"})
    body = render(out, "xml")[2]
    assert parse_response(body)["action"] == "1 < 2 & 3\r\n"  # CR survives as &#13;


# Payloads an author might send: namespaces, prefixes, attributes out of
# alphabetical order, CDATA, comments, odd whitespace, non-ASCII text.
PAYLOADS = [
    "<s xmlns='urn:a'><b/></s>",
    '<p:s xmlns:p="urn:p" z="1" a="2"  m=\'3\'><p:b c="&amp;&lt;"/>\n  text\t</p:s>',
    "<s><![CDATA[x < y && z]]></s>",
    "<!-- first --><s>\n<a>1</a>\n</s>\n",
    "  <s   a = \"1\" />  ",
    "<état clé=\"é\">ü &#169; &#x1F600;</état>",
    "plain text, 1 < 2 & 3 > 0\nline two\r\n",
    "",
]


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("field", ["state", "action"])
def test_payloads_pass_byte_exact_both_ways(payload, field):
    """Client -> gateway (request envelope) and gateway -> client (response): unchanged bytes."""
    query = "HereIsState" if field == "state" else "ExecuteAction"
    out = Outcome(query, "minds/m", RUN, {field: payload})
    assert parse_response(render(out, "xml")[2])[field] == payload
    assert parse_response(render(out, "json")[2])[field] == payload
    env = request_envelope(query, RUN, field, payload)
    assert parse_envelope(env)[field] == payload


def test_done_is_a_bool_until_rendered():
    out = Outcome("ExecuteAction", "worlds/w", RUN, {"state": "s", "done": True, "score": "1"})
    status, ctype, body, headers = render(out, "xml")
    assert b"<done>true</done>" in body and headers["X-WWM-Done"] == "true"
    assert parse_response(body)["done"] is True
    assert json.loads(render(out, "json")[2])["done"] is True
    assert parse_response(render(out, "json")[2])["done"] is True


RUN = "r" * 24


def request_envelope(query, run, field=None, payload=None) -> bytes:
    """What a client sends: the payload embedded as the gateway embeds it."""
    from wwm.protocol.envelope import _element

    inner = _element(field, payload, payload=True) if field else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?><wwm version="1"><request query="{query}" run="{run}">'
            f'{inner}</request></wwm>').encode()


# Envelopes that the schema (wwm.xsd) and the standard-library check must judge alike.
ENVELOPES = {
    "plain": (True, f'<wwm version="1"><request query="GetState" run="{RUN}"/></wwm>'),
    "payload": (True, f'<wwm><request query="ExecuteAction" run="{RUN}"><action><a/></action></request></wwm>'),
    "text payload": (True, f'<wwm><request query="HereIsState" run="{RUN}"><state>1 &amp; 2</state></request></wwm>'),
    "seed": (True, '<wwm><request query="StartRun" seed="-12" format="json" minds="x y"/></wwm>'),
    "unknown query": (False, '<wwm><request query="DropAll"/></wwm>'),
    "no query": (False, f'<wwm><request run="{RUN}"/></wwm>'),
    "bad run": (False, '<wwm><request query="GetState" run="../x"/></wwm>'),
    "bad format": (False, '<wwm><request query="Describe" format="html"/></wwm>'),
    "bad seed": (False, '<wwm><request query="StartRun" seed="1e3"/></wwm>'),
    "extra attribute": (False, '<wwm><request query="Describe" admin="1"/></wwm>'),
    "two payloads": (False, f'<wwm><request query="GetAction" run="{RUN}"><state/><state/></request></wwm>'),
    "two elements in a payload": (False, f'<wwm><request query="GetAction" run="{RUN}"><state><a/><b/></state></request></wwm>'),
    "stray element": (False, '<wwm><request query="Describe"><x/></request></wwm>'),
    "text in request": (False, '<wwm><request query="Describe">hi</request></wwm>'),
    "two requests": (False, '<wwm><request query="Describe"/><request query="Describe"/></wwm>'),
    "wrong version": (False, '<wwm version="2"><request query="Describe"/></wwm>'),
}


@pytest.mark.parametrize("name", sorted(ENVELOPES))
def test_stdlib_validation_agrees_with_the_schema(name):
    """One validation for every front end, in the standard library; the shipped
    XSD documents it, and the two must agree on every case."""
    from lxml import etree

    valid, text = ENVELOPES[name]
    schema = etree.XMLSchema(etree.parse(str(Path(envelope.__file__).with_name("wwm.xsd"))))
    assert schema.validate(etree.fromstring(text.encode())) is valid, schema.error_log
    if valid:
        parse_envelope(text.encode())
    else:
        with pytest.raises(BadRequest):
            parse_envelope(text.encode())


def test_query_table_matches_the_protocol():
    from wwm.gateway.queries import QUERY_TABLE

    assert tuple(QUERY_TABLE) == QUERIES
    assert {q for q, (role, _, _) in QUERY_TABLE.items() if role == "world"} == set(WORLD_QUERIES)
    assert {q for q, (role, _, _) in QUERY_TABLE.items() if role == "mind"} == set(MIND_QUERIES)
