"""What a person's song request asks for: a song, an artist, genres, an era, a mood, or nothing
in particular ("recommend me a song?"), and which asked-for genre the catalog does not have.

    interpret(catalog, "Thunder imagine dragons")   -> song = Thunder — Imagine Dragons
    interpret(catalog, "something by Metallica")    -> artist = Metallica
    interpret(catalog, "90s rock")                  -> genres = (rock,), era = 1990s
    interpret(catalog, "any jazz tips?")            -> missing = jazz, nearest = (deep-house, hip-hop)

Order: a title next to an artist's name (either order, "by" optional) wins; otherwise the genre,
era and mood words are taken out, the request's filler words ("recommend me some … please") are
trimmed from both ends, and what is left is matched against artist names, then titles
(:class:`wwm.songs.request.TextMatcher`).  A request made only of genre/mood/era words never
seeds on a title that happens to contain one ("sad songs" is not "Sad Song").

:func:`candidates` turns an interpretation into the catalog rows that fit it, and :func:`notes`
into the sentences an answer should carry (the catalog has no jazz; it has no release years).
Names, genres and the songs of an artist or genre come from a :class:`wwm.songs.sources.SongSource`:
the knowledge graph on a node that keeps the catalog there, else the catalog in memory.
Standard library and numpy only (rdflib when reading the graph).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace

import numpy as np

from .catalog import Catalog, normalize
from .request import matcher_for

#: words naming a catalog genre (normalised) -> the catalog genres they mean
GENRE_WORDS = {
    "deep house": ("deep-house",), "deephouse": ("deep-house",), "house": ("deep-house",),
    "dubstep": ("dubstep",), "brostep": ("dubstep",), "riddim": ("dubstep",),
    "hip hop": ("hip-hop",), "hiphop": ("hip-hop",), "rap": ("hip-hop",), "trap": ("hip-hop",),
    "heavy metal": ("metal",), "metalcore": ("metal",), "nu metal": ("metal",),
    "metal": ("metal",), "rock": ("rock",), "rock n roll": ("rock",), "country": ("country",),
    "edm": ("deep-house", "dubstep"), "electronic": ("deep-house", "dubstep"),
}

#: genres people ask for that the catalog lacks -> the nearest catalog genres to offer
MISSING_GENRES = {
    "jazz": ("deep-house", "hip-hop"), "blues": ("rock", "country"), "soul": ("hip-hop",),
    "r and b": ("hip-hop",), "rnb": ("hip-hop",), "funk": ("deep-house", "hip-hop"),
    "classical": ("country",), "reggae": ("hip-hop",), "reggaeton": ("hip-hop",),
    "latin": ("hip-hop",), "k pop": ("hip-hop", "deep-house"), "kpop": ("hip-hop", "deep-house"),
    "pop": ("rock", "hip-hop"), "techno": ("deep-house",), "trance": ("deep-house", "dubstep"),
    "drum and bass": ("dubstep",), "dnb": ("dubstep",), "disco": ("deep-house",),
    "punk rock": ("rock", "metal"), "punk": ("rock", "metal"), "grunge": ("rock", "metal"),
    "indie": ("rock",), "folk": ("country",), "bluegrass": ("country",), "gospel": ("country",),
    "emo": ("rock", "metal"), "ska": ("rock",), "ambient": ("deep-house",),
}
_MISSING_NAMES = {"r and b": "r&b", "rnb": "r&b", "k pop": "k-pop", "kpop": "k-pop",
                  "punk rock": "punk", "dnb": "drum and bass"}

#: catalog genres -> the nearest others, offered when a source lacks one of them
NEIGHBOURS = {"metal": ("rock",), "rock": ("metal", "country"), "country": ("rock",),
              "hip-hop": ("deep-house",), "deep-house": ("dubstep", "hip-hop"), "dubstep": ("deep-house",)}

#: mood words -> mood
MOOD_WORDS = {
    "happy": "happy", "upbeat": "happy", "feel good": "happy", "cheerful": "happy",
    "uplifting": "happy", "joyful": "happy", "positive": "happy",
    "sad": "sad", "melancholy": "sad", "melancholic": "sad", "depressing": "sad",
    "heartbreak": "sad", "crying": "sad", "gloomy": "sad",
    "chill": "chill", "chilled": "chill", "relaxing": "chill", "relax": "chill", "calm": "chill",
    "mellow": "chill", "studying": "chill", "study": "chill", "sleep": "chill", "soft": "chill",
    "energetic": "energetic", "gym": "energetic", "workout": "energetic", "pump up": "energetic",
    "running": "energetic", "hype": "energetic", "intense": "energetic", "angry": "energetic",
    "aggressive": "energetic", "party": "party", "dance": "party", "dancing": "party",
    "danceable": "party", "club": "party",
}

_DECADES = {"fifties": 1950, "sixties": 1960, "seventies": 1970, "eighties": 1980,
            "nineties": 1990, "noughties": 2000}
_ERA = re.compile(r"\b(?:(19|20)?([0-9])0s|(fifties|sixties|seventies|eighties|nineties|noughties))\b")

#: words around a request that say nothing about what is asked (trimmed from both ends)
FILLER = set("""a an the any some more me my i im we us you your for to of from by like with
and or in on at please pls plz thanks thank thx hey hi hello yo song songs track tracks tune tunes
music stuff something anything things thing recommend recommendation recommendations recs rec
suggest suggestion suggestions give play playing want wanna need hear listen listening good
great best new nice cool tips tip got have has what whats should could would can about similar
sounds sound style ideas idea anyone someone tonight today now while when just really love
lets let find surprise that this which kinda sort kind type is are be do does""".split())

_SEP = {"by", "from", "off", "-"}
_LIKE = re.compile(r"\b(?:like|similar to|sounds like|in the style of)\s+(.+)$")
_TAIL = {"please", "pls", "plz", "thanks", "thank", "you", "thx", "songs", "music", "stuff"}


@dataclass
class Interpretation:
    text: str
    song: int | None = None                 # row of the song asked for (or like) in the songs read against
    song_id: str | None = None              # that song's id
    artist: str | None = None               # an artist asked for (no particular song)
    genres: tuple[str, ...] = ()            # catalog genres asked for
    era: str | None = None                  # "1990s"
    mood: str | None = None                 # happy, sad, chill, energetic, party
    missing: str | None = None              # a genre asked for that the catalog lacks
    nearest: tuple[str, ...] = ()           # catalog genres offered instead
    score: float = 0.0                      # match score of song/artist
    words: list[str] = field(default_factory=list)   # what was left unexplained

    @property
    def kind(self) -> str:
        if self.song is not None:
            return "song"
        if self.artist:
            return "artist"
        if self.genres or self.mood or self.era or self.missing:
            return "filter"
        return "plain"


def _clean(text: str) -> str:
    t = re.sub(r"@[\w.@-]+", " ", text)
    t = re.sub(r"https?://\S+", " ", t)
    t = t.replace("#", " ")
    t = re.sub(r"\s+[-\u2013\u2014]+\s+", " - ", t)
    return normalize(re.sub(r"['\u2019]", "", t)).replace(" - ", " ")


def _trim(tokens: list[str]) -> list[str]:
    a, b = 0, len(tokens)
    while a < b and tokens[a] in FILLER:
        a += 1
    while b > a and tokens[b - 1] in FILLER:
        b -= 1
    return tokens[a:b]


def _take(text: str, table: dict) -> tuple[str, list]:
    """Remove every phrase of ``table`` (longest first, whole words) and return the values."""
    found = []
    for phrase in sorted(table, key=len, reverse=True):
        pat = re.compile(rf"(?<!\S){re.escape(phrase)}(?!\S)")
        if pat.search(text):
            found.append((text.index(phrase) if phrase in text else 0, phrase, table[phrase]))
            text = pat.sub(" ", text)
    found.sort()
    return " ".join(text.split()), [(p, v) for _, p, v in found]


def _content(text: str) -> bool:
    """Whether text says more than request words, genres, moods and eras."""
    rest = _take(text, {**GENRE_WORDS, **MOOD_WORDS, **MISSING_GENRES})[0]
    return any(w not in FILLER for w in _ERA.sub(" ", rest).split())


def genre_tables(have) -> tuple[dict, dict]:
    """(genre words -> genres, missing-genre words -> (name, nearest genres)) for a source whose
    songs have the genres ``have``: a word names a genre when some song has it, else it is missing."""
    have = set(have)
    some = tuple(sorted(have))[:2]  # offered when no neighbour of a missing genre is there
    words, missing = {}, {}
    for word, near in MISSING_GENRES.items():
        name = _MISSING_NAMES.get(word, word)
        if name in have:
            words[word] = (name,)
        else:
            missing[word] = (name, tuple(g for g in near if g in have) or some)
    for word, genres in GENRE_WORDS.items():
        present = tuple(g for g in genres if g in have)
        if present:
            words[word] = present
        else:
            near = [n for g in genres for n in NEIGHBOURS.get(g, ()) if n in have]
            missing[word] = (genres[0] if len(genres) == 1 else word, tuple(dict.fromkeys(near)) or some)
    for g in have:
        words.setdefault(normalize(g), (g,))
    return words, missing


class Interpreter:
    """Reads requests against ``catalog``: a :class:`Catalog`, or a
    :class:`wwm.songs.sources.SongList` loaded from the knowledge graph."""

    def __init__(self, catalog):
        self.catalog = catalog
        self.genre_words, self.missing_words = genre_tables(catalog.genres)
        self.m = matcher_for(catalog)
        self._squashed = {a.replace(" ", ""): a for a in self.m._artists}
        self._short = [normalize(t.name.split(" - ")[0]) or normalize(t.name)
                       for t in catalog.tracks]
        self._display = {}
        self._cache: dict[str, Interpretation] = {}
        for t in catalog.tracks:
            for a in t.artist_list:
                self._display.setdefault(normalize(a), a)

    # ---------------------------------------------------------------- artists
    def artist_score(self, q: str) -> tuple[float, str | None]:
        if not q:
            return 0.0, None
        sq = q.replace(" ", "")
        if q in self.m._artists:
            return 1.0, q
        if sq in self._squashed:
            return 1.0, self._squashed[sq]
        best, name = self.m._best_artist(q)
        for k in self.m._artist_index.top(q, 10):
            a = self.m._artist_names[k]
            r = self.m._ratio(sq, a.replace(" ", ""))
            if a.startswith(q + " ") and len(q) >= 4:      # a first name: "travis"
                r = max(r, 0.85)
            if r > best:
                best, name = r, a
        return best, name

    def title_score(self, title: str, i: int) -> tuple[float, bool]:
        """(similarity of a title to row i's title, whether it is the exact full title); the
        row's title is also compared without anything after " - " ("- From 8 Mile")."""
        full, base = self.m._titles[i]
        short = self._short[i]
        s = self.m._title_score(title, i)
        sq = title.replace(" ", "")
        for x in {base, short}:
            s = max(s, self.m._ratio(title, x), self.m._ratio(sq, x.replace(" ", "")))
        return s, title == full

    def _title_of(self, titles: list[str], artist: str) -> tuple[float, int | None]:
        best, row = None, None
        for i in self.m._artists.get(artist, ()):
            for t in titles:
                s, exact = self.title_score(t, i)
                key = (s, exact, self.catalog.tracks[i].popularity, -i)
                if best is None or key > best:
                    best, row = key, i
        return (best[0], row) if best else (0.0, None)

    def song_with_artist(self, tokens: list[str]) -> tuple[float, int | None]:
        """A title beside an artist's name, in either order ("thunder imagine dragons",
        "imagine dragons - thunder", "thunder by imagine dragons")."""
        best, row = 0.0, None
        for k in range(1, len(tokens)):
            left, right = tokens[:k], tokens[k:]
            for t, a in ((left, right), (right, left)):
                t = [x for x in t if x]
                while t and t[-1] in _SEP:
                    t = t[:-1]
                while a and a[0] in _SEP:
                    a = a[1:]
                if not _trim(t) or not a:
                    continue
                a_score, name = self.artist_score(" ".join(a))
                if name is None or a_score < 0.8:
                    continue
                t_score, i = self._title_of([" ".join(t), " ".join(_trim(t) or t)], name)
                if i is None or t_score < 0.75:
                    continue
                s = 0.6 * t_score + 0.4 * a_score
                if s > best:
                    best, row = s, i
        return best, row

    def exact_title(self, q: str) -> int | None:
        """The most popular song titled exactly ``q``, unless ``q`` is only request words
        ("sad songs" asks for a mood, not for "Sad Song")."""
        if not q or not _content(q):
            return None
        rows = [i for i, (full, base) in enumerate(self.m._titles) if q in (full, base)]
        if not rows:
            return None
        return max(rows, key=lambda i: (self.m._titles[i][0] == q,
                                        self.catalog.tracks[i].popularity, -i))

    # ---------------------------------------------------------------- the request
    def interpret(self, text: str | None) -> Interpretation:
        raw = (text or "").strip()[:300]
        it = self._cache.get(raw)
        if it is None:
            if len(self._cache) > 4096:
                self._cache.clear()
            it = self._cache[raw] = self._interpret(raw)
            if it.song is not None:
                it.song_id = self.catalog.ids[it.song]
        return replace(it)          # a copy: callers may annotate theirs

    def _interpret(self, raw: str) -> Interpretation:
        it = Interpretation(text=raw)
        if not raw:
            return it
        first = raw.split()[0]
        if first in self.catalog:                                  # a bare track id
            it.song, it.score = self.catalog.index[first], 1.0
            return it
        clean = _clean(raw)
        tokens = _trim(clean.split())
        s, row = max(self.song_with_artist(tokens), self.song_with_artist(clean.split()),
                     key=lambda x: x[0])
        if row is not None and s >= 0.8:
            it.song, it.score = row, s
            return it
        exact = self.exact_title(" ".join(tokens)) if _content(clean) else None
        if exact is not None:
            it.song, it.score = exact, 1.0
            return it
        like = _LIKE.search(clean)
        if like:     # "songs like X": X is a title or an artist, whatever its words
            obj = like.group(1).split()
            while obj and obj[-1] in _TAIL:
                obj = obj[:-1]
            if obj and _take(" ".join(obj), {**GENRE_WORDS, **MOOD_WORDS,
                                             **MISSING_GENRES})[0] and \
                    self._title_or_artist(it, " ".join(obj), self.m.threshold):
                return it
        rest, missing = _take(clean, self.missing_words)
        if missing:
            it.missing, it.nearest = missing[0][1]
        rest, genres = _take(rest, self.genre_words)
        it.genres = tuple(sorted({g for _, gs in genres for g in gs}))
        rest, moods = _take(rest, MOOD_WORDS)
        it.mood = moods[0][1] if moods else None
        m = _ERA.search(rest)
        if m:
            year = _DECADES[m.group(3)] if m.group(3) else \
                int(m.group(1) or ("20" if m.group(2) in "012" else "19")) * 100 \
                + int(m.group(2)) * 10
            it.era = f"{year}s"
            rest = _ERA.sub(" ", rest)
        words = _trim(rest.split())
        it.words = words
        if not words:
            return it
        vocab = bool(missing or genres or moods or m)
        self._title_or_artist(it, " ".join(words), 0.9 if vocab else self.m.threshold)
        return it

    def _title_or_artist(self, it: Interpretation, q: str, need: float) -> bool:
        """Set ``it``'s artist or song from ``q`` when one matches well enough."""
        a_score, name = self.artist_score(q)
        t = self.m._match_one(q)
        t_score = t.score if t is not None and t.kind != "artist" else 0.0
        if name is not None and a_score >= max(need, 0.85) and a_score >= t_score:
            it.artist, it.score = self._display.get(name, name), a_score
        elif t is not None and t_score >= need:
            it.song, it.score = t.index, t_score
        else:
            return False
        return True


_INTERPRETERS: dict[int, Interpreter] = {}


def interpreter_for(catalog) -> Interpreter:
    """The interpreter of a Catalog or SongList (kept while that object lives)."""
    it = _INTERPRETERS.get(id(catalog))
    if it is None or it.catalog is not catalog:
        if len(_INTERPRETERS) > 8:
            _INTERPRETERS.clear()
        it = _INTERPRETERS[id(catalog)] = Interpreter(catalog)
    return it


def _with_source(catalog: Catalog, source, work):
    """``work(source)`` with ``source`` (default: :func:`wwm.songs.sources.default_source`); when the
    graph cannot answer (down, or holding no catalog), with the catalog instead: requests go on."""
    from .sources import CatalogSource, default_source

    source = source or default_source(catalog)
    if isinstance(source, CatalogSource):
        return work(source)
    from wwm.knowledge.store import StoreError   # a graph source: rdflib is there

    try:
        return work(source)
    except (StoreError, LookupError) as exc:
        logging.getLogger("wwm.songs").warning("song request read against the catalog: %s", exc)
        return work(CatalogSource(catalog))


def interpret(catalog: Catalog, text: str | None, source=None) -> Interpretation:
    """What ``text`` asks for (see the module docstring), read against ``source`` (a
    :class:`wwm.songs.sources.SongSource`; default: the process's graph, else ``catalog``)."""
    return _with_source(catalog, source, lambda src: interpreter_for(src.songs()).interpret(text))


# ------------------------------------------------------------------------- answering
def mood_scores(catalog: Catalog, mood: str) -> np.ndarray:
    """How well each song fits a mood, from its audio features (z-scored)."""
    f = {n: catalog.features[:, k] for k, n in enumerate(catalog.feature_names)}
    return {
        "happy": f["valence"] + 0.5 * f["energy"] + 0.5 * f["danceability"],
        "sad": -f["valence"] - 0.5 * f["energy"] + 0.3 * f["acousticness"],
        "chill": -f["energy"] + 0.5 * f["acousticness"] - 0.3 * f["loudness"],
        "energetic": f["energy"] + 0.5 * f["loudness"] + 0.3 * f["tempo"],
        "party": f["danceability"] + 0.5 * f["energy"] + 0.3 * f["valence"],
    }[mood]


def candidates(catalog: Catalog, it: Interpretation, source=None) -> np.ndarray | None:
    """Rows of ``catalog`` that fit an interpretation without a song (artist, genres, nearest
    genres, mood), as a boolean mask; None when anything goes.  The songs of an artist or genres
    come from ``source`` (default: the process's graph, else the catalog); moods from the
    catalog's audio features."""
    if it.song is not None:
        return None
    n = len(catalog)
    mask = np.ones(n, dtype=bool)
    used = False

    def rows(ids):
        keep = np.zeros(n, dtype=bool)
        keep[[catalog.index[i] for i in ids if i in catalog.index]] = True
        return keep

    if it.artist:
        mask &= _with_source(catalog, source, lambda src: rows(src.by_artist(it.artist)))
        used = True
    genres = it.genres or (it.nearest if it.missing else ())
    if genres:
        mask &= _with_source(catalog, source, lambda src: rows(src.in_genres(genres)))
        used = True
    if it.mood:
        s = mood_scores(catalog, it.mood)
        sub = s[mask] if mask.any() else s
        mask &= s >= np.quantile(sub, 0.7)
        used = True
    return mask if used and mask.any() else None


def notes(catalog: Catalog, it: Interpretation, source=None) -> list[str]:
    """Sentences an answer to ``it`` should carry (the genres named are ``source``'s)."""
    out = []
    if it.missing:
        have = _with_source(catalog, source, lambda src: src.genres())
        out.append(f"the catalog has no {it.missing} (its genres: {', '.join(have)}); "
                   f"nearest: {', '.join(it.nearest)}")
    if it.era:
        out.append(f"the catalog has no release years, so the {it.era} could not be honoured")
    return out


def describe(it: Interpretation) -> str:
    """A short account of an interpretation, for the answer's comment line."""
    parts = []
    if it.artist:
        parts.append(f"songs by {it.artist}")
    if it.genres:
        parts.append("genre " + " or ".join(it.genres))
    if it.missing:
        parts.append(f"{it.missing} (offered: {' or '.join(it.nearest)})")
    if it.mood:
        parts.append(f"mood {it.mood}")
    if it.era:
        parts.append(f"era {it.era}")
    return ", ".join(parts) or "anything"
