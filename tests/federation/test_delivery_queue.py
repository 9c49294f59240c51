"""The delivery queue: signed, retried with exponential backoff, durable across restarts."""
from __future__ import annotations

import json
import time

from fedkit import ManualClock
from flask import Flask

from wwm.federation import Federation, get_federation, init_app
from wwm.federation.outbox import publish


def accept_for(fed, remote):
    return {"id": fed.actors.object_url("a1"), "type": "Accept", "actor": fed.actors.id("fungus"),
            "object": f"{remote.actor_id('bob')}/follows/1"}


def test_retries_with_backoff_then_delivers(make_app, remote):
    clock = ManualClock()
    app = make_app()
    fed = get_federation(app)
    fed.clock = fed.delivery.clock = clock
    fed.delivery.jitter = 0
    remote.add_actor("bob")
    remote.inbox_status = 503
    publish(fed, "fungus", accept_for(fed, remote), inboxes=[remote.actor_id("bob") + "/inbox"], public=False)
    waits = []
    for _ in range(3):
        fed.run_pending()
        [job] = fed.store.deliveries()
        waits.append(round(job["next_at"] - clock.now))
        assert fed.run_pending() == 0  # not due yet
        clock.advance(job["next_at"] - clock.now)
    assert waits == [10, 20, 40]  # FEDERATION_RETRY_BASE=10, doubling
    assert len(remote.received) == 3
    remote.inbox_status = 202
    fed.run_pending()
    [job] = fed.store.deliveries()
    assert job["status"] == "done" and job["attempts"] == 4
    assert all("signature-input" in r["headers"] and "content-digest" in r["headers"] for r in remote.received)


def test_retry_after_is_respected(make_app, remote):
    clock = ManualClock()
    fed = get_federation(make_app())
    fed.clock = fed.delivery.clock = clock
    fed.delivery.jitter = 0
    remote.inbox_status = 429
    remote.inbox_headers = {"Retry-After": "120"}
    fed.delivery.enqueue("fungus", [remote.base + "/inbox"], {"type": "Note"})
    fed.run_pending()
    assert fed.store.deliveries()[0]["next_at"] - clock.now == 120


def test_client_errors_and_forbidden_addresses_are_not_retried(make_app, remote):
    fed = get_federation(make_app())
    remote.inbox_status = 400
    fed.delivery.enqueue("fungus", [remote.base + "/inbox"], {"type": "Note"})
    fed.run_pending()
    assert [d["status"] for d in fed.store.deliveries()] == ["dead"]
    strict = get_federation(make_app(ALLOW_PRIVATE_FETCH=False, FEDERATION_DIR=str(fed.directory) + "-strict"))
    strict.delivery.enqueue("fungus", ["https://10.0.0.1/inbox", "https://127.0.0.1/inbox"], {"type": "Note"})
    strict.run_pending()
    assert [d["status"] for d in strict.store.deliveries()] == ["dead", "dead"]
    assert len(remote.received) == 2  # RFC 9421, then draft-cavage (a 400 may mean "unknown scheme"); no retry


def test_gives_up_after_max_attempts(make_app, remote):
    clock = ManualClock()
    fed = get_federation(make_app(FEDERATION_MAX_ATTEMPTS=3))
    fed.clock = fed.delivery.clock = clock
    remote.inbox_status = 500
    fed.delivery.enqueue("fungus", [remote.base + "/inbox"], {"type": "Note"})
    for _ in range(5):
        fed.run_pending()
        clock.advance(10_000)
    [job] = fed.store.deliveries()
    assert job["status"] == "dead" and job["attempts"] == 3 and job["last_error"] == "HTTP 500"


def test_queue_survives_a_restart(tmp_path, test_root, key_cache, remote):
    from fedkit import make_config

    config = make_config(tmp_path, test_root, key_cache)
    clock = ManualClock()
    first = Federation(config, clock=clock)
    remote.inbox_status = 503
    first.delivery.enqueue("fungus", [remote.base + "/inbox"], {"type": "Note", "content": "hello"})
    first.run_pending()
    first.close()  # the process goes away with a retry pending

    remote.inbox_status = 202
    clock.advance(3600)
    app = Flask("restarted")
    app.config.update(config)
    second = init_app(app, Federation(config, clock=clock))
    second.run_pending()
    [job] = second.store.deliveries()
    assert job["status"] == "done" and job["attempts"] == 2
    assert [json.loads(r["body"])["content"] for r in remote.received] == ["hello", "hello"]
    second.close()


def test_claimed_delivery_of_a_dead_worker_is_taken_again(tmp_path, test_root, key_cache, remote):
    from fedkit import make_config

    config = make_config(tmp_path, test_root, key_cache)
    clock = ManualClock()
    fed = Federation(config, clock=clock)
    fed.delivery.enqueue("fungus", [remote.base + "/inbox"], {"type": "Note"})
    claimed = fed.store.claim_deliveries(clock(), lease=120)  # a worker claims it, then dies
    assert len(claimed) == 1
    assert fed.run_pending() == 0
    clock.advance(121)
    assert fed.run_pending() == 1
    assert fed.store.deliveries()[0]["status"] == "done"
    fed.close()


def test_worker_thread_delivers_by_itself(make_app, remote):
    fed = get_federation(make_app(FEDERATION_POLL=0.05))
    fed.start_worker()
    fed.delivery.enqueue("fungus", [remote.base + "/inbox"], {"type": "Note"})
    fed.wake()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not remote.received:
        time.sleep(0.05)
    fed.stop_worker()
    assert len(remote.received) == 1


def test_unauthorized_is_retried_until_the_receiver_knows_our_key(make_app, remote):
    clock = ManualClock()
    fed = get_federation(make_app())
    fed.clock = fed.delivery.clock = clock
    fed.delivery.jitter = 0
    remote.add_actor("bob")
    remote.inbox_status = 401  # e.g. Mastodon could not fetch our key just now
    publish(fed, "fungus", accept_for(fed, remote), inboxes=[remote.actor_id("bob") + "/inbox"], public=False)
    fed.run_pending()
    [job] = fed.store.deliveries()
    assert job["status"] == "pending" and job["last_error"] == "HTTP 401" and job["next_at"] - clock.now == 10
    remote.inbox_status = 202
    clock.advance(10)
    fed.run_pending()
    [job] = fed.store.deliveries()
    assert job["status"] == "done" and len(remote.received) == 3  # RFC 9421 and cavage knocks, then cavage


def test_rfc9421_first_then_draft_cavage_where_refused(make_app, remote):
    """Double knocking: RFC 9421 first; a server that answers 401 gets draft-cavage at once, and
    from then on directly."""
    fed = get_federation(make_app())
    remote.status_for = lambda headers: 401 if "signature-input" in headers else None
    fed.delivery.enqueue("fungus", [remote.base + "/inbox"], {"type": "Note"})
    fed.run_pending()
    assert [d["status"] for d in fed.store.deliveries()] == ["done"]
    first, second = remote.received
    assert "signature-input" in first["headers"] and "content-digest" in first["headers"]
    assert "signature-input" not in second["headers"] and 'keyId="' in second["headers"]["signature"]
    fed.delivery.enqueue("fungus", [remote.base + "/inbox"], {"type": "Note", "n": 2})
    fed.run_pending()
    assert len(remote.received) == 3 and "signature-input" not in remote.received[2]["headers"]


def test_rfc9421_deliveries_verify(make_app, remote):
    """What we send with RFC 9421 verifies with our own verifier (the library, with our policy)."""
    from wwm.federation.httpsig import KeyInfo, verify_request

    fed = get_federation(make_app())
    fed.delivery.enqueue("fungus", [remote.base + "/inbox"], {"type": "Note"})
    fed.run_pending()
    [got] = remote.received
    info = KeyInfo(fed.actors.key_id("fungus"), fed.actors.id("fungus"), "", fed.keys.private_key("fungus").public_key())
    verified = verify_request("POST", "/inbox", lambda n: got["headers"].get(n), got["body"], now=time.time(),
                              resolve_key=lambda k, refresh=False: info, scheme="http")
    assert verified.signature.algorithm == "rfc9421" and verified.key.key_id == fed.actors.key_id("fungus")
