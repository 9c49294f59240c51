"""Society files (SOML) and society folders (wwm/society/soml.py)."""
from __future__ import annotations

import os
import sys

import pytest

from wwm.client import connect, run_episode
from wwm.protocol.errors import ProtocolError
from wwm.protocol.manifest import load_server
from wwm.society.soml import SocietyFileError, load, parse, society_folder

sys.path.insert(0, os.path.dirname(__file__))
from gateways import REPO, hello_bisect_score, make_root  # noqa: E402


def test_parse_resolves_members_and_reads_every_attribute(tmp_path):
    spec = parse("""<society name="s" rule="borda" deadline="0.25" first-deadline="3" patience="1" retry="0.5"
                     size="5" k="10" alpha="0.2" gamma="0.5" annotate="true" fallback="50">
                     <description>two</description>
                     <member href="../a" weight="2"/><mind url="http://h:1/wwm/minds/a"/>
                     <member href="b.xml" name="bee"/></society>""", base=str(tmp_path))
    assert [m.href for m in spec.members] == [str(tmp_path.parent / "a"), "http://h:1/wwm/minds/a", str(tmp_path / "b.xml")]
    assert [m.name for m in spec.members] == ["a", "a-2", "bee"]
    assert spec.members[0].weight == 2 and spec.members[1].remote
    assert (spec.deadline, spec.first_deadline, spec.patience, spec.retry) == (0.25, 3, 1, 0.5)
    assert (spec.size, spec.k, spec.alpha, spec.gamma, spec.annotate, spec.fallback) == (5, 10, 0.2, 0.5, True, "50")
    assert spec.ranked and spec.description == "two"
    assert not parse('<society rule="vote"><member href="x"/></society>').ranked


@pytest.mark.parametrize("text, says", [
    ('<society rule="best"><member href="x"/></society>', "rule="),
    ('<society rule="vote"></society>', "no <member"),
    ('<society rule="vote" deadline="soon"><member href="x"/></society>', "not a number"),
    ('<society rule="vote"><member href="ftp://x/y"/></society>', "http(s)"),
    ('<society rule="vote" actions="many"><member href="x"/></society>', "actions="),
    ('<!DOCTYPE s [<!ENTITY e "x">]><society rule="vote"/>', "DTD"),
    ('<society rule="vote"><member href="x"/>', "not well-formed"),
    ('<team rule="vote"/>', "<society>"),
])
def test_bad_society_files_say_what_to_fix(text, says):
    with pytest.raises(SocietyFileError, match=None) as info:
        parse(text)
    assert says in str(info.value)


def test_repository_example_loads():
    spec = load(str(REPO / "minds" / "society-hello"))
    assert spec.rule == "vote" and len(spec.members) >= 2
    assert all(os.path.isfile(os.path.join(m.href, "wwm.toml")) for m in spec.members)
    server = load_server(str(REPO / "minds" / "society-hello"))
    assert server.kind == "society" and server.role == "mind"


def test_society_file_becomes_a_folder_that_plays_like_a_mind(tmp_path):
    root = make_root(tmp_path, {"good": "--skill bisect", "stubborn": "--skill fixed --guess 7"})
    xml = tmp_path / "team.xml"
    xml.write_text('<society name="team" rule="vote"><member href="root/minds/good" weight="2"/>'
                   '<member href="root/minds/stubborn"/></society>')
    folder = society_folder(str(xml))
    assert os.path.basename(folder) == "team" and load_server(folder).kind == "society"
    assert load(folder).members[0].href == str(root / "minds" / "good")  # made absolute
    result = run_episode(str(root / "worlds" / "hello-python"), [folder], steps=25, seed=2)
    assert result["score"] == hello_bisect_score(2, 25)
    assert connect(folder).describe()["role"] == "mind"


def test_a_broken_society_file_ends_the_run_with_its_reason(tmp_path):
    folder = tmp_path / "minds" / "broken"
    folder.mkdir(parents=True)
    (folder / "wwm.toml").write_text('kind = "society"\nname = "broken"\ncommand = "python3 -m wwm.society"\n')
    (folder / "society.xml").write_text('<society rule="best"><member href="x"/></society>')
    run = connect(str(folder)).start_run()
    with pytest.raises(ProtocolError) as info:
        run.get_action("low: 1\nhigh: 100\n")
    assert "rule='best'" in str(info.value) and "society" in str(info.value)
