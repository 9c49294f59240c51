"""The compiled CGI variant installed under the readable file's name (cgi-bin/wwm.py):
without WWM_ROOT/WWM_RUNS it still finds ROOT and RUNS next to itself."""
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYTHON = shutil.which("python3")


def test_compiled_variant_named_wwm_py_uses_its_folder(tmp_path):
    cgi_bin = tmp_path / "cgi-bin"
    (cgi_bin / "worlds").mkdir(parents=True)
    shutil.copytree(REPO / "worlds" / "hello-python", cgi_bin / "worlds" / "hello-python",
                    ignore=shutil.ignore_patterns("__pycache__"))
    dest = cgi_bin / "wwm.py"
    subprocess.run([PYTHON, "-I", "-S", str(REPO / "cgi-bin" / "wwm.py"), "--compile", str(dest)],
                   check=True, timeout=60, capture_output=True)
    assert dest.read_bytes()[:2] == b"#!" and b"PK" in dest.read_bytes()[:200]  # a zip, not the source
    out = subprocess.run([PYTHON, "-I", "-S", str(dest), "--check"], capture_output=True, text=True,
                         timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert f"root: {cgi_bin}\nruns: {cgi_bin / 'wwm-runs'}\n" in out.stdout
    assert "hello-python" in out.stdout
