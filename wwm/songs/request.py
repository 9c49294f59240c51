"""States and actions of the song World and the replay World, in text and XML, and forgiving
free-text matching ("songs like Enter Sandman").  Standard library only (plus the catalog).

Text state (one ``key: value`` per line; the World's reward line ``reward: R`` comes first and is
added by ``wwm.program``)::

    world: songs
    community: metal
    listener: L042
    step: 3 of 200
    accepted: 5QTxFnGygVM4jFQiBovmRo | Master Of Puppets — Metallica
    listened: 5QTxFnGygVM4jFQiBovmRo | Master Of Puppets — Metallica
    request: songs like Enter Sandman — Metallica
    seed: 1hKdDCpiI9mqz1jVHRKG0E | Enter Sandman — Metallica
    recent: 5QTxFnGygVM4jFQiBovmRo | Master Of Puppets — Metallica

A value that names a track is ``ID | human label``: the id is the first token.  ``recent`` lines
run oldest first.  The replay World uses ``user:`` and one ``history:`` line of space-separated
item ids (oldest first) instead of ``listener:``/``recent:``.

XML state: one ``<request>`` element (attributes world, community, listener|user, step, steps)
with children ``<reward>`` (added by wwm.program), ``<accepted id=…>``, ``<listened id=…>``,
``<text>``, ``<seed id=…>``, ``<recent id=…>`` (repeated), ``<history>ids</history>``,
``<error>``, ``<note>``.  The element text of a track child is its label.

Action, text: up to 10 ids, best first, separated by newlines, commas or spaces.  On each line
everything after ``|`` or ``#`` is a comment (so ``ID | label`` lines may be echoed back), and a
line of the form ``key: value`` (e.g. ``w: 0.8``) is an annotation, ignored by the World.
Action, XML: ``<action><track id="ID"/>…</action>`` (``<item>`` is accepted too, as is the id as
element text); attributes of the root (``w``) are annotations.
"""
from __future__ import annotations

import difflib
import heapq
import random
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from .catalog import Catalog, normalize

MAX_ACTION_ITEMS = 10
MAX_ACTION_BYTES = 4096
MAX_STATE_BYTES = 65536
MAX_XML_BYTES = 65536


class FormatError(ValueError):
    """A payload that cannot be read at all."""


# ----------------------------------------------------------------------------- safe XML
def parse_xml(payload: str, limit: int = MAX_XML_BYTES) -> ET.Element:
    """Parse one XML element safely: size cap, no DTD, no entities (so no expansion bombs and
    no external fetches), no processing instructions."""
    if len(payload.encode("utf-8", "replace")) > limit:
        raise FormatError(f"XML larger than {limit} bytes")
    low = payload.lower()
    if "<!doctype" in low or "<!entity" in low or "<?xml-stylesheet" in low:
        raise FormatError("DTDs and entity declarations are refused")
    try:
        return ET.fromstring(payload.strip())
    except ET.ParseError as e:
        raise FormatError(f"malformed XML: {e}") from None


# ----------------------------------------------------------------------------- actions
@dataclass
class ParsedAction:
    ids: list[str]                       # as written, in order (may include bad ones)
    annotations: dict[str, str] = field(default_factory=dict)


_ANNOT = re.compile(r"^\s*([A-Za-z_][\w-]*)\s*:\s*(.*)$")
_SPLIT = re.compile(r"[\s,;]+")


def parse_action(payload: str) -> ParsedAction:
    """Read a text or XML action into ids (best first).  Raises :class:`FormatError` for a
    payload that is too large or not readable; the caller checks length/ids/duplicates."""
    if payload is None:
        raise FormatError("no action")
    if len(payload.encode("utf-8", "replace")) > MAX_ACTION_BYTES:
        raise FormatError(f"action larger than {MAX_ACTION_BYTES} bytes")
    text = payload.strip()
    if text.startswith("<"):
        root = parse_xml(text, MAX_ACTION_BYTES)
        ids: list[str] = []
        for el in root.iter():
            if el is root:
                continue
            if el.tag in ("track", "item"):
                v = (el.get("id") or el.text or "").strip()
                ids.append(v)
        return ParsedAction(ids=ids, annotations={k: v for k, v in root.attrib.items()})
    ids = []
    ann: dict[str, str] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].split("|", 1)[0].strip()
        if not line:
            continue
        m = _ANNOT.match(line)
        if m:
            ann[m.group(1).lower()] = m.group(2).strip()
            continue
        ids.extend(x for x in _SPLIT.split(line) if x)
    return ParsedAction(ids=ids, annotations=ann)


def format_action(ids: list[str], xml: bool = False, catalog: Catalog | None = None,
                  w: float | None = None) -> str:
    """Write an action.  With a catalog, text lines carry the human label after ``|``."""
    if xml:
        attr = f" w={quoteattr(repr(float(w)))}" if w is not None else ""
        inner = "".join(f"<track id={quoteattr(str(i))}/>" for i in ids)
        return f"<action{attr}>{inner}</action>"
    lines = []
    if w is not None:
        lines.append(f"w: {float(w)!r}")
    for i in ids:
        if catalog is not None and i in catalog:
            lines.append(f"{i} | {catalog.track(i).label}")
        else:
            lines.append(str(i))
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- states
@dataclass
class Request:
    """What a Mind reads from a state (song or replay World)."""
    world: str = ""
    mode: str = ""                 # replay World: "test" (read-only: nothing revealed) or "train"
    community: str = ""
    listener: str = ""             # song World listener, or replay-World user
    step: int | None = None
    steps: int | None = None
    seed: str | None = None
    recent: list[str] = field(default_factory=list)   # oldest first (songs: recent; replay: history)
    text: str | None = None
    accepted: str | None = None    # previous action: the track the listener took from it (or None)
    listened: str | None = None    # previous request: what the listener actually played next
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reward: float | None = None
    xml: bool = False
    ask: object | None = None      # Mind side: what the free text asks for (an Interpretation)

    @property
    def history(self) -> list[str]:
        """The request's item history (recent listens, then the seed), oldest first."""
        h = list(self.recent)
        if self.seed and (not h or h[-1] != self.seed):
            h.append(self.seed)
        return h

    @property
    def empty(self) -> bool:
        return not self.seed and not self.recent and not (self.text or "").strip()


def _first_token(value: str) -> str | None:
    v = value.split("|", 1)[0].strip()
    if not v or v.lower() in ("none", "-", "nothing"):
        return None
    return v.split()[0]


def _step_value(req: Request, value: str) -> None:
    m = re.match(r"\s*(\d+)(?:\s*(?:of|/)\s*(\d+))?", value)
    if m:
        req.step = int(m.group(1))
        req.steps = int(m.group(2)) if m.group(2) else None


def parse_state(payload: str | None) -> Request:
    """Read a song-World or replay-World state (text or XML).  Never raises for content: an
    unreadable payload gives a Request with ``errors`` set (and nothing else)."""
    req = Request()
    if payload is None:
        req.errors.append("no state")
        return req
    text = payload.strip()
    if len(text.encode("utf-8", "replace")) > MAX_STATE_BYTES:
        req.errors.append(f"state larger than {MAX_STATE_BYTES} bytes")
        return req
    if text.startswith("<"):
        req.xml = True
        try:
            root = parse_xml(text, MAX_STATE_BYTES)
        except FormatError as e:
            req.errors.append(str(e))
            return req
        a = root.attrib
        req.world = a.get("world", "")
        req.mode = a.get("mode", "")
        req.community = a.get("community", "")
        req.listener = a.get("listener") or a.get("user") or ""
        if a.get("step"):
            _step_value(req, a.get("step", "") + (" of " + a["steps"] if a.get("steps") else ""))
        for el in root:
            tag = el.tag
            val = (el.text or "").strip()
            if tag == "reward":
                try:
                    req.reward = float(val)
                except ValueError:
                    pass
            elif tag in ("seed", "recent", "accepted", "listened"):
                tid = (el.get("id") or "").strip() or None
                if tag == "seed":
                    req.seed = tid
                elif tag == "recent":
                    if tid:
                        req.recent.append(tid)
                elif tag == "accepted":
                    req.accepted = tid
                else:
                    req.listened = tid
            elif tag == "history":
                req.recent.extend(val.split())
            elif tag == "text":
                req.text = val or None
            elif tag == "error":
                req.errors.append(val)
            elif tag == "note":
                req.notes.append(val)
        return req
    for line in text.splitlines():
        if ":" not in line:
            if line.strip() and req.text is None and not any(":" in x for x in text.splitlines()):
                req.text = line.strip()       # a bare line of free text ("songs like X")
            continue
        key, _, value = line.partition(":")
        key = key.strip().lower()
        value = value.strip()
        if key == "reward":
            try:
                req.reward = float(value)
            except ValueError:
                pass
        elif key == "world":
            req.world = value
        elif key == "mode":
            req.mode = value
        elif key == "community":
            req.community = value
        elif key in ("listener", "user"):
            req.listener = value
        elif key == "step":
            _step_value(req, value)
        elif key == "seed":
            req.seed = _first_token(value)
        elif key == "recent":
            t = _first_token(value)
            if t:
                req.recent.append(t)
        elif key == "history":
            req.recent.extend(value.split())
        elif key in ("request", "text"):
            req.text = value or None
        elif key == "accepted":
            req.accepted = _first_token(value)
        elif key == "listened":
            req.listened = _first_token(value)
        elif key == "error":
            req.errors.append(value)
        elif key == "note":
            req.notes.append(value)
    return req


def _track_line(key: str, catalog: Catalog | None, tid: str | None) -> str:
    if tid is None:
        return f"{key}: none"
    if catalog is not None and tid in catalog:
        return f"{key}: {tid} | {catalog.track(tid).label}"
    return f"{key}: {tid}"


def format_state(req: Request, catalog: Catalog | None = None, xml: bool = False,
                 history_line: bool = False) -> str:
    """Write a state (without the reward, which wwm.program adds).  ``history_line``: write the
    items as one ``history:`` line (the replay World) instead of ``recent:`` lines."""
    if xml:
        attrs = [("world", req.world)]
        if req.mode:
            attrs.append(("mode", req.mode))
        if req.community:
            attrs.append(("community", req.community))
        if req.listener:
            attrs.append(("user" if history_line else "listener", req.listener))
        if req.step is not None:
            attrs.append(("step", str(req.step)))
        if req.steps is not None:
            attrs.append(("steps", str(req.steps)))
        out = ["<request" + "".join(f" {k}={quoteattr(v)}" for k, v in attrs) + ">"]

        def tr(tag, tid):
            if tid is None:
                return f"<{tag}/>"
            label = catalog.track(tid).label if catalog is not None and tid in catalog else ""
            return f"<{tag} id={quoteattr(tid)}>{escape(label)}</{tag}>"
        if (req.step is not None and req.step > 1 or req.accepted or req.listened) \
                and req.mode != "test":
            out.append(tr("accepted", req.accepted))
            if req.listened is not None:
                out.append(tr("listened", req.listened))
        for e in req.errors:
            out.append(f"<error>{escape(e)}</error>")
        for n in req.notes:
            out.append(f"<note>{escape(n)}</note>")
        if req.text:
            out.append(f"<text>{escape(req.text)}</text>")
        if req.seed:
            out.append(tr("seed", req.seed))
        if history_line:
            out.append(f"<history>{escape(' '.join(req.recent))}</history>")
        else:
            for t in req.recent:
                out.append(tr("recent", t))
        out.append("</request>")
        return "".join(out)
    lines = [f"world: {req.world}"]
    if req.mode:
        lines.append(f"mode: {req.mode}")
    if req.community:
        lines.append(f"community: {req.community}")
    if req.listener:
        lines.append(f"{'user' if history_line else 'listener'}: {req.listener}")
    if req.step is not None:
        lines.append(f"step: {req.step}" + (f" of {req.steps}" if req.steps is not None else ""))
    if (req.step is not None and req.step > 1 or req.accepted or req.listened) \
            and req.mode != "test":
        lines.append(_track_line("accepted", catalog, req.accepted))
        if req.listened is not None:
            lines.append(_track_line("listened", catalog, req.listened))
    for e in req.errors:
        lines.append(f"error: {e}")
    for n in req.notes:
        lines.append(f"note: {n}")
    if req.text:
        lines.append(f"request: {req.text}")
    if req.seed:
        lines.append(_track_line("seed", catalog, req.seed))
    if history_line:
        lines.append("history: " + " ".join(req.recent))
    else:
        for t in req.recent:
            lines.append(_track_line("recent", catalog, t))
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- free text
_LEADS = [
    "can you recommend", "could you recommend", "please recommend", "recommend me", "recommend",
    "give me", "play me", "i want", "i d like", "id like", "i would like", "find me", "suggest",
    "some", "more", "play", "songs", "song", "tracks", "track", "music", "stuff", "something",
    "anything", "similar to", "similar", "like", "that sounds like", "sounds like", "in the style of",
    "the style of", "style of", "please", "pls", "hey", "hi", "for me", "to",
]
_TRAILS = ["please", "pls", "thanks", "thank you", "songs", "song", "music", "tracks", "stuff"]
_PAREN = re.compile(r"\s*[\(\[].*?[\)\]]")
_VERSION = re.compile(r"\s+-\s+.*(remaster|version|live|edit|mix|mono|stereo).*$", re.I)


@dataclass(frozen=True)
class Match:
    index: int          # catalog index of the matched track
    score: float        # 0..1
    kind: str           # "title", "title+artist", "artist", "id"


def _strip_stages(text: str) -> list[str]:
    """The normalised query and each shorter form with a request phrase stripped, longest
    first: "songs like like a stone" -> [..., "like a stone", "a stone"]."""
    t = re.sub(r"@[\w.@-]+", " ", text)          # @mentions
    t = re.sub(r"https?://\S+", " ", t)
    t = re.sub(r"#\w+", " ", t)
    t = re.sub(r"\s+[-\u2013\u2014]+\s+", " by ", t)   # "Title - Artist" -> "Title by Artist"
    t = normalize(t)
    stages = [t] if t else []
    changed = True
    while changed and t:
        changed = False
        for lead in _LEADS:
            if t.startswith(lead + " "):
                t = t[len(lead) + 1:].strip()
                changed = True
                break
        else:
            for tr in _TRAILS:
                if t.endswith(" " + tr):
                    t = t[: -len(tr) - 1].strip()
                    changed = True
                    break
        if changed and t and t not in stages:
            stages.append(t)
    return [x for x in stages if x and x not in _LEADS]


def _trigrams(s: str) -> set[str]:
    s = f"  {s} "
    return {s[i:i + 3] for i in range(len(s) - 2)}


class _TrigramIndex:
    """Candidate retrieval by shared character trigrams (Dice coefficient)."""

    def __init__(self, strings: list[str]):
        self.strings = strings
        self.sizes = []
        self.post: dict[str, list[int]] = {}
        for k, s in enumerate(strings):
            grams = _trigrams(s)
            self.sizes.append(len(grams))
            for g in grams:
                self.post.setdefault(g, []).append(k)

    def top(self, q: str, n: int = 40) -> list[int]:
        grams = _trigrams(q)
        counts: dict[int, int] = {}
        for g in grams:
            for k in self.post.get(g, ()):
                counts[k] = counts.get(k, 0) + 1
        if not counts:
            return []
        nq = len(grams)
        sizes = self.sizes
        return heapq.nsmallest(n, counts, key=lambda k: (-2.0 * counts[k] / (nq + sizes[k]), k))


class TextMatcher:
    """Forgiving title/artist matching over a catalog: trigram retrieval, then difflib ratios on
    normalised strings (accents, case and punctuation ignored; "(feat. …)" and " - Remastered"
    style suffixes ignored; one or two typos tolerated)."""

    def __init__(self, catalog: Catalog, threshold: float = 0.72):
        self.catalog = catalog
        self.threshold = threshold
        self._titles = []
        strings, owners = [], []
        for i, t in enumerate(catalog.tracks):
            full = normalize(t.name)
            base = normalize(_VERSION.sub("", _PAREN.sub("", t.name))) or full
            self._titles.append((full, base))
            for x in {full, base}:
                strings.append(x)
                owners.append(i)
        self._title_index = _TrigramIndex(strings)
        self._title_owner = owners
        self._artists: dict[str, list[int]] = {}
        for i, t in enumerate(catalog.tracks):
            for a in t.artist_list:
                self._artists.setdefault(normalize(a), []).append(i)
        self._artist_names = sorted(self._artists)
        self._artist_index = _TrigramIndex(self._artist_names)
        self._cache: dict[str, Match | None] = {}

    @staticmethod
    def _ratio(a: str, b: str) -> float:
        if not a or not b:
            return 0.0
        if a == b:
            return 1.0
        sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
        if sm.real_quick_ratio() < 0.5 or sm.quick_ratio() < 0.5:
            return 0.0
        return sm.ratio()

    def _title_score(self, q: str, i: int) -> float:
        full, base = self._titles[i]
        r = self._ratio(q, base)
        if full != base:
            r = max(r, self._ratio(q, full))
        if base.startswith("the ") and not q.startswith("the "):
            r = max(r, self._ratio("the " + q, base))
        return r

    def _best_artist(self, q: str) -> tuple[float, str | None]:
        if q in self._artists:
            return 1.0, q
        best, name = 0.0, None
        for k in self._artist_index.top(q, 10):
            r = self._ratio(q, self._artist_names[k])
            if r > best:
                best, name = r, self._artist_names[k]
        return best, name

    def _most_popular(self, idx: list[int]) -> int:
        return max(idx, key=lambda i: (self.catalog.tracks[i].popularity, -i))

    def _candidates(self, q: str, n: int = 16) -> list[int]:
        out = []
        for k in self._title_index.top(q, 2 * n):
            i = self._title_owner[k]
            if i not in out:
                out.append(i)
                if len(out) >= n:
                    break
        return out

    def match(self, text: str | None) -> Match | None:
        """The best track for free text, or None when nothing is close enough."""
        if not text or not text.strip():
            return None
        raw = text.strip()[:300]
        first = raw.split()[0]
        if first in self.catalog:
            return Match(self.catalog.index[first], 1.0, "id")
        if raw in self._cache:
            return self._cache[raw]
        best: Match | None = None
        for q in _strip_stages(raw)[-2:]:
            m = self._match_one(q)
            if m is not None and self._better(m, best):
                best = m
        if best is not None and best.score < self.threshold:
            best = None
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[raw] = best
        return best

    def _better(self, m: Match, best: Match | None) -> bool:
        if best is None:
            return True
        pop = self.catalog.tracks
        return (round(m.score, 6), pop[m.index].popularity, -m.index) > \
            (round(best.score, 6), pop[best.index].popularity, -best.index)

    def _match_one(self, q: str) -> Match | None:
        title_q, artist_q = q, None
        m = re.match(r"^(.*?)\s+(?:by|from|off)\s+(.+)$", q)
        if m and m.group(1).strip():
            title_q, artist_q = m.group(1).strip(), m.group(2).strip()
        best: Match | None = None
        for tq, aq in ([(title_q, artist_q), (q, None)] if artist_q else [(q, None)]):
            for i in self._candidates(tq):
                s = self._title_score(tq, i)
                if s <= 0:
                    continue
                kind = "title"
                if aq:
                    arts = [normalize(a) for a in self.catalog.tracks[i].artist_list]
                    s_art = max((self._ratio(aq, a) for a in arts), default=0.0)
                    s = 0.7 * s + 0.3 * s_art
                    kind = "title+artist"
                cand = Match(i, s, kind)
                if self._better(cand, best):
                    best = cand
        # the whole query may be an artist ("songs like metallica"), or the part after "by"
        for aq, factor in ((q, 1.0), (artist_q, 0.9)):
            if not aq:
                continue
            a_score, a_name = self._best_artist(aq)
            if a_name is not None and a_score * factor > (best.score if best else 0.0):
                best = Match(self._most_popular(self._artists[a_name]), a_score * factor, "artist")
        return best


_MATCHERS: dict[int, TextMatcher] = {}


def matcher_for(catalog: Catalog) -> TextMatcher:
    m = _MATCHERS.get(id(catalog))
    if m is None or m.catalog is not catalog:
        m = _MATCHERS[id(catalog)] = TextMatcher(catalog)
    return m


def match_text(catalog: Catalog, text: str | None) -> Match | None:
    """Resolve free text such as "songs like enter sandmen by metalica" to a catalog track."""
    return matcher_for(catalog).match(text)


def resolve_request(catalog: Catalog, req: Request, source=None) -> Request:
    """Mind side: drop unknown ids, name songs by their song id (not an alias), read the free text (``req.ask``, a
    :class:`wwm.songs.understand.Interpretation`, against ``source``: the knowledge graph when the
    process has one, else the catalog), fill ``req.seed`` from it when the request
    names a song and has no seed, and add the notes an answer owes the asker (a genre the
    catalog lacks, an era it cannot honour).  Returns the same object."""
    from .understand import interpret, notes
    req.recent = [catalog.canonical(t) for t in req.recent if t in catalog]   # aliases -> song
    if req.seed is not None and req.seed not in catalog:
        req.notes.append(f"unknown seed {req.seed}")
        req.seed = None
    elif req.seed is not None:
        req.seed = catalog.canonical(req.seed)
    if req.text:
        req.ask = interpret(catalog, req.text, source)
        if req.seed is None and req.ask.song_id is not None:
            req.seed = catalog.canonical(req.ask.song_id)
        req.notes.extend(notes(catalog, req.ask, source))
    return req


def noisy_text(track, rng: random.Random) -> str:
    """A listener's free-text request for ``track``, as a person might type it (used by the
    World for text-only requests): templates, lower case, small typos."""
    title = _VERSION.sub("", _PAREN.sub("", track.name)).strip() or track.name
    artist = track.artist_list[0] if track.artist_list else ""
    templates = ["songs like {t}", "something like {t} by {a}", "more like {t} please",
                 "play me stuff like {t}", "anything similar to {t} - {a}", "{t} by {a}"]
    s = rng.choice(templates).format(t=title, a=artist)
    if rng.random() < 0.5:
        s = s.lower()
    if rng.random() < 0.4 and len(title) > 5:   # one typo in the title
        pos = s.find(title.lower() if s.islower() else title)
        if pos >= 0:
            k = pos + rng.randrange(1, len(title) - 1)
            op = rng.randrange(3)
            if op == 0:
                s = s[:k] + s[k + 1:]                      # drop a letter
            elif op == 1:
                s = s[:k] + s[k + 1] + s[k] + s[k + 2:]     # swap two letters
            else:
                s = s[:k] + s[k] + s[k:]                   # double a letter
    return s
