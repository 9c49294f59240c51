"""A society of Minds as one Mind: fan a state out to the members, arbitrate, answer.

    from wwm.society import Society, load
    society = Society(load("minds/society-hello"))
    action = society.act("low: 1\\nhigh: 100\\n")
    society.close()

This is the engine; ``python3 -m wwm.society`` serves it as a Program 1, so a
gateway serves a society like any Mind (``kind = "society"``) and a World
cannot tell the difference.  Each step:

1. the state (with the World's reward line) goes to every member that can be
   asked, in parallel (one thread and one keep-alive connection each);
2. the society waits until all have answered or the deadline has passed; if
   nobody has answered by then it waits up to ``patience`` more for the first;
3. members that are down, slow, busy or answer garbage are skipped for this
   step and reported (the run's ``log`` and ``society.json``);
4. the answers' annotations are read (``w``, Q-values; :mod:`.annotate`), W is
   learned (W-learning), the rule picks the action (:mod:`.rules`), and the
   society answers it without the members' annotations (with its own when the
   society file says ``annotate="true"``).

With no usable answer at all the society answers its ``fallback`` action, or
raises :class:`NoLiveMember`, which ends the run with that message (HTTP 502
"Program 1 gave up on the run: ...").
"""
from __future__ import annotations

import json
import os
import queue
import sys
import tempfile
import time

from wwm.protocol.files import write_atomic
from wwm.program import split_reward
from wwm.society import rules
from wwm.protocol.annotations import Annotated, annotate, format_ranking
from wwm.society.members import BUSY, SLOW, Answer, MemberLink
from wwm.society.rules import Ballot
from wwm.society.soml import Spec

__all__ = ["Society", "NoLiveMember", "STATUS_FILE"]

STATUS_FILE = "society.json"
MAX_W_STATES = 100_000   # W_i(x) entries kept per member
LOG_FREE = 50            # status changes logged per member before rate limiting
LOG_EVERY = 10.0         # then at most one line per member this often (seconds)


class NoLiveMember(RuntimeError):
    """No member of the society gave a usable answer for a state."""


class Society:
    """A running society: member links, learned W, the arbitration of each step.

    Args:
        spec: the society file, parsed (:func:`wwm.society.soml.load`).
        workdir: where local members' runs and ``society.json`` go (a temporary
            folder by default; the run directory when served).
        seed: passed to the members' StartRun.
        log: a function taking one line; default: print to stdout (the run's log).
    """

    def __init__(self, spec: Spec, workdir: str | None = None, seed: int | str | None = None, log=None):
        self.spec = spec
        self.workdir = workdir or tempfile.mkdtemp(prefix="wwm-society-")
        self.log = log or (lambda line: print(line, flush=True))
        runs = os.path.join(self.workdir, "members")
        self.links = [MemberLink(m, ranked=spec.ranked, runs=runs, seed=seed, retry=spec.retry,
                                 timeout=max(30.0, 4 * spec.first_deadline)) for m in spec.members]
        self.steps = 0
        self.W: dict[str, dict[str, float]] = {link.name: {} for link in self.links}
        self.W_mean: dict[str, float] = {link.name: 0.0 for link in self.links}
        self.last: dict = {}
        self._prev = None       # (state, {member: (action key, Q_i(x, a_i))}, executed key)
        self._closed = False

    # -- one step -----------------------------------------------------------------

    def act(self, payload: str) -> str:
        """The society's action for a state (text or XML, with the reward line if any)."""
        state, reward = split_reward(payload)
        self.steps += 1
        step = self.steps
        started = time.perf_counter()
        answers, skipped = self._gather(step, payload, state)
        usable = [a for a in answers if a.parsed is not None]
        for a in answers:
            if a.parsed is None:
                skipped[a.member] = (a.reason, a.detail)
        for link, (reason, detail) in skipped.items():
            if link.skip(reason, detail):
                self._note(link, f"step {step}: member {link.name} skipped: {reason}"
                                 + (f" ({detail})" if detail else ""))
        for a in usable:
            link = a.member
            if link.status != "ok":
                if link.status != "new":
                    self._note(link, f"step {step}: member {link.name} is back")
                link.status, link.detail = "ok", ""
            link.stats["answered"] += 1
            link.stats["seconds"] += a.seconds
        if not usable:
            return self._no_answer(step, skipped)
        ballots = [Ballot(a.member.name, a.parsed.key, a.member.weight, a.parsed.w, a.parsed.q, a.parsed.items)
                   for a in usable]
        if self.spec.rule == "w-learning":
            self._learn(state, reward, ballots)
        action, key, info = self._choose(state, usable, ballots)
        for a, b in zip(usable, ballots):
            top = b.items[0] if self.spec.ranked and b.items else b.action
            if top == (key.split(" ", 1)[0] if self.spec.ranked else key):
                a.member.stats["obeyed"] += 1
        if self.spec.rule == "w-learning":
            self._remember(state, ballots, key)
        self.last = {"step": step, "action": key, "answered": [a.member.name for a in usable],
                     "skipped": {link.name: reason for link, (reason, _) in skipped.items()},
                     "seconds": round(time.perf_counter() - started, 6), **info}
        self._write_status()
        return action

    def _note(self, link: MemberLink, line: str) -> None:
        """Log a member's change of status: freely at first, then at most once per LOG_EVERY s
        (a member that fails every other step must not flood the run's log)."""
        now = time.monotonic()
        if link.logged < LOG_FREE or now - link.logged_at >= LOG_EVERY:
            held = f" (+{link.held} changes not logged)" if link.held else ""
            self.log(f"society {self.spec.name}: {line}{held}")
            link.logged, link.logged_at, link.held = link.logged + 1, now, 0
        else:
            link.held += 1

    def _gather(self, step: int, payload: str, state: str) -> tuple[list[Answer], dict]:
        """Ask every member that can be asked; collect answers until the deadline."""
        now = time.monotonic()
        inbox: queue.Queue = queue.Queue()
        asked, skipped = [], {}
        for link in self.links:
            why = link.ready(now)
            if why is None:
                link.ask(step, payload, state, inbox)
                asked.append(link)
            else:
                skipped[link] = (why, "still working on an earlier state" if why == BUSY else
                                 f"failed earlier: {link.detail}" if link.detail else "")
        if not asked:  # nobody to ask: try the failed ones again now rather than give up
            for link in self.links:
                if link.ready(now, force=True) is None:
                    link.ask(step, payload, state, inbox)
                    asked.append(link)
                    skipped.pop(link, None)
        limit = self.spec.first_deadline if step == 1 else self.spec.deadline
        deadline, extended = now + limit, False
        answers, pending = [], set(asked)
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                if extended or any(a.parsed is not None for a in answers) or self.spec.patience <= 0:
                    break
                deadline, extended = deadline + self.spec.patience, True
                continue
            try:
                answer = inbox.get(timeout=left)
            except queue.Empty:
                continue
            pending.discard(answer.member)
            answers.append(answer)
            if extended and answer.parsed is not None:
                break  # late, but the first usable answer: take it
        for link in pending:
            skipped[link] = (SLOW, f"no answer within {limit:g} s")
        order = {link: n for n, link in enumerate(self.links)}
        answers.sort(key=lambda a: order[a.member])
        return answers, skipped

    def _no_answer(self, step: int, skipped: dict) -> str:
        self._prev = None  # W-learning pairs a state with the very next one only
        why = "; ".join(f"{link.name}: {reason}" + (f" ({detail})" if detail else "")
                        for link, (reason, detail) in skipped.items())
        self.last = {"step": step, "action": None, "answered": [],
                     "skipped": {link.name: reason for link, (reason, _) in skipped.items()}}
        self._write_status()
        if self.spec.fallback is not None:
            self.log(f"society {self.spec.name}: step {step}: no member answered; fallback action ({why})")
            return self.spec.fallback
        raise NoLiveMember(f"society {self.spec.name!r} has no live member at step {step}: {why}")

    # -- arbitration --------------------------------------------------------------

    def _learned(self, state: str) -> dict[str, float]:
        return {name: table.get(state, self.W_mean[name]) for name, table in self.W.items()}

    def _choose(self, state: str, usable: list[Answer], ballots: list[Ballot]) -> tuple[str, str, dict]:
        spec, rule = self.spec, self.spec.rule
        if spec.ranked:
            items, scores = rules.fuse_ranked(ballots, rule, spec.size, spec.k, self._learned(state))
            lead = usable[0].parsed if usable[0].parsed.xml else None  # answer in the first member's form
            w, q = self._own_annotations(ballots, scores if rule == "w-learning" else None)
            if lead is not None:
                root, tag = _xml_tags(lead)
                action = format_ranking(items, xml=True, w=w, q=q, root=root, tag=tag)
            else:
                action = format_ranking(items, w=w, q=q)
            return action, " ".join(items), {"scores": _top(scores)}
        info: dict = {}
        if rule == "w-learning":
            k, scores = rules.highest_w(ballots, self._learned(state))
            key = ballots[k].action
            info["W"] = {b.member: round(s, 6) for b, s in zip(ballots, scores)}
            w, q = self._own_annotations(ballots, info["W"])
        else:
            if rule == "collective":
                key, scores = rules.collective(ballots)
            elif rule == "worst-unhappiness":
                key, scores = rules.worst_unhappiness(ballots)
            elif rule == "vote":
                key, scores = rules.vote(ballots)
            else:  # borda or rrf over single actions: each member's Q-ranking
                lists = [Ballot(b.member, b.action, b.weight, b.w, b.q, _q_ranking(b)) for b in ballots]
                scores = rules.borda(lists) if rule == "borda" else rules.rrf(lists, spec.k)
                order = rules.candidates(lists, ranked=True)
                key = max(enumerate(order), key=lambda ia: (scores.get(ia[1], 0.0), -ia[0]))[1]
            info["scores"] = _top(scores)
            w, q = self._own_annotations(ballots, None)
        chosen = next((a.parsed for a in usable if a.parsed.key == key), None)
        payload = chosen.action if chosen is not None else (key + "\n" if not key.startswith("<") else key)
        if spec.annotate and (w is not None or q):
            payload = annotate(payload, w, q)
        return payload, key, info

    def _own_annotations(self, ballots: list[Ballot], w_scores: dict | None):
        """The society's own ``w`` and Q-values, for when it is a member of another society."""
        if not self.spec.annotate:
            return None, None
        if w_scores:
            w = max(w_scores.values())
        else:
            reported = [b.weight * b.w for b in ballots if b.w is not None]
            w = max(reported) if reported else None
        valued = [b for b in ballots if b.q]
        q = None
        if valued:
            cands = rules.candidates(valued, self.spec.ranked)
            total = sum(b.weight for b in valued) or 1.0
            q = {a: 0.0 for a in cands}
            for b in valued:
                for a, v in rules.q_table(b, cands, self.spec.ranked).items():
                    q[a] += b.weight * v / total
        return w, q

    # -- W-learning ---------------------------------------------------------------

    def _remember(self, state: str, ballots: list[Ballot], executed: str) -> None:
        """Keep what W-learning needs from this step for the next one."""
        own = {b.member: ((" ".join(b.items) if self.spec.ranked else b.action), rules.own_q(b, self.spec.ranked))
               for b in ballots if b.q}
        self._prev = (state, own, executed)

    def _learn(self, state: str, reward: float | None, ballots: list[Ballot]) -> None:
        """Update W_i(x) of each member not obeyed at the previous step x (see rules.w_update)."""
        prev, self._prev = self._prev, None
        if prev is None or reward is None:
            return
        x, own, executed = prev
        now = {b.member: b for b in ballots if b.q}
        for member, (action, q_own) in own.items():
            if action == executed or member not in now:
                continue  # obeyed (its own action was taken), or no Q-values at y
            q_next = max(now[member].q.values())
            table = self.W[member]
            table[x] = rules.w_update(table.get(x, 0.0), q_own, reward, q_next, self.spec.alpha, self.spec.gamma)
            self.W_mean[member] = rules.w_update(self.W_mean[member], q_own, reward, q_next,
                                                 self.spec.alpha, self.spec.gamma)
            if len(table) > MAX_W_STATES:
                table.pop(next(iter(table)))

    # -- reports and ending -------------------------------------------------------------

    def report(self) -> dict:
        """The society's state: rule, steps, each member's status and counts, the last step."""
        members = []
        for link in self.links:
            entry = link.report()
            if self.spec.rule == "w-learning":
                entry["W_mean"] = round(self.W_mean[link.name], 6)
                entry["W_states"] = len(self.W[link.name])
            members.append(entry)
        return {"society": self.spec.name, "rule": self.spec.rule, "ranked": self.spec.ranked,
                "steps": self.steps, "members": members, "last": self.last}

    def _write_status(self) -> None:
        try:
            write_atomic(os.path.join(self.workdir, STATUS_FILE), json.dumps(self.report(), indent=1))
        except OSError as exc:  # a report must never break a step
            sys.stderr.write(f"society: cannot write {STATUS_FILE}: {exc}\n")

    def close(self, wait: float = 1.5) -> None:
        """End every member's run (in parallel, at most ``wait`` seconds in all)."""
        if self._closed:
            return
        self._closed = True
        for link in self.links:
            link.begin_close()
        deadline = time.monotonic() + wait
        for link in self.links:
            link.finish_close(max(0.0, deadline - time.monotonic()))
        # Local members run under this society's runs folder: end what is left there,
        # shared-instance processes included (one process serving every run of a Mind).
        local = {}
        for link in self.links:
            gateway = getattr(getattr(link.server, "transport", None), "gateway", None)
            if gateway is not None:
                local[(gateway.root, gateway.runs)] = gateway
        for gateway in local.values():
            try:
                gateway.shutdown()
            except Exception as exc:  # ending is best effort
                sys.stderr.write(f"society: could not stop local members: {exc!r}\n")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _q_ranking(b: Ballot) -> list[str]:
    """A member's candidates by its Q-values, best first (its own action first among equals)."""
    if not b.q:
        return [b.action]
    cands = rules.candidates([b])
    table = rules.q_table(b, cands)
    return sorted(cands, key=lambda a: (-table[a], a != b.action, cands.index(a)))


def _top(scores: dict, n: int = 10) -> dict:
    best = sorted(scores.items(), key=lambda kv: -kv[1])[:n]
    return {k[:80]: round(v, 6) for k, v in best}


def _xml_tags(parsed: Annotated) -> tuple[str, str]:
    """The root and item tag names a member used for its XML ranked list."""
    text = parsed.action.lstrip()
    root = text[1:].split(None, 1)[0].split(">", 1)[0].split("/", 1)[0] or "action"
    tag = "item" if "<item" in text and "<track" not in text else "track"
    return root, tag
