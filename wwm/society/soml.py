"""SOML-style society files: who the members are and how they are arbitrated.

    <society name="hello-trio" rule="vote" deadline="0.5">
      <description>Three guessers in one Mind.</description>
      <member href="../hello-python"/>
      <member href="http://127.0.0.1:8000/wwm/minds/hello-c" weight="2" name="c"/>
    </society>

A member's ``href`` is an http(s) URL of a Mind on any gateway (Flask or CGI),
a server folder (relative to the society file's folder), or another society
file (``.xml``).  ``<mind url=...>`` is read as ``<member href=...>`` (the WWM
draft's MindM lists).  Attributes of ``<society>`` (all optional but ``rule``):

=================  =========  ====================================================
attribute          default    meaning
=================  =========  ====================================================
rule               (needed)   w-learning | collective | worst-unhappiness | vote |
                              borda | rrf
deadline           0.5        seconds to wait for members each step
first-deadline     10         the same for a run's first step (members start up)
patience           5          when no member answered by the deadline, wait this
                              long for the first answer before giving up
retry              1          seconds before a failed member is tried again
actions            auto       single | ranked; auto: ranked for borda and rrf
size               longest    items in a fused ranked list
k                  60         the constant of reciprocal rank fusion
alpha, gamma       0.1, 0.9   W-learning's learning rate and discount
annotate           false      add the society's own w and q to its answers (for
                              a society that is a member of another)
fallback           (none)     an action to answer when no member answers; without
                              it the run ends with a clear error
=================  =========  ====================================================
"""
from __future__ import annotations

import atexit
import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET
from xml.sax.saxutils import quoteattr

from wwm.protocol.errors import GatewayError
from wwm.protocol.manifest import NAME_RE
from wwm.protocol.xmlsafe import parse_xml
from wwm.society.rules import RULES

__all__ = ["Member", "Spec", "SocietyFileError", "load", "parse", "to_xml", "society_folder",
           "SOCIETY_FILE", "COMMAND"]

SOCIETY_FILE = "society.xml"
COMMAND = "python3 -m wwm.society"
MAX_MEMBERS = 64
MAX_FILE = 1 << 20


class SocietyFileError(ValueError):
    """A society file that cannot be used: bad XML, unknown rule, no members..."""


@dataclass(frozen=True)
class Member:
    """One member: where it is, its name in reports, and its weight ``c_i``."""

    href: str
    name: str
    weight: float = 1.0

    @property
    def remote(self) -> bool:
        return self.href.startswith(("http://", "https://"))


@dataclass
class Spec:
    """A parsed society file (see the module docstring for every field)."""

    name: str
    rule: str
    members: list[Member]
    description: str = ""
    deadline: float = 0.5
    first_deadline: float = 10.0
    patience: float = 5.0
    retry: float = 1.0
    actions: str = "auto"
    size: int | None = None
    k: float = 60.0
    alpha: float = 0.1
    gamma: float = 0.9
    annotate: bool = False
    fallback: str | None = None
    base: str = ""                     # the folder hrefs were resolved against
    extra: dict = field(default_factory=dict)

    @property
    def ranked(self) -> bool:
        """Whether actions are ranked lists."""
        if self.actions == "auto":
            return self.rule in ("borda", "rrf")
        return self.actions == "ranked"


def _float(attrs: dict, name: str, default: float, low: float = 0.0, high: float = math.inf) -> float:
    if name not in attrs:
        return default
    try:
        value = float(attrs[name])
    except ValueError:
        raise SocietyFileError(f"{name}={attrs[name]!r} is not a number") from None
    if not (low <= value <= high):
        raise SocietyFileError(f"{name}={attrs[name]!r} must be between {low:g} and {high:g}")
    return value


def _resolve(href: str, base: str) -> str:
    href = href.strip()
    if re.match(r"^[a-z][a-z0-9+.-]*://", href, re.I):
        if not href.startswith(("http://", "https://")):
            raise SocietyFileError(f"member {href!r}: only http(s) URLs and folders are members")
        return href
    return os.path.normpath(os.path.join(base, os.path.expanduser(href)))


def parse(text: str | bytes, base: str = ".", default_name: str = "society") -> Spec:
    """Read a society file's text; relative hrefs are resolved against ``base``.

    Raises:
        SocietyFileError: with a message that says what to fix.
    """
    if len(text) > MAX_FILE:
        raise SocietyFileError(f"a society file is at most {MAX_FILE} bytes")
    try:
        root = parse_xml(text, "society file")
    except GatewayError as exc:
        raise SocietyFileError(str(exc)) from None
    if root.tag not in ("society", "soml", "MindM", "mindm"):
        raise SocietyFileError(f"the root element must be <society>, not <{root.tag}>")
    a = dict(root.attrib)
    rule = a.get("rule", "").strip()
    if rule not in RULES:
        raise SocietyFileError(f"rule={rule!r}: choose one of {', '.join(RULES)}")
    name = a.get("name", default_name).strip() or default_name
    base = os.path.abspath(base)
    members, names = [], set()
    for el in root:
        if el.tag not in ("member", "mind", "Mind"):
            continue
        href = el.get("href") or el.get("url") or (el.text or "").strip()
        if not href:
            raise SocietyFileError(f"<{el.tag}> needs an href")
        href = _resolve(href, base)
        mname = (el.get("name") or "").strip() or _default_member_name(href)
        stem, n = mname, 2
        while mname in names:
            mname, n = f"{stem}-{n}", n + 1
        names.add(mname)
        weight = _float(el.attrib, "weight", 1.0, 0.0, 1e6)
        members.append(Member(href, mname, weight))
    if not members:
        raise SocietyFileError(f"society {name!r} has no <member href=...>")
    if len(members) > MAX_MEMBERS:
        raise SocietyFileError(f"a society has at most {MAX_MEMBERS} members")
    actions = a.get("actions", "auto")
    if actions not in ("auto", "single", "ranked"):
        raise SocietyFileError(f"actions={actions!r}: choose auto, single or ranked")
    size = None
    if "size" in a:
        size = int(_float(a, "size", 10, 1, 1000))
    desc = root.find("description")
    return Spec(
        name=name, rule=rule, members=members,
        description=(desc.text or "").strip() if desc is not None else a.get("description", ""),
        deadline=_float(a, "deadline", 0.5, 0.001, 600),
        first_deadline=_float(a, "first-deadline", 10.0, 0.001, 600),
        patience=_float(a, "patience", 5.0, 0.0, 600),
        retry=_float(a, "retry", 1.0, 0.0, 3600),
        actions=actions, size=size,
        k=_float(a, "k", 60.0, 0.0, 1e9),
        alpha=_float(a, "alpha", 0.1, 0.0, 1.0),
        gamma=_float(a, "gamma", 0.9, 0.0, 1.0),
        annotate=a.get("annotate", "false").lower() in ("true", "yes", "1"),
        fallback=a.get("fallback"),
        base=base,
    )


def _default_member_name(href: str) -> str:
    tail = href.rstrip("/").rsplit("/", 1)[-1]
    tail = re.sub(r"\.xml$", "", tail)
    return re.sub(r"[^A-Za-z0-9_.-]", "-", tail) or "member"


def load(path: str) -> Spec:
    """Read a society file, or a society server folder (its ``society.xml``)."""
    if os.path.isdir(path):
        folder = os.path.abspath(path)
        path = os.path.join(folder, SOCIETY_FILE)
        default = os.path.basename(folder)
    else:
        default = os.path.splitext(os.path.basename(path))[0]
    try:
        with open(path, "rb") as f:
            text = f.read(MAX_FILE + 1)
    except FileNotFoundError:
        raise SocietyFileError(f"no society file at {path}") from None
    return parse(text, os.path.dirname(os.path.abspath(path)), default)


def to_xml(spec: Spec) -> str:
    """Write a spec back as a society file (hrefs as they are, absolute for folders)."""
    attrs = {"name": spec.name, "rule": spec.rule, "deadline": repr(spec.deadline),
             "first-deadline": repr(spec.first_deadline), "patience": repr(spec.patience),
             "retry": repr(spec.retry), "actions": spec.actions, "k": repr(spec.k),
             "alpha": repr(spec.alpha), "gamma": repr(spec.gamma),
             "annotate": "true" if spec.annotate else "false"}
    if spec.size:
        attrs["size"] = str(spec.size)
    if spec.fallback is not None:
        attrs["fallback"] = spec.fallback
    head = "<society" + "".join(f" {k}={quoteattr(v)}" for k, v in attrs.items()) + ">\n"
    body = ""
    if spec.description:
        desc = ET.Element("description")
        desc.text = spec.description
        body += "  " + ET.tostring(desc, encoding="unicode") + "\n"
    for m in spec.members:
        body += f"  <member href={quoteattr(m.href)} name={quoteattr(m.name)} weight={quoteattr(repr(m.weight))}/>\n"
    return head + body + "</society>\n"


def manifest(spec: Spec, step_timeout: float | None = None) -> str:
    """A ``wwm.toml`` for a society server folder serving ``spec``."""
    desc = spec.description or f"A society of {len(spec.members)} Minds ({spec.rule})."
    # the society answers within deadline (+ patience when nobody answered in time)
    timeout = step_timeout or max(10.0, spec.deadline + spec.patience + 2.0)
    esc = lambda s: s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")  # noqa: E731
    return (f'kind = "society"\nname = "{esc(spec.name)}"\ndescription = "{esc(desc)}"\n'
            f'author = "wwm"\ncommand = "{COMMAND}"\nformats = ["text", "xml"]\n'
            f"[limits]\nstep_timeout = {timeout:g}\n")


_TEMP: list[str] = []


def _cleanup() -> None:
    for path in _TEMP:
        shutil.rmtree(path, ignore_errors=True)


def society_folder(path: str, parent: str | None = None) -> str:
    """Turn a society file into a society server folder; return the folder.

    The folder is ``PARENT/minds/NAME`` (a fresh temporary PARENT by default,
    removed when the process exits), holding ``wwm.toml`` (kind ``society``)
    and ``society.xml`` with every folder href made absolute, so the folder
    works wherever a Mind folder does: ``wwm run WORLD FOLDER``,
    ``wwm.client.connect(FOLDER)``, a gateway's root.  A folder given as
    ``path`` is returned unchanged.
    """
    if os.path.isdir(path):
        return os.path.abspath(path)
    spec = load(path)
    name = spec.name if NAME_RE.match(spec.name) else re.sub(r"[^A-Za-z0-9_.-]", "-", spec.name)[:64] or "society"
    if parent is None:
        parent = tempfile.mkdtemp(prefix="wwm-society-")
        if not _TEMP:
            atexit.register(_cleanup)
        _TEMP.append(parent)
    folder = os.path.join(parent, "minds", name)
    os.makedirs(folder, exist_ok=True)
    spec.name = name
    with open(os.path.join(folder, SOCIETY_FILE), "w", encoding="utf-8") as f:
        f.write(to_xml(spec))
    with open(os.path.join(folder, "wwm.toml"), "w", encoding="utf-8") as f:
        f.write(manifest(spec))
    return folder
