"""``wwm new``: a new Mind or World folder from the hello template of a language."""
from __future__ import annotations

import os
import re
import shutil

from wwm.protocol.manifest import NAME_RE

LANGS = ("python", "sh", "c", "perl", "js")
TEMPLATES = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repository root


def template_dir(kind: str, lang: str) -> str:
    path = os.path.join(TEMPLATES, f"{kind}s", f"hello-{lang}")
    if not os.path.isfile(os.path.join(path, "wwm.toml")):
        raise ValueError(f"no {kind} template for {lang!r} at {path}; install wwm from its repository "
                         "(pip install -e .)")
    return path


def scaffold(kind: str, name: str, lang: str, root: str = ".") -> str:
    """Copy the hello template into ``root/{kind}s/name``; return the new folder.

    Links to the language's helper library are copied as files, so the new
    server is self-contained and can be moved to any gateway.  Build output
    (a compiled C program) is left behind.
    """
    if kind not in ("mind", "world"):
        raise ValueError("kind must be mind or world")
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {', '.join(LANGS)}")
    if not NAME_RE.match(name) or ".." in name:
        raise ValueError(f"invalid name {name!r}: use letters, digits, '.', '_' and '-' (64 at most)")
    source = template_dir(kind, lang)
    dest = os.path.join(root, f"{kind}s", name)
    if os.path.exists(dest):
        raise FileExistsError(f"{dest} already exists")
    with open(os.path.join(source, "wwm.toml"), encoding="utf-8") as f:
        manifest = f.read()
    built = re.search(r'^build_creates\s*=\s*"([^"]+)"', manifest, re.M)
    skip = {built.group(1)} if built else set()
    os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
    shutil.copytree(source, dest, symlinks=False,
                    ignore=lambda d, names: [n for n in names if n in skip or n.startswith(".")
                                             or n == "__pycache__"])
    manifest = re.sub(r'^name\s*=.*$', f'name = "{name}"', manifest, count=1, flags=re.M)
    manifest = re.sub(r'^description\s*=.*$', f'description = "A new {kind} in {lang}: describe it here."',
                      manifest, count=1, flags=re.M)
    with open(os.path.join(dest, "wwm.toml"), "w", encoding="utf-8") as f:
        f.write(manifest)
    return dest


def scaffold_gymnasium(name: str, env_id: str, root: str = ".") -> str:
    """A World folder ``root/worlds/name`` serving the Gymnasium environment ``env_id``."""
    if not NAME_RE.match(name) or ".." in name:
        raise ValueError(f"invalid name {name!r}: use letters, digits, '.', '_' and '-' (64 at most)")
    import gymnasium

    from wwm.gym.world import WORLD_PY, manifest

    try:
        text = manifest(name, env_id)
    except (gymnasium.error.Error, ImportError, ModuleNotFoundError) as exc:
        raise ValueError(f"cannot make the Gymnasium environment {env_id!r}: {exc}") from None
    dest = os.path.join(root, "worlds", name)
    if os.path.exists(dest):
        raise FileExistsError(f"{dest} already exists")
    os.makedirs(dest)
    with open(os.path.join(dest, "wwm.toml"), "w", encoding="utf-8") as f:
        f.write(text)
    with open(os.path.join(dest, "world.py"), "w", encoding="utf-8") as f:
        f.write(WORLD_PY.format(env_id=env_id))
    return dest
