"""The ``wwm`` command: run, describe, serve, new, cgi-file, demo, and the areas' commands."""
from __future__ import annotations

import importlib
import json
import os
import sys

import click

from wwm.protocol.errors import WWMError


class WWMUsageError(click.ClickException):
    """A wwm error shown to the user as one clean line (exit code 1)."""


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="wwm")
def cli():
    """wwm: put AI Minds and Worlds on the web, and run any Mind in any World."""


@cli.command("run")
@click.argument("world")
@click.argument("minds", nargs=-1)
@click.option("--steps", default=100, show_default=True, type=click.IntRange(min=1),
              help="Most steps to run (the World may stop sooner).")
@click.option("--seed", type=int, default=None, help="Seed passed to StartRun of the World and the Minds.")
@click.option("--transcript", type=click.File("w"), default=None, help="Write one JSON line per step here.")
@click.option("--quiet", is_flag=True, help="No progress line, only the final JSON.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A run parameter the World declares (see `wwm describe WORLD`); repeatable.")
@click.option("--society", "society", type=click.Path(exists=True), default=None,
              help="A society file (SOML XML) or society folder, played as one more Mind.")
def run_command(world, minds, steps, seed, transcript, quiet, society, params):
    """Run MINDS in WORLD; each is a URL (http://host/wwm/NAME) or a server folder.

    Prints progress, then one JSON line: world, mind, steps, score, seconds.
    The run is recorded in the scoreboard ($WWM_SCORES; see `wwm scores`).
    """
    from wwm.client.api import run_episode, terminal_progress
    from wwm.scoreboard import ClientRecorder

    minds, labels = list(minds), list(minds)
    if society:
        from wwm.society import SocietyFileError, society_folder

        try:
            minds.append(society_folder(society))
        except SocietyFileError as exc:
            raise WWMUsageError(f"{society}: {exc}") from None
        labels.append(os.path.abspath(society))
    if not minds:
        raise click.UsageError("give at least one Mind after the World (or --society FILE)")
    if any("=" not in p for p in params):
        raise click.UsageError("--param takes NAME=VALUE")
    chosen = dict(p.split("=", 1) for p in params)
    rec = None
    try:
        with ClientRecorder(world, labels) as rec:
            result = run_episode(world, minds, steps=steps, seed=seed, transcript=transcript, params=chosen,
                                 progress=rec.progress(None if quiet else terminal_progress()))
            rec.finish(result)
    except (WWMError, ValueError) as exc:
        # scripts read the last line: a JSON line on failure too, then the one-line error
        click.echo(json.dumps({"world": world, "minds": labels, "error": str(exc),
                               "outcome": rec.rec["outcome"] if rec else "crashed"}))
        raise WWMUsageError(str(exc)) from None
    click.echo(json.dumps(result))


@cli.command("describe")
@click.argument("target")
def describe_command(target):
    """Describe the server at TARGET (a URL or a server folder), as JSON."""
    from wwm.client.api import describe

    try:
        click.echo(json.dumps(describe(target), indent=2))
    except (WWMError, ValueError) as exc:
        raise WWMUsageError(str(exc)) from None


@cli.command("serve")
@click.option("--root", default=".", show_default=True, help="Folder holding minds/ and worlds/.")
@click.option("--runs", default=None, help="Folder for run directories [default: ROOT/runs].")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8000, show_default=True, help="Port to bind.")
@click.option("--threads", default=32, show_default=True,
              help="Requests served at once (a request waiting on a slow Program 1 holds one).")
def serve_command(root, runs, host, port, threads):
    """Serve every Mind and World under ROOT at /wwm/NAME.

    Runs the Flask gateway under waitress (HTTP/1.1 keep-alive, threads).
    For several processes use gunicorn instead: WWM_ROOT=… WWM_RUNS=…
    gunicorn -w 4 -k gthread 'wwm.gateway.wsgi:create_app()'.
    """
    from wwm.gateway.wsgi import create_app, serve

    root = os.path.abspath(root)
    if not any(os.path.isdir(os.path.join(root, sub)) for sub in ("minds", "worlds")):
        raise WWMUsageError(f"{root} has no minds/ or worlds/ folder: nothing to serve (see --root)")
    app = create_app({"ROOT": root, "RUNS": os.path.abspath(runs or os.path.join(root, "runs"))})
    click.echo(f"wwm gateway on http://{host}:{port}/wwm/ serving {root}", err=True)
    try:
        serve(app, host, port, threads=threads)
    except OSError as exc:
        raise WWMUsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


@cli.command("new")
@click.argument("kind", type=click.Choice(["mind", "world"]))
@click.argument("name")
@click.option("--lang", type=click.Choice(["python", "sh", "c", "perl", "js"]), default="python",
              show_default=True, help="Language of the template.")
@click.option("--root", default=".", show_default=True, help="Create ROOT/minds/NAME or ROOT/worlds/NAME.")
@click.option("--gymnasium", "env_id", metavar="ENV_ID",
              help="A World that serves this Gymnasium environment (e.g. CartPole-v1) instead of a template.")
def new_command(kind, name, lang, root, env_id):
    """Create a new Mind or World from the hello template in LANG, or a World serving a Gymnasium environment."""
    from wwm.scaffold import scaffold, scaffold_gymnasium

    if env_id and kind != "world":
        raise WWMUsageError("--gymnasium makes a World: wwm new world NAME --gymnasium ENV_ID")
    try:
        path = scaffold_gymnasium(name, env_id, root) if env_id else scaffold(kind, name, lang, root)
    except (ValueError, FileExistsError) as exc:
        raise WWMUsageError(str(exc)) from None
    click.echo(f"created {path}\ntry it: wwm run {'worlds/hello-python ' if kind == 'mind' else ''}{path}"
               f"{' minds/hello-python' if kind == 'world' else ''} --steps 20")


@cli.command("cgi-file")
@click.argument("dest", required=False)
def cgi_file_command(dest):
    """Write the one-file CGI gateway to DEST (a file or a cgi-bin folder), or print it."""
    from wwm.gateway import amalgamate

    if not dest:
        click.echo(amalgamate.build(), nl=False)
        return
    if os.path.isdir(dest):
        dest = os.path.join(dest, "wwm.py")
    if not os.path.isdir(os.path.dirname(os.path.abspath(dest))):
        raise WWMUsageError(f"no folder {os.path.dirname(os.path.abspath(dest))!r} to write {os.path.basename(dest)} in")
    amalgamate.write(dest)
    click.echo(f"wrote {dest}", err=True)


# Commands of other areas, registered when their modules are present.
LAZY_COMMANDS = {
    "demo": ("wwm.demo", "demo_command"),
    "data": ("wwm.data", "data_group"),
    "node": ("wwm.federation.cli", "node_command"),
    "scores": ("wwm.scoreboard", "scores_command"),
    "spore": ("wwm.spore.cli", "spore_group"),
    "graph": ("wwm.knowledge.cli", "graph_group"),
}


def _missing(name: str, exc: ImportError) -> click.Command:
    """A stand-in command saying which optional package the real one needs."""

    @click.command(name, context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
                   help=f"(unavailable: {exc})")
    def command():
        raise WWMUsageError(f"'wwm {name}' needs a package that is not installed: {exc}. "
                            "Try: pip install -e '.[fungus]'")

    return command


for _name, (_module, _attr) in LAZY_COMMANDS.items():
    try:
        cli.add_command(getattr(importlib.import_module(_module), _attr), _name)
    except ModuleNotFoundError as _exc:
        if _exc.name and _module.startswith(_exc.name):
            continue  # the area's module is not there at all
        cli.add_command(_missing(_name, _exc), _name)


def main() -> None:
    cli(prog_name="wwm")


if __name__ == "__main__":
    sys.exit(main())
