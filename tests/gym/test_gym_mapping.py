"""The text/XML rules of wwm.gym.mapping: every space type both ways, and the errors."""
import numpy as np
import pytest
from gymnasium import spaces as gs

from wwm.protocol.errors import GatewayError
from wwm.gym.mapping import SpaceError, codec, spec_of, to_toml

CARTPOLE_BOX = {"type": "Box", "low": [-4.8, float("-inf"), -0.41887903, float("-inf")],
                "high": [4.8, float("inf"), 0.41887903, float("inf")], "shape": [4], "dtype": "float32"}


def test_discrete_with_start_and_labels():
    c = codec({"type": "Discrete", "n": 100, "start": 1})
    assert c.encode(np.int64(50)) == "50" and c.parse(" 50\n") == 50
    with pytest.raises(SpaceError, match=r"'0' is not in the space Discrete\(100, start=1\)"):
        c.parse("0")
    labels = codec({"type": "Discrete", "n": 5, "labels": ["N", "S", "E", "W", "stay"]})
    assert labels.encode(4) == "stay" and labels.parse("e") == 2 and labels.parse("1") == 1
    with pytest.raises(SpaceError, match="'up'.*Discrete\\(5\\).*not an integer nor one of N, S, E, W, stay"):
        labels.parse("up")


def test_box_float32_round_trips_exactly_and_short():
    c = codec(CARTPOLE_BOX)
    rng = np.random.default_rng(0)
    assert c.parse("0 inf 0 -inf")[1] == np.inf   # CartPole's velocities are unbounded
    for _ in range(200):
        v = rng.normal(0, 1, 4).astype(np.float32) * np.float32([1, 10, 0.1, 10])
        v[0], v[2] = np.clip(v[0], -4.8, 4.8), np.clip(v[2], -0.41, 0.41)
        text = c.encode(v)
        back = c.parse(text)
        assert back.dtype == np.float32 and np.array_equal(back, v), (v, text)
    assert c.encode(np.float32([0.1, 1.0, -0.25, 3e-7])) == "0.1 1 -0.25 3e-07"
    assert c.parse("0.1, 1,-0.25 3e-07").tolist() == np.float32([0.1, 1, -0.25, 3e-7]).tolist()


def test_box_errors_name_value_and_space():
    c = codec(CARTPOLE_BOX)
    with pytest.raises(SpaceError, match=r"'9 0 0 0' is not in the space Box\("):
        c.parse("9 0 0 0")   # 9 > 4.8
    with pytest.raises(SpaceError, match="3 numbers, not 4"):
        c.parse("1 2 3")
    with pytest.raises(SpaceError, match="not numbers"):
        c.parse("1 2 x 3")
    grid = codec({"type": "Box", "low": 0, "high": 9, "shape": [2, 3], "dtype": "int64"})
    assert grid.parse("1 2 3 4 5 6").tolist() == [[1, 2, 3], [4, 5, 6]]
    assert grid.encode(np.arange(6).reshape(2, 3)) == "0 1 2 3 4 5"
    with pytest.raises(SpaceError):
        grid.parse("1 2 3 4 5 6.5")


def test_multidiscrete_multibinary_text():
    md = codec({"type": "MultiDiscrete", "nvec": [20, 10]})
    assert md.parse("5,3").tolist() == [5, 3] and md.encode(np.array([5, 3])) == "5 3"
    with pytest.raises(SpaceError, match=r"'20 3' is not in the space MultiDiscrete"):
        md.parse("20 3")
    mb = codec({"type": "MultiBinary", "n": 3})
    assert mb.parse("0 1 1").tolist() == [0, 1, 1]
    with pytest.raises(SpaceError):
        mb.parse("0 2 1")
    txt = codec({"type": "Text", "max_length": 5, "charset": "abc"})
    assert txt.parse("abca") == "abca"
    with pytest.raises(SpaceError, match="'abcd'"):
        txt.parse("abcd")
    anytext = codec({"type": "Text", "max_length": 8})
    assert anytext.parse("é ü\t") == "é ü\t" and anytext.space.contains(anytext.space.sample())


def test_dict_text_and_xml():
    c = codec({"type": "Dict", "spaces": {"low": {"type": "Discrete", "n": 100, "start": 1},
                                          "pos": {"type": "MultiDiscrete", "nvec": [20, 10]},
                                          "event": {"type": "Text", "max_length": 32}}})
    state = "####\n#R.#\nlow: 7\nother: ignored\npos: 5,3\nevent: cleaned dirt\n"
    v = c.decode(state)
    assert v["low"] == 7 and v["pos"].tolist() == [5, 3] and v["event"] == "cleaned dirt"
    assert c.encode(v) == "low: 7\npos: 5 3\nevent: cleaned dirt\n"
    assert c.space.contains(v)
    x = c.decode('<s event="moved"><low>9</low><pos>1 2</pos></s>')
    assert x["low"] == 9 and x["event"] == "moved"
    assert c.encode_xml(v) == "<action><low>7</low><pos>5 3</pos><event>cleaned dirt</event></action>"
    with pytest.raises(SpaceError, match="no value for pos, event"):
        c.decode("low: 7\n")
    with pytest.raises(SpaceError, match=r"^low: '0' is not in the space Discrete\(100, start=1\)"):
        c.decode("low: 0\npos: 1 1\nevent: x\n")
    assert codec({"type": "Discrete", "n": 3}).decode("<action>2</action>") == 2


def test_hostile_xml_is_refused():
    c = codec({"type": "Discrete", "n": 3})
    bomb = '<!DOCTYPE a [<!ENTITY e "1">]><a>&e;</a>'
    with pytest.raises(GatewayError):
        c.decode(bomb)


@pytest.mark.parametrize("spec", [
    {"type": "Nope"}, {"type": "Discrete"}, {"type": "Box", "low": 0, "high": 1, "shape": "x"},
    {"type": "Dict", "spaces": {"a": {"type": "Dict", "spaces": {}}}}, {"type": "Dict", "spaces": {"a b": {"type": "Discrete", "n": 2}}},
    {"type": "Discrete", "n": 2, "labels": ["only-one"]}, "Discrete",
])
def test_invalid_space_tables(spec):
    with pytest.raises(SpaceError):
        codec(spec)


def test_spec_of_round_trips_gymnasium_spaces():
    import tomllib

    for space in (gs.Discrete(4), gs.Discrete(3, start=-1), gs.Box(-1.5, 2.0, (2, 2)),
                  gs.Box(np.float32([-4.8, -np.inf]), np.float32([4.8, np.inf])), gs.MultiDiscrete([3, 4]),
                  gs.MultiBinary(5), gs.Dict({"a": gs.Discrete(2), "b": gs.Box(0, 1, (3,))})):
        spec = spec_of(space)
        parsed = tomllib.loads("x = " + to_toml(spec))["x"]
        assert codec(parsed).space == space, (space, to_toml(spec))


@pytest.mark.parametrize("text", ["nan 0 0 0", "1e999 0 0 0", "9" * 5000 + " 0 0 0", "0x10 0 0 0", "", "0 0 0 0 0",
                                  "１ 0 0 0", "1_0 0 0 0", "0 infinity 0 0"])
def test_box_refuses_hostile_numbers(text):
    with pytest.raises(SpaceError):
        codec(CARTPOLE_BOX).parse(text)


@pytest.mark.parametrize("text", ["9" * 5000, "1e3", "１", "0x1", "-"])
def test_discrete_refuses_hostile_numbers(text):
    with pytest.raises(SpaceError):
        codec({"type": "Discrete", "n": 2}).parse(text)
