"""State/action formats and forgiving free-text matching."""
from __future__ import annotations

import pytest

from wwm.songs.request import (MAX_ACTION_BYTES, FormatError, Request, format_action,
                               format_state, match_text, parse_action, parse_state,
                               resolve_request)


def label(catalog, m):
    return catalog.tracks[m.index].label if m else None


@pytest.mark.parametrize("text", [
    "songs like Enter Sandman",
    "songs like enter sandmen by metalica",
    "Something like ENTER SANDMAN - Metallica please",
    "@fungus@node.example songs like Enter Sandman #spore",
    "enter sandman",
])
def test_forgiving_title_matching(catalog, text):
    m = match_text(catalog, text)
    assert label(catalog, m) == "Enter Sandman — Metallica"


def test_artist_only_and_other_forms(catalog):
    m = match_text(catalog, "songs like metallica")
    assert m is not None and m.kind == "artist" and "Metallica" in catalog.tracks[m.index].artists
    assert label(catalog, match_text(catalog, "play me stuff like Like a Stone")) == \
        "Like a Stone — Audioslave"
    assert label(catalog, match_text(catalog, "Du ast - Rammstein")) == "Du hast — Rammstein"
    tid = catalog.ids[7]
    assert match_text(catalog, tid).index == 7            # a bare track id


@pytest.mark.parametrize("text", ["", "   ", "songs like", "xyzzy qwerty plugh", None,
                                  "zzzz " * 500])
def test_unmatched_text_gives_none(catalog, text):
    assert match_text(catalog, text) is None


def test_text_action_forms():
    a = parse_action("id1 | Title — Artist\n# a comment\nw: 0.8\nid2, id3 id4\n\n")
    assert a.ids == ["id1", "id2", "id3", "id4"]
    assert a.annotations == {"w": "0.8"}


def test_xml_action_forms():
    a = parse_action('<action w="0.5"><track id="a"/><track>b</track><item id="c"/></action>')
    assert a.ids == ["a", "b", "c"] and a.annotations == {"w": "0.5"}
    assert parse_action(format_action(["x", "y"], xml=True)).ids == ["x", "y"]


@pytest.mark.parametrize("payload", [
    '<!DOCTYPE a [<!ENTITY x "y">]><action>&x;</action>',
    '<?xml version="1.0"?><!DOCTYPE a SYSTEM "http://example.com/a.dtd"><action/>',
    "<action><track id='a'></action>",
    "x" * (MAX_ACTION_BYTES + 1),
])
def test_hostile_or_broken_actions_are_refused(payload):
    with pytest.raises(FormatError):
        parse_action(payload)


def test_state_round_trip_text_and_xml(catalog):
    ids = catalog.ids
    req = Request(world="songs", community="metal", listener="L007", step=3, steps=10,
                  seed=ids[1], recent=[ids[2], ids[3]], text="songs like X", accepted=None,
                  listened=ids[4], notes=["1 unknown id(s) ignored"])
    for xml in (False, True):
        s = format_state(req, catalog, xml=xml)
        back = parse_state(s)
        assert (back.world, back.community, back.listener) == ("songs", "metal", "L007")
        assert (back.step, back.steps) == (3, 10)
        assert back.seed == ids[1] and back.recent == [ids[2], ids[3]]
        assert back.text == "songs like X" and back.accepted is None
        assert back.listened == ids[4] and back.xml is xml
        assert back.history == [ids[2], ids[3], ids[1]]
    text = format_state(req, catalog)
    assert f"seed: {ids[1]} | {catalog.track(ids[1]).label}" in text   # human-readable


def test_state_parsing_never_raises():
    for junk in [None, "", "<request", "<!DOCTYPE x><request/>", "\x00\xff", "a" * 70000,
                 "reward: nan-ish\nseed:\nrecent: |\nstep: x of y"]:
        req = parse_state(junk)
        assert isinstance(req, Request)


def test_resolve_request_fills_the_seed_from_text(catalog):
    req = parse_state("world: songs\nrequest: songs like enter sandman\nrecent: nope\n")
    resolve_request(catalog, req)
    assert catalog.track(req.seed).name == "Enter Sandman"
    assert req.recent == []                       # unknown ids dropped
