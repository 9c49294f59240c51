"""Manifests, the error tree and the reward format, without a gateway."""
from __future__ import annotations

import pytest

from wwm.protocol import errors
from wwm.protocol.errors import GatewayError, NotFound, WWMError, error_for_code
from wwm.protocol.manifest import DEFAULT_LIMITS, find_server, list_servers, load_server
from wwm.protocol.rewards import join_reward, score_value, split_reward


def make(tmp_path, sub, name, text):
    folder = tmp_path / sub / name
    folder.mkdir(parents=True)
    (folder / "wwm.toml").write_text(text)
    return folder


def test_load_server_checks_the_manifest(tmp_path):
    ok = make(tmp_path, "worlds", "w", 'kind = "world"\ncommand = "./w"\n[limits]\nmax_runs = 3\nidle = -1\n')
    s = load_server(str(ok))
    assert (s.id, s.role, s.limits["max_runs"], s.limits["idle"]) == ("worlds/w", "world", 3, DEFAULT_LIMITS["idle"])
    for name, text, reason in [("k", 'kind = "robot"\ncommand = "x"\n', "kind"),
                               ("c", 'kind = "mind"\n', "command"),
                               ("n", 'kind = "mind"\nname = "other"\ncommand = "x"\n', "differs"),
                               ("t", 'kind = "mind\n', "invalid")]:
        with pytest.raises(GatewayError, match=reason):
            load_server(str(make(tmp_path, "minds", name, text)))


@pytest.mark.parametrize("name", ["../worlds/w", "worlds/../../etc", "/etc/passwd", "..", "x/w", "w\0", "a" * 65])
def test_find_server_refuses_paths_outside_the_folders(tmp_path, name):
    make(tmp_path, "worlds", "w", 'kind = "world"\ncommand = "./w"\n')
    with pytest.raises(NotFound):
        find_server(str(tmp_path), name)


def test_a_name_in_both_folders_must_be_qualified(tmp_path):
    make(tmp_path, "worlds", "x", 'kind = "world"\ncommand = "./w"\n')
    make(tmp_path, "minds", "x", 'kind = "mind"\ncommand = "./m"\n')
    with pytest.raises(NotFound, match="worlds/x or minds/x"):
        find_server(str(tmp_path), "x")
    assert find_server(str(tmp_path), "minds/x").kind == "mind"
    assert [s.id for s in list_servers(str(tmp_path))] == ["worlds/x", "minds/x"]


def test_every_error_is_a_wwm_error_with_its_code():
    for cls in (errors.BadRequest, errors.NotFound, errors.MethodNotAllowed, errors.Conflict, errors.TooLarge,
                errors.TooManyRuns, errors.ProtocolError, errors.ProgramTimeout):
        assert issubclass(cls, WWMError) and isinstance(error_for_code(cls.code, "m"), cls)
    assert issubclass(errors.ConnectionFailed, WWMError) and issubclass(errors.BadResponse, errors.ClientError)
    odd = error_for_code(418, "teapot", run="r")
    assert type(odd) is GatewayError and odd.code == 418 and odd.run == "r"


@pytest.mark.parametrize("state", ["x=1\ny=2", "<s a='1'><b/>t</s>", "<s/>"])
def test_rewards_ride_in_states_and_come_out_again(state):
    for reward in (1.0, -0.25, 0):
        joined = join_reward(state, reward)
        back, r = split_reward(joined)
        assert r == reward and (back == state or split_reward(back)[1] is None)
    assert split_reward(state) == (state, None)


def test_score_value_reads_the_first_word():
    assert score_value("35\nsteps: 200") == 35.0
    assert score_value("") is None and score_value("win") is None
