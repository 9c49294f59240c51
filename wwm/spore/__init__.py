"""SPORE: fungus nodes learn together in groups over ActivityPub and migrate by measured gain.

Modules::

    sink.py       where every decision, round, model version and measurement is recorded
    exchange.py   content-addressed weights: store, URL, signed capped fetch, checks before loading
    aggregate.py  FedAvg by sample count, trimmed mean, coordinate median; adopt-if-not-worse
    migration.py  the move/stay rule (threshold, hysteresis, cooldown, capacity)
    groups.py     learning groups as ActivityPub Group actors; rounds; the node's SPORE state
    blueprint.py  the Flask routes (weights files, the group collection, a status document)

See docs/spore.md.  Everything here needs torch (``pip install -e .[fungus]``).
"""
from __future__ import annotations
