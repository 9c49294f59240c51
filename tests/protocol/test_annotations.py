"""Annotations on actions: w and Q-values in text and XML (wwm/protocol/annotations.py)."""
from __future__ import annotations

import pytest

from wwm.protocol.annotations import AnnotationError, action_key, annotate, format_ranking, parse, strip


def test_text_round_trip():
    text = annotate("50\n", w=0.8, q={"50": 0.62, "49": 0.31})
    assert text == "50\nw: 0.8\nq 50: 0.62\nq 49: 0.31\n"
    got = parse(text)
    assert (got.action, got.key, got.w, got.q) == ("50\n", "50", 0.8, {"50": 0.62, "49": 0.31})
    assert strip(text) == "50\n"
    assert parse("  50  ").key == "50" and parse("50").w is None


def test_text_q_action_may_hold_colons_and_spaces():
    got = parse("set x: 1\nq set x: 1: 0.5\nQ set x: 2: -1\n")
    assert got.action == "set x: 1\n"
    assert got.q == {"set x: 1": 0.5, "set x: 2": -1.0}
    # a line "q ..." without a colon is part of the action
    assert parse("q 5\n").action == "q 5\n"


def test_the_house_minds_notes_are_read():
    text = "E\nw: 1.0000\nq N: 0.5905\nq S: 0.7290\nq E: 0.8100\nq W: 0.5905\nq stay: 0.6561\n"
    got = parse(text)
    assert (got.action, got.w) == ("E\n", 1.0)
    assert got.q == {"N": 0.5905, "S": 0.729, "E": 0.81, "W": 0.5905, "stay": 0.6561}


@pytest.mark.parametrize("bad", ["50\nw: lots\n", "50\nq 49:\n", "50\nq 49: nan\n", "w: 1\n", "", "50\nw: inf",
                                 "50\nq 49: 1 2\n"])
def test_text_garbage_is_refused(bad):
    with pytest.raises(AnnotationError):
        parse(bad)
    assert strip(bad) == bad


def test_xml_round_trip_and_strip():
    text = annotate('<move dir="left"/>', w=2, q={"left": 0.5, '<move dir="right"/>': 0.1})
    got = parse(text)
    assert got.xml and got.w == 2.0
    assert got.action == '<move dir="left" />'
    assert got.q == {"left": 0.5, '<move dir="right"></move>': 0.1}
    assert parse('<move  dir="left"></move>').key == got.key
    assert strip('<a w="3">text<q action="b">1</q> tail</a>') == "<a>text tail</a>"


def test_xml_garbage_is_refused():
    for bad in ('<a w="x"/>', "<a><q>1</q></a>", '<a><q action="b"/></a>', "<a><b></a>",
                '<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>'):
        with pytest.raises(AnnotationError):
            parse(bad)


def test_ranked_lists_text_and_xml_like_the_song_world():
    text = ("w: 0.5\n4uLU6hMCjMI75M1A2tKUQC | Never Gonna Give You Up\n7GhIk7Il098yCjg4BQjzvb, 1\n# comment\n"
            "note: x\nq 1: 0.25\n")
    got = parse(text, ranked=True)
    assert got.items == ["4uLU6hMCjMI75M1A2tKUQC", "7GhIk7Il098yCjg4BQjzvb", "1"] and got.w == 0.5
    assert got.q == {"1": 0.25}
    x = parse('<action w="1"><track id="a"/><track id="b"/><q action="a">0.9</q></action>', ranked=True)
    assert x.items == ["a", "b"] and x.q == {"a": 0.9} and x.xml
    assert parse("<ranking><item id='c'/><item>d</item></ranking>", ranked=True).items == ["c", "d"]
    assert format_ranking(["a", "b"]) == "a\nb\n"
    assert format_ranking(["a"], xml=True, w=1) == '<action w="1"><track id="a" /></action>'
    with pytest.raises(AnnotationError):
        parse("w: 1\nnote: nothing\n", ranked=True)


def test_action_key_ignores_layout():
    assert action_key("  a\n\n b \n") == "a\nb"
    assert action_key('<x b="1"  a="2"> <y/> </x>') == action_key('<x a="2" b="1"><y></y></x>')
