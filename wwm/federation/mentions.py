"""Mentions: "@fungus@host songs like Enter Sandman" -> a song-request state -> the Mind's action -> a reply.

The Mind is called through exactly one replaceable function, ``ask_mind(ask) -> Answer | None``
(config ``FEDERATION_ASK_MIND``; the default is :func:`default_ask_mind`):

(a) the note's text becomes a state of the song-request World with the World's own
    request code (``wwm.songs.request``: ``Request``, ``resolve_request``, ``format_state``);
(b) the Mind is asked through ``wwm.client.connect(folder).start_run().get_action(state)``;
    one run per (Mind, sender) is kept open for a while, so that the feedback on the
    previous reply reaches the Mind as the ``reward:`` line of the next state;
(c) the ranked track ids of the action are written as ``Title — Artist`` lines from the catalog.

Feedback (cheap, as promised): a ``Like`` of a reply is +1; a reply to it that reads as
thanks is +1, one that reads as a complaint -1.  The sum, clamped to [-1, 1], is the
reward carried by the sender's next request to that Mind.

Senders that are bots (actor type ``Service`` or ``Application``) get no answers, so two
nodes can never answer each other forever; each sender also has an answer budget.
"""
from __future__ import annotations

import html
import os
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

from .actors import AS_PUBLIC
from .fetch import object_id
from .outbox import mention_html, paragraphs, post_note

__all__ = ["Ask", "Answer", "note_text", "handle_note", "default_ask_mind", "SongAsker", "with_reward",
           "is_song_request", "feedback_value"]

MAX_TEXT = 500
MAX_MINDS_PER_NOTE = 3
_MENTION_RE = re.compile(r"(?<![\w])@[A-Za-z0-9_][A-Za-z0-9_.-]*(?:@[A-Za-z0-9.-]+(?::\d+)?)?")
_STRONG_RE = re.compile(r"\b(songs?|tracks?|music|recommend\w*|playlist|similar|more like|something like|"
                        r"anything like|play me|play)\b", re.I)
_POSITIVE_RE = re.compile(r"(\b(thanks?|thank you|thx|love|loved|great|nice|awesome|cool|perfect|good|"
                          r"excellent|brilliant|yes)\b|👍|❤|♥|🔥|😍|🙏)", re.I)
_NEGATIVE_RE = re.compile(r"(\b(bad|hate|awful|terrible|boring|meh|nope|wrong|worse|worst|dislike|not)\b|👎|😞|🙁)",
                          re.I)
_BOT_TYPES = ("Service", "Application")


@dataclass(frozen=True)
class Ask:
    """What the Mind is asked: who asks whom for what, and the reward from last time."""

    mind: str                 # the local actor's username
    server: str               # the gateway's server id, e.g. ``minds/fungus``
    text: str                 # the request, HTML and mentions removed
    sender: str               # the sender's actor id
    sender_handle: str        # ``@alice@example.social``
    reward: float | None      # feedback on this Mind's previous reply to this sender
    root: str | None          # the folder with minds/ and worlds/
    runs: str | None          # the runs folder


@dataclass(frozen=True)
class Answer:
    """The Mind's answer, readable: a heading and one ``Title — Artist`` line per track."""

    heading: str
    items: list[str]
    track_ids: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the asker should know (no jazz here; nearest: ...)


# ---------------------------------------------------------------------------
# text


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("br", "p", "li", "div"):
            self.parts.append("\n")

    def handle_data(self, data):
        self.parts.append(data)


def note_text(note: dict) -> str:
    """The plain text of a note: HTML removed, mentions removed, whitespace collapsed, capped."""
    content = note.get("content")
    if not isinstance(content, str):
        content = next((v for v in (note.get("contentMap") or {}).values() if isinstance(v, str)), "")
    parser = _Text()
    parser.feed(content[:20000])
    parser.close()
    text = _MENTION_RE.sub(" ", "".join(parser.parts))
    return " ".join(text.split())[:MAX_TEXT]


def is_song_request(text: str, *, strict: bool = False) -> bool:
    """Does the text ask for songs?  Any text does, unless ``strict`` (replies to our notes), where
    it must say so ("songs", "more like", "recommend", ...)."""
    if not text.strip():
        return False
    return bool(_STRONG_RE.search(text)) if strict else True


def feedback_value(text: str) -> float:
    """+1 for thanks, -1 for a complaint, 0 when unclear (both or neither)."""
    positive, negative = bool(_POSITIVE_RE.search(text)), bool(_NEGATIVE_RE.search(text))
    return 1.0 if positive and not negative else -1.0 if negative and not positive else 0.0


def with_reward(state: str, reward: float) -> str:
    """Put ``reward`` into a state as the contract says: a first ``reward:`` line (text) or a
    first ``<reward>`` child (XML)."""
    value = repr(float(reward))
    stripped = state.lstrip()
    if stripped.startswith("<"):
        end = stripped.index(">")
        if stripped[end - 1] == "/":  # <request .../>
            return f"{stripped[:end - 1].rstrip()}><reward>{value}</reward></{_tag(stripped)}>"
        return f"{stripped[:end + 1]}<reward>{value}</reward>{stripped[end + 1:]}"
    return f"reward: {value}\n{state}"


def _tag(element: str) -> str:
    return re.match(r"<\s*([\w:.-]+)", element).group(1)


# ---------------------------------------------------------------------------
# the default Mind call: the song-request World and a real Mind


class SongAsker:
    """The default ``ask_mind``: asks a local Mind in song-World terms, keeping one run per sender.

    Args:
        max_runs: open runs kept (least recently used are ended first).
        idle: seconds after which an unused run is ended.
    """

    def __init__(self, max_runs: int = 16, idle: float = 300.0):
        self.max_runs = max_runs
        self.idle = idle
        self._runs: OrderedDict[tuple[str, str], tuple[object, float]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, ask: Ask) -> Answer | None:
        from wwm.songs.catalog import load_catalog
        from wwm.songs.request import Request, format_state, parse_action, resolve_request

        if not ask.text.strip():
            return None
        catalog = load_catalog()
        request = resolve_request(catalog, Request(world="songs", listener=ask.sender_handle, text=ask.text))
        state = format_state(request, catalog)
        action = self._get_action(ask, state)
        ids, labels = [], []
        for track_id in parse_action(action).ids:
            # the catalog lists some songs under several ids (albums, reissues): show each song once
            if track_id in catalog and catalog.track(track_id).label not in labels and len(ids) < 10:
                ids.append(track_id)
                labels.append(catalog.track(track_id).label)
        if request.seed:
            heading = f"Songs like {catalog.track(request.seed).label}"
        else:
            heading = f"Songs for “{ask.text[:80]}”"
        notes = [n for n in request.notes if not n.startswith("unknown seed")]
        return Answer(heading, labels, ids, notes)

    def _get_action(self, ask: Ask, state: str) -> str:
        from wwm.client import connect

        key = (ask.server, ask.sender)
        self._expire()
        with self._lock:
            run = self._runs.pop(key, (None, 0.0))[0]
        if run is not None:
            try:
                action = run.get_action(with_reward(state, ask.reward) if ask.reward is not None else state)
                self._keep(key, run)
                return action
            except Exception:  # the run was reaped or its Mind died: start afresh
                self._end(run)
        folder = os.path.join(ask.root or ".", ask.server)
        run = connect(folder, runs=ask.runs).start_run()
        try:
            action = run.get_action(state)
        except Exception:
            self._end(run)
            raise
        self._keep(key, run)
        return action

    def _keep(self, key, run) -> None:
        with self._lock:
            self._runs[key] = (run, time.monotonic())
            extra = [self._runs.popitem(last=False)[1][0] for _ in range(max(0, len(self._runs) - self.max_runs))]
        for old in extra:
            self._end(old)

    def _expire(self) -> None:
        now = time.monotonic()
        with self._lock:
            stale = [k for k, (_, used) in self._runs.items() if now - used > self.idle]
            runs = [self._runs.pop(k)[0] for k in stale]
        for run in runs:
            self._end(run)

    @staticmethod
    def _end(run) -> None:
        try:
            run.end()
        except Exception:  # ending is best effort; the gateway reaps what is left
            pass

    def close(self) -> None:
        with self._lock:
            runs = [r for r, _ in self._runs.values()]
            self._runs.clear()
        for run in runs:
            self._end(run)


default_ask_mind = SongAsker()


# ---------------------------------------------------------------------------
# notes in, replies out


def _handle_of(fed, actor_id: str) -> tuple[str, str, str | None]:
    """(username, @user@host, actor type) of a remote actor."""
    try:
        doc = fed.remote.actor(actor_id)
    except Exception:
        doc = {}
    username = doc.get("preferredUsername") if isinstance(doc.get("preferredUsername"), str) else None
    username = username or actor_id.rstrip("/").rsplit("/", 1)[-1]
    return username, f"@{username}@{urlsplit(actor_id).netloc}", doc.get("type")


def _is_public(note: dict) -> bool:
    for key in ("to", "cc"):
        value = note.get(key)
        values = value if isinstance(value, list) else [value]
        if any(v in (AS_PUBLIC, "as:Public", "Public") for v in values):
            return True
    return False


def _mentioned(fed, note: dict) -> list:
    found = []
    for tag in note.get("tag") or []:
        if isinstance(tag, dict) and tag.get("type") == "Mention":
            local = fed.actors.by_id(tag.get("href"))
            if local is not None and local not in found:
                found.append(local)
    if not found:  # a direct message may address the Mind without a Mention tag
        for key in ("to", "cc"):
            value = note.get(key)
            for ref in value if isinstance(value, list) else [value]:
                local = fed.actors.by_id(ref)
                if local is not None and local not in found:
                    found.append(local)
    return found


def reply(fed, mind: str, sender: str, note: dict, body_html: str) -> dict:
    """Publish a reply from local ``mind`` to ``note``, mentioning its sender (``tag`` and ``to``)."""
    username, handle, _ = _handle_of(fed, sender)
    content = f"<p>{mention_html(sender, username)} {body_html}"
    return post_note(fed, mind, content, visibility="unlisted" if _is_public(note) else "direct",
                     mentions=[(sender, handle)], in_reply_to=object_id(note))


def _answer_html(fed, answer: Answer | None, local) -> str:
    if answer is None:
        return (f"Ask me for songs, for example “{html.escape(fed.actors.handle(local.name))} songs like "
                f"Enter Sandman”.</p>")
    said = "".join(f"<p>Note: {html.escape(n[:1].upper() + n[1:])}.</p>" for n in answer.notes)
    if not answer.items:
        return f"{html.escape(answer.heading)}: I have nothing to suggest yet, sorry.</p>{said}"
    lines = [f"{i}. {item}" for i, item in enumerate(answer.items, 1)]
    return (f"{html.escape(answer.heading)}, picked by {html.escape(local.name)}:</p>{said}"
            + paragraphs(lines, "Like this post if they suit you, or reply to tell me."))


def handle_note(fed, actor_name: str | None, sender: str, note: dict) -> list[dict]:
    """React to a note: feedback on our replies, answers from the Minds it mentions.

    Returns:
        The reply activities published.
    """
    text = note_text(note)
    in_reply_to = object_id(note.get("inReplyTo"))
    ours = fed.store.reply(in_reply_to) if in_reply_to else None
    if ours is not None:
        value = feedback_value(text)
        if value:
            fed.store.add_feedback(in_reply_to, sender, "reply", value, fed.clock())
    mentioned = _mentioned(fed, note)
    if not mentioned or fed.actors.by_id(sender) is not None:
        return []
    _, handle, kind = _handle_of(fed, sender)
    if kind in _BOT_TYPES:
        fed.log.info("not answering %s: it is a bot (%s)", sender, kind)
        return []
    replies = []
    minds = [a for a in mentioned if a.kind in ("mind", "society")][:MAX_MINDS_PER_NOTE]
    if not minds and ours is None:
        minds_html = ", ".join(html.escape(fed.actors.handle(m.name)) for m in fed.actors.minds()) or "none yet"
        body = f"I am not a Mind. Ask one of these for songs: {minds_html}.</p>"
        if fed.reply_limiter.allow("reply:" + sender)[0]:
            replies.append(reply(fed, mentioned[0].name, sender, note, body))
        return replies
    for local in minds:
        if not is_song_request(text, strict=ours is not None):
            if ours is None and fed.reply_limiter.allow("reply:" + sender)[0]:
                replies.append(reply(fed, local.name, sender, note, _answer_html(fed, None, local)))
            continue
        if not fed.reply_limiter.allow("reply:" + sender)[0]:
            fed.log.info("answer budget of %s spent", sender)
            continue
        ask = Ask(local.name, local.server, text, sender, handle, fed.store.take_reward(local.name, sender),
                  fed.root, fed.runs)
        try:
            answer = fed.ask_mind(ask)
        except Exception as exc:
            fed.log.warning("Mind %s could not answer: %s", local.name, exc)
            activity = reply(fed, local.name, sender, note,
                             f"Sorry, {html.escape(local.name)} could not answer just now.</p>")
        else:
            activity = reply(fed, local.name, sender, note, _answer_html(fed, answer, local))
            if answer is not None:
                fed.store.save_reply(activity["object"]["id"], local.name, sender, text, fed.clock())
        replies.append(activity)
    return replies
