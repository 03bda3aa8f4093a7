"""`nca export web` and `nca play`: the browser playground as a static site, and a local server for it."""

from __future__ import annotations

import functools
import http.server
import tempfile
from collections.abc import Callable
from pathlib import Path

import click

from ncaforge.cli.common import fail

# What `nca play` shows when given no model: the zoo's lizard and MNIST classifier, with all they take.
PLAY_MODELS = ("lizard", "mnist")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the site without a log line per request."""

    def log_message(self, format: str, *args: object) -> None:
        pass


def _names(values: tuple[str, ...]) -> list[str]:
    """Repeated and comma-separated values as one list: --perturbations a,b --perturbations c."""
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _export(models: list[str], perturbations: list[str] | None, adversaries: list[str] | None,
            size: tuple[int, int] | None, out: Path) -> Path:
    """Write the site and say what went into it (None for both extras: the zoo's made for the models)."""
    from ncaforge.web.export import build_site, write_site

    try:
        site = build_site(models, perturbations, adversaries, size)
    except ValueError as e:  # CheckpointError and FamilyError among them
        fail(str(e))
    write_site(out, site)
    counts = [f"{m['name']} (+{len(m['perturbations'])} perturbations, +{len(m['adversaries'])} adversaries)"
              for m in site["models"]]
    click.echo(f"wrote {out}/index.html: {', '.join(counts)}")
    return out


def site_options(f: Callable) -> Callable:
    """The options `nca export web` and `nca play` share."""
    for option in reversed([
        click.option("--perturbations", multiple=True, metavar="NAME|DIR[,...]",
                     help="Perturbations to put on sliders (repeatable or comma-separated); each goes "
                          "with the model it was trained on."),
        click.option("--adversary", "adversaries", multiple=True, metavar="NAME|DIR[,...]",
                     help="Adversary rules for the adversary brush (repeatable or comma-separated)."),
        click.option("--size", nargs=2, type=click.IntRange(1, 1024), default=None, metavar="H W",
                     help="Grid of growing-like models [96 96]; models with a read-only input "
                          "(classifiers) keep their task's grid."),
    ]):
        f = option(f)
    return f


@click.group("export")
def export() -> None:
    """Export models for use outside ncaforge."""


@export.command("web")
@click.option("--model", "models", multiple=True, required=True, metavar="NAME|DIR",
              help="A zoo name or checkpoint directory (repeatable: the page gets a model picker).")
@site_options
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write the site into (replaced whole).")
def export_web(models: tuple[str, ...], perturbations: tuple[str, ...], adversaries: tuple[str, ...],
               size: tuple[int, int] | None, out: Path) -> None:
    """Write a self-contained static site that runs the models in the browser.

    Open OUT/index.html, or serve OUT with any static file server; it needs no network.

    \b
    Example:
      nca export web --model lizard --model mnist --perturbations perturb-red,perturb-tailless \\
        --adversary adversary-red,adversary-eight --out site
    """
    _export(_names(models), _names(perturbations), _names(adversaries), size, out)


@click.command()
@click.option("--model", "models", multiple=True, metavar="NAME|DIR",
              help="Models to play with (repeatable) [lizard and mnist]. Without --perturbations and "
                   "--adversary, the zoo's ones made for these models come along.")
@site_options
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port on localhost (0: any free one).")
def play(models: tuple[str, ...], perturbations: tuple[str, ...], adversaries: tuple[str, ...],
         size: tuple[int, int] | None, port: int) -> None:
    """Open the browser playground: export to a temporary folder and serve it on localhost.

    Erase cells and watch them regrow, place adversarial cells, drag perturbation sliders,
    draw digits for a classifier. Stop with Ctrl+C.
    """
    given = perturbations or adversaries
    extras = (_names(perturbations), _names(adversaries)) if given else (None, None)  # None: the zoo's
    with tempfile.TemporaryDirectory(prefix="nca-play-") as tmp:
        site = _export(_names(models) or list(PLAY_MODELS), *extras, size, Path(tmp) / "site")
        handler = functools.partial(_QuietHandler, directory=str(site))
        try:
            server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        except OSError as e:
            fail(f"cannot serve on port {port}: {e.strerror}; pick another with --port")
        with server:
            click.echo(f"playground at http://127.0.0.1:{server.server_address[1]}/ (Ctrl+C stops)")
            try:
                server.serve_forever()
            except KeyboardInterrupt:
                click.echo("stopped")
