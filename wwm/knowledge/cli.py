"""``wwm graph``: query, dump, load and fill the knowledge graph."""
from __future__ import annotations

import json
import os
import sys

import click

from wwm.knowledge.store import StoreError, default_location, open_store
from wwm.knowledge.terms import TermError, check_iri

FORMATS = {"turtle": "turtle", "ttl": "turtle", "json-ld": "json-ld", "jsonld": "json-ld", "nt": "nt",
           "ntriples": "nt", "xml": "xml", "rdf": "xml", "n3": "n3", "trig": "trig", "nq": "nquads"}


class GraphError(click.ClickException):
    """A knowledge-graph failure shown as one clean line (exit code 1)."""


def _open(ctx):
    try:
        return open_store(ctx.obj["store"])
    except StoreError as exc:
        raise GraphError(str(exc)) from None


@click.group("graph")
@click.option("--store", default=None, help="A store folder, or a SPARQL endpoint URL "
              "[default: $WWM_KNOWLEDGE, else runs/knowledge].")
@click.pass_context
def graph_group(ctx, store):
    """The knowledge graph: servers, runs, songs, learning groups, models (see docs/knowledge.md)."""
    ctx.obj = {"store": store or default_location()}


def _bindings(iris, literals) -> dict:
    out = {}
    for pairs, make in ((iris, check_iri), (literals, str)):
        for pair in pairs:
            name, sep, value = pair.partition("=")
            if not sep:
                raise click.BadParameter(f"{pair!r}: give NAME=VALUE")
            out[name] = make(value)
    return out


@graph_group.command("query")
@click.argument("sparql")
@click.option("--iri", "iris", multiple=True, metavar="NAME=IRI", help="Bind ?NAME to an IRI.")
@click.option("--literal", "literals", multiple=True, metavar="NAME=TEXT", help="Bind ?NAME to a string.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "xml", "turtle", "json-ld"]),
              default="table", show_default=True, help="How to print the results.")
@click.pass_context
def query_command(ctx, sparql, iris, literals, fmt):
    """Run the SPARQL query SPARQL ('-' reads it from stdin), values bound with --iri/--literal."""
    if sparql == "-":
        sparql = sys.stdin.read()
    with _open(ctx) as kg:
        try:
            res = kg.query(sparql, _bindings(iris, literals))
        except (StoreError, TermError) as exc:
            raise GraphError(str(exc)) from None
        if res.type in ("CONSTRUCT", "DESCRIBE"):
            out_fmt = fmt if fmt in ("turtle", "json-ld") else "turtle"
            click.echo(res.graph.serialize(format=out_fmt), nl=False)
        elif res.type == "ASK":
            answer = bool(res.askAnswer)
            click.echo(json.dumps({"boolean": answer}) if fmt == "json" else str(answer).lower())
        elif fmt in ("json", "csv", "xml"):
            click.echo(res.serialize(format=fmt).decode("utf-8"), nl=False)
        else:
            names = [str(v) for v in res.vars]
            rows = [["" if row[i] is None else str(row[i]) for i in range(len(names))] for row in res]
            widths = [max([len(n)] + [len(r[i]) for r in rows]) for i, n in enumerate(names)]
            for line in [names] + rows:
                click.echo("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip())


@graph_group.command("dump")
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), default="turtle", show_default=True,
              help="RDF serialisation.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write here instead of stdout.")
@click.pass_context
def dump_command(ctx, fmt, output):
    """Print the whole graph (turtle, json-ld, nt, xml ...)."""
    with _open(ctx) as kg:
        data = kg.dump(FORMATS[fmt])
    if output:
        with open(output, "wb") as f:
            f.write(data)
    else:
        sys.stdout.buffer.write(data)


@graph_group.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), default=None,
              help="RDF serialisation [default: from the file name].")
@click.pass_context
def load_command(ctx, file, fmt):
    """Add the triples of FILE to the graph."""
    ext = os.path.splitext(file)[1].lstrip(".").lower()
    rdf_format = FORMATS[fmt] if fmt else FORMATS.get("json-ld" if ext == "json" else ext)
    if not rdf_format:
        raise GraphError(f"{file}: cannot tell its format from the name; give --format")
    with open(file, "rb") as f:
        data = f.read()
    with _open(ctx) as kg:
        try:
            n = kg.load(data, rdf_format)
        except (StoreError, TermError) as exc:
            raise GraphError(f"{file}: {exc}") from None
    click.echo(f"loaded {n} triples from {file}", err=True)


@graph_group.command("sync")
@click.option("--root", default=".", show_default=True, help="Folder holding minds/ and worlds/.")
@click.option("--runs", default=None, help="A gateway's runs folder (its scores.sqlite) [default: ROOT/runs].")
@click.option("--rebuild", is_flag=True, help="Forget every run in the graph and write all again from the scoreboard.")
@click.option("--catalog", is_flag=True, help="Write the song catalog too.")
@click.option("--base", default=None,
              help="IRI base for our things, e.g. the gateway's public URL [default: urn:wwm:].")
@click.pass_context
def sync_command(ctx, root, runs, rebuild, catalog, base):
    """Bring servers (manifests), runs (scoreboard) and optionally the song catalog into the graph."""
    from wwm.knowledge import writers
    from wwm.knowledge.terms import DEFAULT_BASE

    base = base or DEFAULT_BASE
    root = os.path.abspath(root)
    board = os.path.join(os.path.abspath(runs or os.path.join(root, "runs")), "scores.sqlite")
    with _open(ctx) as kg:
        try:
            servers = writers.record_servers(kg, root, base)
            n = (writers.rebuild_from_scoreboard if rebuild else writers.sync_scoreboard)(kg, board, base=base)
            songs = writers.record_catalog(kg, base=base) if catalog else 0
        except (StoreError, TermError) as exc:
            raise GraphError(str(exc)) from None
    click.echo(f"{len(servers)} servers, {n} runs{f', {songs} songs' if catalog else ''}", err=True)
