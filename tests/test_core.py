"""wwm.gateway.core without a web server: manifest cache, envelope rendering."""
from __future__ import annotations

import os
import time

from wwm.gateway import core


def test_manifest_cache_follows_edits(tmp_path):
    server = tmp_path / "worlds" / "w"
    server.mkdir(parents=True)
    manifest = server / "wwm.toml"
    manifest.write_text('kind = "world"\ncommand = "./w"\ndescription = "one"\n')
    cache = str(tmp_path / "cache")
    assert core.find_server(str(tmp_path), "w", cache).manifest["description"] == "one"
    assert os.listdir(cache)  # the JSON copy was written
    manifest.write_text('kind = "world"\ncommand = "./w"\ndescription = "two, longer"\n')
    os.utime(manifest, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert core.find_server(str(tmp_path), "w", cache).manifest["description"] == "two, longer"


def test_xml_payloads_are_embedded_unchanged_and_text_escaped():
    out = core.Outcome("GetAction", "minds/m", "r" * 24, {"action": '<a x="1">&amp;</a>'})
    body = core.render(out, "xml")[2].decode()
    assert '<action><a x="1">&amp;</a></action>' in body
    assert core.parse_response(body.encode())["action"] == '<a x="1">&amp;</a>'
    out = core.Outcome("GetAction", "minds/m", "r" * 24, {"action": "1 < 2 & 3\r\n"})
    body = core.render(out, "xml")[2]
    assert core.parse_response(body)["action"] == "1 < 2 & 3\r\n"  # CR survives as &#13;
