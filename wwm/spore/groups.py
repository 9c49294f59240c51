"""Learning groups over ActivityPub, and one node's part in them (:class:`Spore`).

A learning group is an actor of type ``Group`` hosted by the node that founded it
(``/ap/actors/group-XXXXXXXX``); its document lists its rule, capacity and current model in
``PropertyValue`` attachments.  Nodes join by following it (the host answers ``Reject`` when
it is full) and leave with ``Undo``.  Each node takes part through its own node actor.

One round of a node (:meth:`Spore.step`), every few seconds or minutes:

1. **aggregate**: the newest weights each other member announced since the last round are
   fetched (signed GET, size cap, hash/dtype/shape/catalog checks before reading), aggregated
   with the node's own by the group's rule, and adopted only when the node's validation score
   (its own held-out listeners, never shared) does not drop;
2. **host**: for each group it hosts, the node aggregates the members' newest weights into the
   group's current model (what other nodes try before joining), and dissolves groups that have
   been empty for a round;
3. **migrate** (every ``migrate_every`` rounds): the node scores every other group's current
   model, merged with its own as joining would merge them, on its own validation requests and moves when :func:`~.migration.decide` says so; a
   node in no group founds one (that others may join) when ``found`` is set and no move helps;
4. **train** on its own World experience;
5. **publish**: its weights (content-addressed) and a public ``Create``/``Note`` tagged #spore,
   addressed to the group, with a machine-readable attachment (group, round, sha256, samples,
   metrics).  The host ``Announce``s the note to the members, who fetch it from its origin.

Every decision, round, model version and measurement goes to the node's sink
(``FEDERATION_DIR/spore.jsonl`` by default) and the notes to its outbox.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid

from wwm.federation.actors import AP_CONTEXT, AS_PUBLIC, LocalActor
from wwm.federation.fetch import object_id, origin
from wwm.federation.localdb import ThreadConnections
from wwm.federation.outbox import hashtag_html, paragraphs, post_note, publish
from wwm.fungus.weights import model_metadata, weights_from_bytes, weights_to_bytes

from .aggregate import RULES, adopt_if_better, aggregate, fedavg
from .exchange import Fetched, WeightStore, fetch_weights, weights_path
from .migration import Candidate, MigrationPolicy, decide
from .sink import JsonlSink, fan_out

__all__ = ["Spore", "SporeStore", "parse_update", "TAG"]

TAG = "spore"
log = logging.getLogger("wwm.spore")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS groups (
    name TEXT PRIMARY KEY, rule TEXT NOT NULL, capacity INTEGER NOT NULL, created REAL NOT NULL,
    dissolved INTEGER NOT NULL DEFAULT 0, model_sha TEXT, model_round INTEGER NOT NULL DEFAULT 0,
    empty_rounds INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS updates (
    grp TEXT NOT NULL, member TEXT NOT NULL, round INTEGER NOT NULL, sha TEXT NOT NULL, url TEXT NOT NULL,
    samples INTEGER NOT NULL, metrics TEXT NOT NULL, note TEXT, received REAL NOT NULL,
    PRIMARY KEY (grp, member, round));
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class SporeStore:
    """The SPORE state of a node in one SQLite file (one connection per thread)."""

    def __init__(self, path: str):
        self.path = path
        self._db = ThreadConnections(path, _SCHEMA)  # self._db(): this thread's connection

    def get(self, key: str, default=None):
        row = self._db().execute("SELECT value FROM state WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def put(self, key: str, value) -> None:
        self._db().execute("INSERT OR REPLACE INTO state VALUES (?,?)", (key, json.dumps(value)))

    def add_group(self, name: str, rule: str, capacity: int, now: float) -> None:
        self._db().execute("INSERT INTO groups (name, rule, capacity, created) VALUES (?,?,?,?)",
                           (name, rule, capacity, now))

    def groups(self, *, live: bool = True) -> list[dict]:
        sql = "SELECT name, rule, capacity, created, dissolved, model_sha, model_round, empty_rounds FROM groups"
        rows = self._db().execute(sql + (" WHERE dissolved=0" if live else "") + " ORDER BY created").fetchall()
        keys = ("name", "rule", "capacity", "created", "dissolved", "model_sha", "model_round", "empty_rounds")
        return [dict(zip(keys, r)) for r in rows]

    def group(self, name: str) -> dict | None:
        return next((g for g in self.groups(live=False) if g["name"] == name), None)

    def update_group(self, name: str, **values) -> None:
        for key, value in values.items():
            assert key in ("dissolved", "model_sha", "model_round", "empty_rounds")
            self._db().execute(f"UPDATE groups SET {key}=? WHERE name=?", (value, name))

    def add_update(self, group: str, member: str, update: dict, note: str | None, now: float) -> bool:
        cur = self._db().execute("INSERT OR IGNORE INTO updates VALUES (?,?,?,?,?,?,?,?,?)",
                                 (group, member, update["round"], update["sha256"], update["url"],
                                  update["samples"], json.dumps(update.get("metrics") or {}), note, now))
        return cur.rowcount == 1

    def latest_updates(self, group: str, since: float = 0.0) -> list[dict]:
        """The newest update of each member of ``group`` received after ``since``."""
        rows = self._db().execute(
            "SELECT member, round, sha, url, samples, metrics, received FROM updates u WHERE grp=? AND received>? "
            "AND round=(SELECT MAX(round) FROM updates v WHERE v.grp=u.grp AND v.member=u.member) ORDER BY member",
            (group, since)).fetchall()
        keys = ("member", "round", "sha256", "url", "samples", "metrics", "received")
        return [dict(zip(keys, r), metrics=json.loads(r[5])) for r in rows]


def _props(doc: dict) -> dict:
    out = {}
    for item in doc.get("attachment") or []:
        if isinstance(item, dict) and item.get("type") == "PropertyValue" and isinstance(item.get("name"), str):
            out[item["name"]] = item.get("value")
    return out


def parse_update(note: dict) -> dict | None:
    """The machine-readable part of a #spore note, checked; None when it is not one.

    The weights URL must be on the note's own origin (each node serves its own weights)."""
    if not isinstance(note, dict) or note.get("type") != "Note":
        return None
    if not any(isinstance(t, dict) and str(t.get("name", "")).lower() == "#" + TAG for t in note.get("tag") or []):
        return None
    p = _props(note)
    try:
        update = {"group": str(p["spore:group"]), "round": int(p["spore:round"]), "sha256": str(p["spore:sha256"]),
                  "url": str(p["spore:weights"]), "samples": int(p["spore:samples"]),
                  "metrics": json.loads(p.get("spore:metrics") or "{}")}
    except (KeyError, TypeError, ValueError):
        return None
    if origin(update["url"]) != origin(object_id(note)) or not isinstance(update["metrics"], dict):
        return None
    if update["round"] < 0 or update["samples"] < 0:
        return None
    return update


class Spore:
    """One node's part in SPORE, on top of its :class:`~wwm.federation.service.Federation`.

    Args:
        fed: the node's federation machinery.
        learner: its :class:`~wwm.fungus.learner.FungusLearner`.
        experience: its World experience and validation set (``learn(learner, n)``, ``score(learner)``).
        sink: an extra record sink (e.g. a knowledge graph), besides ``spore.jsonl``.
        policy: the migration policy (its ``capacity`` is also the capacity of groups founded here).
        rule: the aggregation rule of groups founded here.
        steps: training requests per round.
        peers: base URLs of other nodes whose groups this node considers.
        found: found a group when in none and no move helps.
        migrate_every: rounds between migration checks.
        tolerance: how much validation score an adopted aggregate may lose.
        max_bytes: the cap on a fetched weights file.
    """

    def __init__(self, fed, learner, experience, *, sink=None, policy: MigrationPolicy | None = None,
                 rule: str = "trimmed", steps: int = 100, peers=(), found: bool = False, migrate_every: int = 1,
                 tolerance: float = 0.0, max_bytes: int = 64 * 1024 * 1024):
        if rule not in RULES:
            raise ValueError(f"rule must be one of {RULES}")
        self.fed, self.learner, self.experience = fed, learner, experience
        self.policy = policy or MigrationPolicy()
        self.rule, self.steps, self.found, self.migrate_every = rule, int(steps), found, max(1, int(migrate_every))
        self.peers = [p.rstrip("/") for p in peers]
        self.tolerance, self.max_bytes = tolerance, max_bytes
        self.store = SporeStore(os.path.join(fed.directory, "spore.sqlite3"))
        self.weights = WeightStore(os.path.join(fed.directory, "weights"))
        self.log_path = os.path.join(fed.directory, "spore.jsonl")
        self.jsonl = JsonlSink(self.log_path, clock=fed.clock)
        self.record = fan_out(self.jsonl, sink) if sink else self.jsonl
        self.node = fed.actors.node_name
        self.me = fed.actors.id(self.node)
        self.lock = threading.Lock()  # one round at a time
        fed.actors.providers.append(self._group_actors)
        fed.actors.invalidate()
        fed.handlers.append(self.on_activity)
        fed.follow_policy = self._admit

    # -- state ---------------------------------------------------------------------

    @property
    def round(self) -> int:
        return self.store.get("round", 0)

    @property
    def group(self) -> str | None:
        return self.store.get("group")

    def _signer(self):
        return self.fed.signer_for(self.node)

    def _meta(self) -> dict:
        return model_metadata(self.learner.model, self.learner.domain, self.learner.fingerprint,
                              self.learner.steps, self.learner.samples)

    def _state_bytes(self, state=None) -> bytes:
        return weights_to_bytes(state if state is not None else self.learner.model.state_dict(), self._meta())

    # -- groups hosted here ----------------------------------------------------------------

    def _group_actors(self):
        for g in self.store.groups():
            attachment = (("spore:rule", g["rule"]), ("spore:capacity", g["capacity"]),
                          ("spore:members", self.fed.store.count_followers(g["name"])),
                          ("spore:round", g["model_round"]))
            if g["model_sha"]:
                attachment += (("spore:model", self.fed.actors.base + weights_path(g["model_sha"])),
                               ("spore:model_sha256", g["model_sha"]))
            yield LocalActor(g["name"], "group", None, f"SPORE learning group {g['name']}",
                             f"A learning group of fungus nodes (rule {g['rule']}). Follow it to join.",
                             attachment)

    def _admit(self, name: str, follower: str) -> bool:
        g = self.store.group(name)
        if g is None:
            return True  # not a group: every other actor takes followers
        if g["dissolved"] or self.fed.store.count_followers(name) >= g["capacity"]:
            self.record("decision", {"action": "refuse_member", "group": self.fed.actors.id(name),
                                     "member": follower, "reason": "full" if not g["dissolved"] else "dissolved"})
            return False
        return True

    def found_group(self) -> str:
        """Found a group hosted here, and join it; returns its actor id."""
        name = "group-" + uuid.uuid4().hex[:8]
        self.store.add_group(name, self.rule, self.policy.capacity, self.fed.clock())
        self.fed.actors.invalidate()
        self.fed.ensure_keys()
        group_id = self.fed.actors.id(name)
        self.record("group", {"event": "founded", "group": group_id, "rule": self.rule,
                              "capacity": self.policy.capacity, "round": self.round})
        self.join(group_id)
        return group_id

    def _host_round(self) -> None:
        for g in self.store.groups():
            name, group_id = g["name"], self.fed.actors.id(g["name"])
            members = set(self.fed.store.followers(name))
            if not members:
                empty = g["empty_rounds"] + 1
                self.store.update_group(name, empty_rounds=empty)
                if empty >= 2:  # empty for a whole round after founding or the last leave: dissolve
                    self.store.update_group(name, dissolved=1)
                    self.fed.actors.invalidate()
                    self.record("group", {"event": "dissolved", "group": group_id, "round": self.round})
                continue
            self.store.update_group(name, empty_rounds=0)
            updates = [u for u in self.store.latest_updates(group_id) if u["member"] in members]
            if not updates:
                continue
            states, samples, used = [], [], []
            for u in updates:
                fetched = self._fetch(u, group_id)
                if fetched is not None:
                    states.append(fetched.tensors)
                    samples.append(u["samples"])
                    used.append(u["sha256"])
            if not states:
                continue
            data = self._state_bytes(aggregate(g["rule"], states, samples))
            sha = self.weights.put(data)
            self.store.update_group(name, model_sha=sha, model_round=g["model_round"] + 1)
            self.fed.actors.invalidate()
            self.record("model", {"owner": group_id, "sha256": sha, "url": self.fed.actors.base + weights_path(sha),
                                  "round": g["model_round"] + 1, "rule": g["rule"], "inputs": used,
                                  "bytes": len(data)})

    # -- joining and leaving -------------------------------------------------------------

    def join(self, group_id: str) -> None:
        doc = self.fed.remote.actor(group_id, refresh=True)
        follow_id = self.fed.actors.object_url(uuid.uuid4().hex)
        follow = {"@context": AP_CONTEXT, "id": follow_id, "type": "Follow", "actor": self.me, "object": group_id}
        self.fed.store.set_following(self.node, group_id, follow_id, "pending", self.fed.clock())
        publish(self.fed, self.node, follow, inboxes=[doc["inbox"]], public=False)
        self.fed.wake()
        self.store.put("group", group_id)
        self.store.put("group_rule", _props(doc).get("spore:rule") or self.rule)
        self.store.put("joined_at", self.fed.clock())
        self.store.put("last_aggregate", self.fed.clock())

    def leave(self) -> None:
        group_id = self.group
        if not group_id:
            return
        follow_id = next((fid for local, fid, _ in self.fed.store.following_of(group_id) if local == self.node), None)
        undo = {"@context": AP_CONTEXT, "id": self.fed.actors.object_url(uuid.uuid4().hex), "type": "Undo",
                "actor": self.me, "object": {"id": follow_id, "type": "Follow", "actor": self.me, "object": group_id}}
        try:
            inbox = self.fed.remote.inbox(group_id)
        except Exception as exc:  # the host is gone: leaving is still leaving
            log.warning("cannot reach %s to leave it: %s", group_id, exc)
            inbox = None
        publish(self.fed, self.node, undo, inboxes=[inbox] if inbox else [], public=False)
        self.fed.store.update_following(self.node, group_id, None)
        self.fed.wake()
        left = self.store.get("left", {})
        left[group_id] = self.round
        self.store.put("left", left)
        self.store.put("group", None)

    # -- activities ----------------------------------------------------------------------

    def on_activity(self, fed, actor_name, activity: dict) -> None:
        """The federation worker's extra handler: #spore notes to our groups, Announces of our group."""
        kind = activity.get("type")
        if kind == "Create":
            self._host_receive(activity)
        elif kind == "Announce":
            self._member_receive(activity)
        elif kind == "Reject" and object_id(activity.get("actor")) == self.group:
            self.record("decision", {"action": "rejected", "group": self.group, "round": self.round})
            self.store.put("group", None)

    def _host_receive(self, activity: dict) -> None:
        note = activity.get("object")
        sender = object_id(activity.get("actor"))
        update = parse_update(note) if isinstance(note, dict) else None
        if update is None or object_id(note.get("attributedTo")) != sender:
            return
        local = self.fed.actors.by_id(update["group"])
        if local is None or local.kind != "group" or not self.fed.store.is_follower(local.name, sender):
            return  # only members speak in a group
        if self.store.add_update(update["group"], sender, update, object_id(note), self.fed.clock()):
            announce = {"@context": AP_CONTEXT, "id": self.fed.actors.object_url(uuid.uuid4().hex),
                        "type": "Announce", "actor": update["group"], "object": object_id(note),
                        "to": [update["group"] + "/followers"], "cc": [AS_PUBLIC]}
            publish(self.fed, local.name, announce, inboxes=self.fed.store.follower_inboxes(local.name))

    def _member_receive(self, activity: dict) -> None:
        group_id = object_id(activity.get("actor"))
        if group_id is None or group_id != self.group:
            return
        note_id = object_id(activity.get("object"))
        if not note_id:
            return
        found = self.fed.store.get_object(note_id) if note_id.startswith(self.fed.actors.base + "/") else None
        if found is not None:
            note = found[0]
        else:  # a forwarded note: believe only its origin
            note = self.fed.http.get_json(note_id, signer=self._signer())
        if object_id(note) != note_id or origin(object_id(note.get("attributedTo"))) != origin(note_id):
            return
        update = parse_update(note)
        if update is None or update["group"] != group_id:
            return
        self.store.add_update(group_id, object_id(note.get("attributedTo")), update, note_id, self.fed.clock())

    # -- weights -------------------------------------------------------------------------

    def _fetch(self, update: dict, group: str):
        local = self.weights.get(update["sha256"]) if origin(update["url"]) == origin(self.fed.actors.base) else None
        try:
            if local is not None:  # our own file: no need to ask ourselves over HTTP
                tensors, meta = weights_from_bytes(local, self.learner.model.shapes(),
                                                   {"items_sha256": self.learner.fingerprint})
                fetched = Fetched(tensors, meta, update["sha256"], len(local))
            else:
                fetched = fetch_weights(self.fed.http, update["url"], update["sha256"], self.learner.model.shapes(),
                                        items_sha256=self.learner.fingerprint, domain=self.learner.domain,
                                        signer=self._signer(), max_bytes=self.max_bytes)
        except Exception as exc:  # a bad or unreachable file is skipped, and recorded
            self.record("decision", {"action": "refuse_weights", "group": group, "member": update.get("member"),
                                     "sha256": update["sha256"], "reason": str(exc)[:300], "round": self.round})
            return None
        self.record("measurement", {"what": "weights_bytes_in", "value": fetched.nbytes, "group": group,
                                    "sha256": fetched.sha256, "round": self.round})
        return fetched

    def _score_state(self, state) -> float:
        keep = {k: v.detach().clone() for k, v in self.learner.model.state_dict().items()}
        try:
            self.learner.model.load_state_dict(dict(state), strict=True)
            return self.experience.score(self.learner)
        finally:
            self.learner.model.load_state_dict(keep, strict=True)

    # -- one round -------------------------------------------------------------------------

    def step(self) -> dict:
        """One round (aggregate, host, migrate, train, publish); returns its record."""
        with self.lock:
            round_no = self.round + 1
            self.store.put("round", round_no)
            out = {"round": round_no, "group": self.group}
            if self.group:
                out["aggregate"] = self._aggregate()
            self._host_round()
            if round_no % self.migrate_every == 0:
                out["migration"] = self._migrate()
            out.update(self.experience.learn(self.learner, self.steps))
            out["score"] = self.experience.score(self.learner)
            self.record("measurement", {"what": "validation_reward", "value": out["score"], "round": round_no,
                                        "group": self.group, "train_reward": out["train_reward"]})
            if self.group:
                out["published"] = self.publish(out.get("aggregate"))
            self.record("round", out)
            return out

    def _aggregate(self) -> dict | None:
        group_id = self.group
        since = self.store.get("last_aggregate", 0.0)
        self.store.put("last_aggregate", self.fed.clock())
        updates = [u for u in self.store.latest_updates(group_id, since) if u["member"] != self.me]
        states, samples, used = [self.learner.model.state_dict()], [self.learner.samples], []
        for u in updates:
            fetched = self._fetch(u, group_id)
            if fetched is not None:
                states.append(fetched.tensors)
                samples.append(u["samples"])
                used.append({"member": u["member"], "sha256": u["sha256"], "samples": u["samples"]})
        if len(states) == 1:
            return None
        rule = self.store.get("group_rule") or self.rule
        decision = adopt_if_better(self.learner.model, aggregate(rule, states, samples),
                                   lambda: self.experience.score(self.learner), tolerance=self.tolerance)
        decision.update(action="adopt" if decision["adopted"] else "keep_own", group=group_id, rule=rule,
                        inputs=used, round=self.round)
        self.record("decision", decision)
        return decision

    def _candidates(self) -> list[Candidate]:
        bases = list(dict.fromkeys([self.fed.actors.base, *self.peers]))
        out = []
        for base in bases:
            try:
                listing = self.fed.http.get_json(base + "/spore/groups", signer=self._signer())
                groups = [g for g in listing.get("orderedItems") or [] if isinstance(g, str)][:50]
            except Exception as exc:
                self.record("measurement", {"what": "peer_unreachable", "peer": base, "reason": str(exc)[:200],
                                            "round": self.round})
                continue
            for group_id in groups:
                if group_id == self.group or origin(group_id) != origin(base):
                    continue
                try:
                    doc = self.fed.remote.actor(group_id, refresh=True)
                    p = _props(doc)
                    members = int(p.get("spore:members") or 0)
                    if not p.get("spore:model"):
                        continue
                    update = {"member": group_id, "url": str(p["spore:model"]), "sha256": str(p["spore:model_sha256"]),
                              "samples": 0}
                except Exception:
                    continue
                fetched = self._fetch(update, group_id)
                if fetched is not None:
                    out.append(self._candidate(group_id, fetched.tensors, members, fetched.sha256))
        return out

    def _candidate(self, group_id: str, group_state, members: int, sha: str | None) -> Candidate:
        """Score what joining would give: the group's model merged with ours, one vote per member
        (the group's model alone is made for other listeners; the merge is what we would adopt)."""
        merged = fedavg([self.learner.model.state_dict(), group_state], [1, max(1, members)])
        return Candidate(group_id, self._score_state(merged), members, sha,
                         {"group_model_score": self._score_state(group_state)})

    def _migrate(self) -> dict:
        current_score = self.experience.score(self.learner)
        candidates = self._candidates()
        record = decide(self.policy, current=self.group, current_score=current_score, candidates=candidates,
                        round_no=self.round, last_move=self.store.get("last_move"), left=self.store.get("left", {}))
        if record["action"] == "move":
            self.leave()
            self.join(record["to"])
            self.store.put("last_move", self.round)
        elif self.group is None and self.found:  # alone anyway: a group of one that others may join
            record.update(action="found", to=self.found_group(), reason="in no group, and no group worth joining")
            self.store.put("last_move", self.round)
        self.record("decision", record)
        if record["action"] != "stay":
            self._announce_decision(record)
        return record

    def _announce_decision(self, record: dict) -> None:
        """A public #spore note of a move or a founding, with every figure it was based on."""
        text = (f"Round {record['round']}: {'moved to' if record['action'] == 'move' else 'founded'} learning group "
                f"{record['to']} ({record['reason']}; my model scored {record['current_score']:.3f} on my own "
                f"held-out listeners).")
        attachment = [{"type": "PropertyValue", "name": "spore:decision",
                       "value": json.dumps({k: record[k] for k in ("action", "from", "to", "gain", "round",
                                                                   "current_score", "candidates", "reason")},
                                           sort_keys=True)}]
        content = paragraphs(text) + "<p>" + hashtag_html(self.fed.actors.base, TAG) + "</p>"
        post_note(self.fed, self.node, content, hashtags=(TAG,), attachment=attachment)
        self.fed.wake()

    def publish(self, adoption: dict | None = None) -> dict:
        """Publish this node's weights and the #spore note to its group; returns the update."""
        data = self._state_bytes()
        sha = self.weights.put(data)
        url = self.fed.actors.base + weights_path(sha)
        score = self.experience.score(self.learner)
        metrics = {"validation_reward": round(score, 6)}
        if adoption:  # this round's adopt-or-keep decision, with its figures
            metrics.update(adopted=adoption["adopted"], before=round(adoption["before"], 6),
                           after=round(adoption["after"], 6))
        update = {"group": self.group, "round": self.round, "sha256": sha, "url": url,
                  "samples": self.learner.samples, "metrics": metrics}
        props = {"spore:group": update["group"], "spore:round": update["round"], "spore:sha256": sha,
                 "spore:weights": url, "spore:samples": update["samples"],
                 "spore:metrics": json.dumps(update["metrics"], sort_keys=True)}
        attachment = [{"type": "PropertyValue", "name": k, "value": str(v)} for k, v in props.items()]
        attachment.append({"type": "Link", "href": url, "mediaType": "application/octet-stream",
                           "name": f"weights {sha[:12]}"})
        text = (f"Round {self.round} of learning group {self.group}: new weights ({len(data)} bytes, "
                f"{update['samples']} samples), expected reward on my own held-out listeners {score:.3f}.")
        content = paragraphs(text) + "<p>" + hashtag_html(self.fed.actors.base, TAG) + "</p>"
        activity = post_note(self.fed, self.node, content, to=[self.group], hashtags=(TAG,), attachment=attachment)
        self.fed.wake()
        self.record("model", {"owner": self.me, "sha256": sha, "url": url, "round": self.round, "group": self.group,
                              "samples": update["samples"], "bytes": len(data), "note": activity["object"]["id"]})
        self.record("measurement", {"what": "weights_bytes_out", "value": len(data), "round": self.round,
                                    "group": self.group})
        return update

    # -- what a web UI shows ---------------------------------------------------------------

    # -- what the web UI's node page shows (wwm.web.node.learning) ----------------------

    def groups(self) -> list[dict]:
        """The groups this node hosts or belongs to: ``id``, ``name``, ``members``, ``score``."""
        st = self.status()
        last = st["scores"][-1]["value"] if st["scores"] else None
        out = [{"id": g["id"], "name": g["id"].rsplit("/", 1)[-1], "members": g["members"],
                "score": last if g["id"] == st["group"] else None}
               for g in st["hosted_groups"] if not g["dissolved"]]
        if st["group"] and all(g["id"] != st["group"] for g in out):
            out.append({"id": st["group"], "name": st["group"].rsplit("/", 1)[-1], "members": [self.me],
                        "score": last})
        return out

    def versions(self) -> list[dict]:
        """Model versions made here: ``hash``, ``url``, ``group``, ``score``, ``created``."""
        return [{"hash": r["sha256"], "url": r["url"], "group": r["owner"], "score": None, "created": r["time"]}
                for r in self.jsonl.records() if r["kind"] == "model"][-50:]

    def migrations(self) -> list[dict]:
        """Moves and foundings: ``from``, ``to``, ``gain``, ``time``."""
        return [{"from": r.get("from"), "to": r.get("to"), "gain": r.get("gain"), "time": r["time"]}
                for r in self.status()["migrations"]]

    def status(self) -> dict:
        """The node's groups, members, model versions and migrations (``GET /spore/status``)."""
        records = self.jsonl.records()
        hosted = []
        for g in self.store.groups(live=False):
            hosted.append({"id": self.fed.actors.id(g["name"]), "rule": g["rule"], "capacity": g["capacity"],
                           "dissolved": bool(g["dissolved"]), "members": self.fed.store.followers(g["name"]),
                           "model_sha256": g["model_sha"], "model_round": g["model_round"]})
        return {
            "node": self.me, "round": self.round, "group": self.group,
            "hosted_groups": hosted,
            "models": [r for r in records if r["kind"] == "model"][-50:],
            "migrations": [r for r in records if r["kind"] == "decision" and r.get("action") in ("move", "found")],
            "decisions": [r for r in records if r["kind"] == "decision"][-50:],
            "scores": [{"round": r["round"], "value": r["value"], "group": r.get("group")}
                       for r in records if r["kind"] == "measurement" and r.get("what") == "validation_reward"],
            "time": time.time(),
        }
