"""The knowledge graph: what a node knows (servers, runs, songs, learning groups, models), in RDF.

Needs rdflib, and for the embedded store Oxigraph (``pip install -e '.[knowledge]'``).
See docs/knowledge.md.
"""
from wwm.knowledge.store import (EmbeddedStore, KnowledgeStore, MemoryStore, QueryError, RemoteStore,
                                 StoreError, StoreUnavailable, open_store)
from wwm.knowledge.terms import AS, PREFIXES, SCHEMA, WWM

__all__ = ["open_store", "KnowledgeStore", "EmbeddedStore", "MemoryStore", "RemoteStore", "StoreError",
           "StoreUnavailable", "QueryError", "WWM", "SCHEMA", "AS", "PREFIXES"]
