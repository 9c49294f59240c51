"""Namespaces, IRIs for wwm things, and RDF terms written into SPARQL safely.

Nothing here assembles a query from user data by string formatting: a term
becomes SPARQL text only through :func:`sparql_term`, which checks an IRI
against the SPARQL ``IRIREF`` rule and escapes a literal, so a value such as
``x" } ; DROP ALL #`` stays one literal and ``http://a> } DROP ALL`` is refused.
"""
from __future__ import annotations

import itertools
import re
from urllib.parse import quote

from rdflib import BNode, Literal, Namespace, URIRef
from rdflib.namespace import OWL, PROV, RDF, RDFS, XSD

WWM = Namespace("https://w3id.org/wwm/ns#")
SCHEMA = Namespace("https://schema.org/")
AS = Namespace("https://www.w3.org/ns/activitystreams#")

PREFIXES = {"wwm": WWM, "schema": SCHEMA, "prov": PROV, "as": AS, "rdf": RDF, "rdfs": RDFS,
            "xsd": XSD, "owl": OWL}

#: IRIs for things of our own: ``urn:wwm:`` unless a gateway gives its public URL
DEFAULT_BASE = "urn:wwm:"

# SPARQL 1.1 IRIREF: no space, control characters or <>"{}|^`\ ; a scheme is required too.
_IRI_OK = re.compile(r'[A-Za-z][A-Za-z0-9+.-]*:[^\x00-\x20<>"{}|^`\\]*\Z')


class TermError(ValueError):
    """A value that cannot be an RDF term safely (an IRI with characters IRIs may not hold)."""


def check_iri(iri: str) -> URIRef:
    """``iri`` as a URIRef, or TermError when it is not a valid absolute IRI."""
    text = str(iri)
    if not _IRI_OK.match(text):
        raise TermError(f"not a valid IRI: {text[:80]!r}")
    return URIRef(text)


def iri(base: str, *parts: str) -> URIRef:
    """``base`` followed by ``parts``, each percent-encoded (``/`` kept), e.g. ``urn:wwm:worlds/songs``."""
    return check_iri(base + "/".join(quote(str(p), safe="/:@!$&'()*+,;=-._~") for p in parts))


def target_iri(target: str, base: str = DEFAULT_BASE) -> URIRef:
    """The IRI of a server named in the scoreboard: its URL when it is one, else ``base`` + worlds/NAME."""
    t = str(target).strip().rstrip("/")
    if re.match(r"https?://", t):
        try:
            return check_iri(t)
        except TermError:
            return check_iri(quote(t, safe=":/?#[]@!$&'()*+,;=-._~%"))
    parts = t.split("/")
    name = "/".join(parts[-2:]) if len(parts) >= 2 and parts[-2] in ("worlds", "minds") else parts[-1]
    return iri(base, name)


def _escape(text: str) -> str:
    out = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    # SPARQL may decode \uXXXX before parsing strings, so a backslash followed by u must not read as one
    out = re.sub(r"\\\\([uU])", lambda m: "\\\\" + ("\\U00000075" if m.group(1) == "u" else "\\U00000055"), out)
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", lambda m: f"\\u{ord(m.group()):04X}", out)


def sparql_term(term) -> str:
    """One RDF term as SPARQL/N-Triples text; IRIs checked, literals escaped.

    >>> sparql_term(Literal('a "b"\\n'))
    '"a \\\\"b\\\\"\\\\n"'
    """
    if isinstance(term, URIRef):
        return f"<{check_iri(term)}>"
    if isinstance(term, Literal):
        text = f'"{_escape(str(term))}"'
        if term.language:
            if not re.fullmatch(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*", term.language):
                raise TermError(f"not a language tag: {term.language[:20]!r}")
            return f"{text}@{term.language}"
        if term.datatype and term.datatype != XSD.string:
            return f"{text}^^<{check_iri(term.datatype)}>"
        return text
    if isinstance(term, BNode):
        if not re.fullmatch(r"[A-Za-z0-9_]+", str(term)):
            raise TermError("blank node label with odd characters")
        return f"_:{term}"
    raise TermError(f"not an RDF term: {type(term).__name__}")


def term(value) -> URIRef | Literal | BNode:
    """A Python value as an RDF term: terms pass through, everything else becomes a Literal."""
    if isinstance(value, (URIRef, Literal, BNode)):
        return value
    return Literal(value)


def values_clause(bindings: dict) -> str:
    """``VALUES (?a ?b) { (t1 t2) }`` binding variables to checked, escaped terms.

    A list or tuple gives a variable several values (one row each, crossed with the others).
    """
    names = list(bindings)
    for n in names:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(n)):
            raise TermError(f"not a variable name: {str(n)[:40]!r}")
    columns = [[sparql_term(term(v)) for v in (bindings[n] if isinstance(bindings[n], (list, tuple))
                                                else [bindings[n]])] for n in names]
    rows = " ".join("(" + " ".join(row) + ")" for row in itertools.product(*columns))
    return "\nVALUES (" + " ".join("?" + str(n) for n in names) + ") { " + rows + " }"


def triples_text(triples) -> str:
    """Triples as N-Triples-style lines for INSERT DATA / DELETE DATA."""
    return "\n".join(f"{sparql_term(s)} {sparql_term(p)} {sparql_term(o)} ." for s, p, o in triples)
