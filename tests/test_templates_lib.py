"""The file-protocol helpers in wwm/lib/ (sh, C, Perl, JS) and the hello templates built on them.

Every hello World is played against every hello Mind and against the Python
reference of the hello game in tests/lib_driver.py; transcripts must match byte
for byte. Small echo programs, written here per language, check the helpers'
own rules (byte-exact payloads, reward embedding for text and XML, done, stop).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wwmtest import missing

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lib_driver import Program, RefWorld, play, ref_mind, ref_transcript  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LIB = ROOT / "wwm" / "lib"
LANGS = ["python", "sh", "c", "perl", "js"]
INCLUDED = ["sh", "c", "perl", "js"]  # languages whose helper is a file copied into the template
RUNTIME = {"python": "python3", "sh": "sh", "c": "cc", "perl": "perl", "js": "node"}


def _need(lang: str) -> None:
    if lang != "ref" and shutil.which(RUNTIME[lang]) is None:
        missing(f"{RUNTIME[lang]} (scripts/setup.sh installs it)")


def _world(lang, run_dir, seed):
    return None if lang == "ref" else Program(ROOT / "worlds" / f"hello-{lang}", run_dir, seed)


def _mind(lang, run_dir, seed=1):
    return None if lang == "ref" else Program(ROOT / "minds" / f"hello-{lang}", run_dir, seed)


def _assert_stops(prog: Program, within: float = 1.0) -> None:
    rc, elapsed, how = prog.stop()
    assert (how, rc) == ("stop", 0), f"{prog.folder.name}: ended by {how}, rc {rc}; log:\n{prog.log()}"
    assert elapsed < within, f"{prog.folder.name}: took {elapsed:.3f} s to stop"


# ----------------------------------------------------------------- layout
@pytest.mark.parametrize("kind", ["minds", "worlds"])
@pytest.mark.parametrize("lang", INCLUDED)
def test_template_folder(kind, lang):
    import tomllib

    folder = ROOT / kind / f"hello-{lang}"
    m = tomllib.loads((folder / "wwm.toml").read_text())
    assert m["name"] == folder.name and m["kind"] == kind[:-1]
    include = {"sh": "wwm.sh", "c": "wwm.h", "perl": "WWM.pm", "js": "wwm.js"}[lang]
    copy = folder / include
    # a real copy, so that `cp -r minds/ …` gives a working folder; kept identical to wwm/lib/
    assert not copy.is_symlink(), f"{copy} must be a copy, not a link"
    assert copy.read_bytes() == (LIB / include).read_bytes(), f"{copy} differs from wwm/lib/{include}: copy it again"


@pytest.mark.parametrize("std", ["", "-std=c99 -pedantic"])
@pytest.mark.parametrize("prog", ["minds/hello-c/mind.c", "worlds/hello-c/world.c"])
def test_c_compiles_without_warnings(prog, std, tmp_path):
    _need("c")
    src = ROOT / prog
    cmd = ["cc", "-O2", "-Wall", "-Wextra", "-Werror", *std.split(), "-o", str(tmp_path / "a.out"), src.name]
    r = subprocess.run(cmd, cwd=src.parent, capture_output=True, text=True)
    assert r.returncode == 0 and not r.stderr, r.stderr


# ----------------------------------------------------------------- every World x every Mind
PAIRS = [(w, m) for w in LANGS + ["ref"] for m in LANGS + ["ref"] if (w, m) != ("ref", "ref")]


@pytest.mark.parametrize("seed", [1, 7])
@pytest.mark.parametrize("world_lang,mind_lang", PAIRS, ids=[f"{w}-world-{m}-mind" for w, m in PAIRS])
def test_world_mind_pair_matches_reference(world_lang, mind_lang, seed, tmp_path):
    _need(world_lang), _need(mind_lang)
    world, mind = _world(world_lang, tmp_path / "w", seed), _mind(mind_lang, tmp_path / "m", seed)
    try:
        for p in (world, mind):
            if p:
                p.start()
        got = play(world, mind, seed, 50)
    finally:
        for p in (world, mind):
            if p and p.alive():
                _assert_stops(p)
    want = ref_transcript(seed, 50)
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, f"step {i}: got {g!r}, want {w!r}"
    assert len(got) == len(want) == 50
    assert int(want[-1][2].split("\n")[0]) > 0  # the game is actually being won


@pytest.mark.parametrize("seed", ["-3", "abc", "65538", " 12 "])
@pytest.mark.parametrize("lang", LANGS)
def test_world_seed_handling(lang, seed, tmp_path):
    _need(lang)
    with _world(lang, tmp_path / "w", seed) as world:
        got = play(world, None, seed, 20)
        _assert_stops(world)
    assert got == ref_transcript(seed, 20)


# ----------------------------------------------------------------- odd input
ODD_ACTIONS = ["banana", " 42 \n", "+7", "007", "-3", "1e3", "", "99999999999", "12abc", "0", "150",
               "-0", "\t5\r\n", "1000000000", "999999999", "- 5", "５"]


@pytest.mark.parametrize("lang", LANGS)
def test_world_odd_actions(lang, tmp_path):
    _need(lang)
    ref = RefWorld(1)
    with _world(lang, tmp_path / "w", 1) as world:
        assert world.take("state") == ref.first_state()
        world.put("action", "banana")
        assert world.take("state") == "reward: -1\nlow: 1\nhigh: 100\n"
        assert world.read("score") == "0\nsteps: 1\n"
        ref.step("banana")
        for a in ODD_ACTIONS[1:]:
            world.put("action", a)
            assert world.take("state") == ref.step(a), f"action {a!r}"
            assert world.read("score") == ref.score()
        assert world.read("done") is None  # the hello World never ends by itself
        _assert_stops(world)


ODD_STATES = ["banana", "", "reward: 1\nlow: 3\nhigh: 3\n", "low: -5\nhigh: -2\n", "high: 10\n", "low: 7",
              "low: x\nhigh: 9\n", "low: 2\r\nhigh: 9\r\n", "<state/>", "low: 999999999\nhigh: 999999999\n",
              " low: 5\n", "low: 1\nlow: 41\n", "high: -1\nlow: 0\n", "héllo ✓\n"]


@pytest.mark.parametrize("lang", LANGS)
def test_mind_odd_states(lang, tmp_path):
    _need(lang)
    with _mind(lang, tmp_path / "m") as mind:
        mind.put("state", "banana")
        assert mind.take("action") == "50\n"
        for s in ODD_STATES:
            mind.put("state", s)
            assert mind.take("action") == ref_mind(s), f"state {s!r}"
        assert mind.alive()
        _assert_stops(mind)


# ----------------------------------------------------------------- stop and signals
@pytest.mark.parametrize("kind", ["minds", "worlds"])
@pytest.mark.parametrize("lang", LANGS)
def test_stop_when_idle(kind, lang, tmp_path):
    """After 1.5 s idle (the sh helper is then blocked in inotifywait) a message is
    still answered promptly, and `stop` still ends the program within 1 s."""
    _need(lang)
    prog = Program(ROOT / kind / f"hello-{lang}", tmp_path / "r")
    with prog:
        if kind == "worlds":
            prog.take("state")
        time.sleep(1.5)
        t0 = time.monotonic()
        if kind == "worlds":
            prog.put("action", "50")
            prog.take("state")
        else:
            prog.put("state", "low: 1\nhigh: 100\n")
            assert prog.take("action") == "50\n"
        assert time.monotonic() - t0 < 1.2  # the sh helper's worst case is ~1 s (see docs/languages.md)
        time.sleep(1.5)
        _assert_stops(prog)


@pytest.mark.parametrize("kind", ["minds", "worlds"])
@pytest.mark.parametrize("lang", LANGS)
def test_sigterm_exits_zero(kind, lang, tmp_path):
    _need(lang)
    prog = Program(ROOT / kind / f"hello-{lang}", tmp_path / "r").start()
    if kind == "worlds":
        prog.take("state")
    else:
        prog.put("state", "low: 1\nhigh: 100\n")
        prog.take("action")
    time.sleep(0.3)
    rc, elapsed, how = prog.terminate()
    assert (how, rc) == ("term", 0), prog.log()
    assert elapsed < 1.0


@pytest.mark.parametrize("lang", LANGS)
def test_stop_before_first_message(lang, tmp_path):
    _need(lang)
    run = tmp_path / "r"
    run.mkdir()
    (run / "stop").write_text("")
    (run / "state").write_text("low: 1\nhigh: 100\n")
    prog = Program(ROOT / "minds" / f"hello-{lang}", run).start()
    rc = prog.proc.wait(timeout=5)
    assert rc == 0 and (run / "state").exists() and not (run / "action").exists()


# ----------------------------------------------------------------- the helpers themselves
ECHO = {
    "sh": ("sh ./mind.sh", None, r'''. "$WWM_SERVER_DIR/wwm.sh"
act() { printf '%s' "$1"; }
wwm_serve_mind act
''', "sh ./world.sh", None, r'''. "$WWM_SERVER_DIR/wwm.sh"
n=0
start() { printf 'seed %s\n' "$1"; }
step() { n=$((n + 1)); WWM_REWARD=0.5; case $1 in end*) WWM_DONE=1 ;; esac; printf '%s' "$1"; }
score() { printf '%s\n' "$n"; }
wwm_serve_world start step score
'''),
    "c": ("./mind", "cc -O2 -Wall -Wextra -Werror -o mind mind.c", r'''#include "wwm.h"
static const char *act(const char *state, void *ctx) { (void)ctx; return state; }
int main(void) { return wwm_serve_mind(act, NULL); }
''', "./world", "cc -O2 -Wall -Wextra -Werror -o world world.c", r'''#include "wwm.h"
static char buf[128]; static char *last; static int n;
static const char *reset(void *c, long seed) { (void)c; snprintf(buf, sizeof buf, "seed %ld\n", seed); return buf; }
static const char *step(void *c, const char *a, double *r, int *done)
{ (void)c; n++; *r = 0.5; *done = strncmp(a, "end", 3) == 0; free(last); last = strdup(a); return last; }
static const char *score(void *c) { (void)c; snprintf(buf, sizeof buf, "%d\n", n); return buf; }
int main(void) { struct wwm_world w = {reset, step, score}; return wwm_serve_world(&w, NULL); }
'''),
    "perl": ("perl ./mind.pl", None, r'''use lib $ENV{WWM_SERVER_DIR}; use WWM;
WWM::serve_mind(sub { $_[0] });
''', "perl ./world.pl", None, r'''use lib $ENV{WWM_SERVER_DIR}; use WWM;
my $n = 0;
WWM::serve_world(reset => sub { "seed $_[0]\n" },
                 step => sub { $n++; ($_[0], 0.5, $_[0] =~ /\Aend/ ? 1 : 0) },
                 score => sub { "$n\n" });
'''),
    "js": ("node ./mind.js", None, r'''const wwm = require(process.env.WWM_SERVER_DIR + '/wwm.js');
wwm.serveMind((s) => s);
''', "node ./world.js", None, r'''const wwm = require(process.env.WWM_SERVER_DIR + '/wwm.js');
let n = 0;
wwm.serveWorld({ reset: (seed) => `seed ${seed}\n`,
                 step: (a) => { n++; return { state: a, reward: 0.5, done: a.startsWith('end') }; },
                 score: () => `${n}\n` });
'''),
}
INCLUDE = {"sh": "wwm.sh", "c": "wwm.h", "perl": "WWM.pm", "js": "wwm.js"}
EXT = {"sh": "sh", "c": "c", "perl": "pl", "js": "js"}


def _echo_server(tmp_path: Path, lang: str, kind: str) -> Path:
    cmd_m, build_m, src_m, cmd_w, build_w, src_w = ECHO[lang]
    cmd, build, src = (cmd_m, build_m, src_m) if kind == "mind" else (cmd_w, build_w, src_w)
    folder = tmp_path / f"echo-{lang}-{kind}"
    folder.mkdir()
    (folder / f"{kind}.{EXT[lang]}").write_text(src)
    os.symlink(LIB / INCLUDE[lang], folder / INCLUDE[lang])
    manifest = f'kind = "{kind}"\nname = "{folder.name}"\ncommand = "{cmd}"\n'
    if build:
        manifest += f'build = "{build}"\nbuild_creates = "{kind}"\n'
    (folder / "wwm.toml").write_text(manifest)
    return folder


PAYLOADS = ["hello\n", "two\nlines\n", "héllo ✓ — ünïcode\n", "<state><x a='1'>5</x></state>\n",
            "".join(f"line {i} {'x' * 90}\n" for i in range(100)), "  spaces and\ttabs  \n"]


@pytest.mark.parametrize("lang", INCLUDED)
def test_mind_helper_payloads_are_byte_exact(lang, tmp_path):
    _need(lang)
    with Program(_echo_server(tmp_path, lang, "mind"), tmp_path / "r") as mind:
        for p in PAYLOADS:
            mind.put("state", p)
            assert mind.take("action") == p
            assert not (tmp_path / "r" / "state").exists()  # consumed
        # a reply without a final newline gets one (sh: the function prints what it wants)
        mind.put("state", "no newline")
        assert mind.take("action") == ("no newline" if lang == "sh" else "no newline\n")
        _assert_stops(mind)


@pytest.mark.parametrize("lang", INCLUDED)
def test_world_helper_reward_score_done(lang, tmp_path):
    _need(lang)
    with Program(_echo_server(tmp_path, lang, "world"), tmp_path / "r", seed=" 42 ") as world:
        assert world.take("state") == "seed 42\n"
        assert world.read("score") == "0\n"
        cases = [("hi\n", "reward: 0.5\nhi\n"),
                 ("<s a='1'>x</s>", "<s a='1'><reward>0.5</reward>x</s>"),
                 ("<s/>", "<s><reward>0.5</reward></s>"),
                 ("<s b=\"2\"/>\n", "<s b=\"2\"><reward>0.5</reward></s>\n")]
        for i, (action, state) in enumerate(cases, 1):
            world.put("action", action)
            assert world.take("state") == state
            assert world.read("score") == f"{i}\n"
            assert not (tmp_path / "r" / "action").exists()  # consumed
        assert world.read("done") is None
        world.put("action", "end\n")
        assert world.take("state") == "reward: 0.5\nend\n"
        assert world.read("done") is not None  # written before the state
        _assert_stops(world)


@pytest.mark.parametrize("lang", LANGS)
def test_program_exits_when_run_dir_removed(lang, tmp_path):
    """A run directory reaped by the gateway must not leave an orphan polling forever."""
    _need(lang)
    run = tmp_path / "r"
    prog = Program(ROOT / "minds" / f"hello-{lang}", run).start()
    prog.put("state", "low: 1\nhigh: 100\n")
    prog.take("action")
    shutil.rmtree(run)
    try:
        assert prog.proc.wait(timeout=5) == 0
    finally:
        prog._signal(9)


# ----------------------------------------------------------------- the fallbacks: plain polling
def _without_inotify(tmp_path: Path, kind: str, lang: str) -> tuple[Path, dict]:
    """A copy of a hello server that cannot use inotify: C built with -DWWM_NO_INOTIFY;
    sh run with a PATH that has no inotifywait. Returns (folder, env overrides)."""
    src = ROOT / kind / f"hello-{lang}"
    folder = tmp_path / f"{kind}-{lang}-poll"
    folder.mkdir()
    prog = kind[:-1]
    for f in src.iterdir():
        if f.suffix in (".c", ".sh", ".h"):  # the program and its copy of the helper
            shutil.copy(f, folder / f.name)
    manifest = (src / "wwm.toml").read_text().replace(f'name = "hello-{lang}"', f'name = "{folder.name}"')
    env = {}
    if lang == "c":
        manifest = manifest.replace("cc -O2 ", "cc -O2 -DWWM_NO_INOTIFY ")
    else:
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir(exist_ok=True)
        for tool in ("sh", "sleep", "mv", "rm"):
            if not (bin_dir / tool).exists():
                os.symlink(shutil.which(tool), bin_dir / tool)
        env["PATH"] = str(bin_dir)
    (folder / "wwm.toml").write_text(manifest)
    assert prog in manifest
    return folder, env


@pytest.mark.parametrize("lang", ["sh", "c"])
def test_polling_fallback(lang, tmp_path):
    _need(lang)
    progs = []
    for kind in ("worlds", "minds"):
        folder, env = _without_inotify(tmp_path, kind, lang)
        p = Program(folder, tmp_path / f"run-{kind}", 7)
        p.env.update(env)
        progs.append(p.start())
    world, mind = progs
    try:
        assert play(world, mind, 7, 30) == ref_transcript(7, 30)
        time.sleep(1.2)  # idle: the slowest polling rate
        t0 = time.monotonic()
        mind.put("state", "low: 1\nhigh: 100\n")
        assert mind.take("action") == "50\n"
        assert time.monotonic() - t0 < 0.2
    finally:
        for p in progs:
            _assert_stops(p)
