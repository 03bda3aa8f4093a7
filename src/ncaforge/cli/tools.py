"""Import published models, browse the zoo, benchmark, and the demo."""

from __future__ import annotations

from pathlib import Path

import click
import torch

from ncaforge.cli.common import command_line, fail, load_model


@click.group("import")
def import_() -> None:
    """Convert models published by others into ncaforge checkpoints."""


def _import(reader_name: str, file: Path, out: Path) -> None:
    """Read ``file`` with ``ncaforge.io.distill.<reader_name>`` and save it as a checkpoint."""
    from ncaforge.io import checkpoint as ckpt
    from ncaforge.io import distill

    model, fmt = getattr(distill, reader_name)(file)  # an ImportFormatError is printed as one line
    ckpt.save(out, model, {"imported_from": str(file), "format": fmt,
                           "command": command_line()})
    channels = model.layout.channels if hasattr(model, "layout") else model.channels
    click.echo(f"imported {file} ({fmt}, {channels} channels) -> {out}")


@import_.command("distill-growing")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
def import_distill_growing(file: Path, out: Path) -> None:
    """A Growing-CA model from the Distill article (TF.js graph JSON or quantised WebGL JSON)."""
    _import("import_growing", file, out)


@import_.command("distill-mnist")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
def import_distill_mnist(file: Path, out: Path) -> None:
    """A self-classifying MNIST model from the Distill article (6 base64 arrays or TF.js JSON)."""
    _import("import_mnist", file, out)


@import_.command("distill-perturbation")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
def import_distill_perturbation(file: Path, out: Path) -> None:
    """A global state perturbation (a .npy symmetric C x C float32 matrix, x' = x A)."""
    _import("import_perturbation", file, out)


@import_.command("distill-texture")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="The checkpoint directory (with --all: a folder of one checkpoint per model).")
@click.option("--name", default=None, help="Which model of the file [the first].")
@click.option("--all", "every", is_flag=True, help="Import every model of the file, each into OUT/NAME.")
def import_distill_texture(file: Path, out: Path, name: str | None, every: bool) -> None:
    """Texture NCAs from the "Self-Organising Textures" export (JSON of PNG-packed 8-bit layers)."""
    from ncaforge.io import checkpoint as ckpt
    from ncaforge.io import distill_texture

    if every and name:
        fail("--name and --all exclude each other: import one model or all of them")
    names = distill_texture.model_names(file)
    if not names:
        fail(f"{file} holds no models (its model_names is empty)")
    for model_name in names if every else [name or names[0]]:
        model, fmt = distill_texture.import_texture(file, model_name)
        dest = out / model_name if every else out
        ckpt.save(dest, model, {"imported_from": str(file), "format": fmt, "model_name": model_name,
                                "command": command_line()}, task=distill_texture.TASK)
        click.echo(f"imported {model_name} ({fmt}, {model.layout.channels} channels) -> {dest}")


@click.group()
def zoo() -> None:
    """The bundled pretrained models."""


ZOO_WIDTH = 100  # columns of `nca zoo list` where the terminal's width is unknown


@zoo.command("list")
def zoo_list() -> None:
    """Show the bundled models, one line each (`nca zoo show NAME` for the figures)."""
    import shutil

    from ncaforge import zoo as zoo_mod
    from ncaforge.render.text import table

    entries = zoo_mod.index()
    if not entries:
        click.echo("the zoo is empty")
        return
    width = shutil.get_terminal_size((ZOO_WIDTH, 24)).columns
    click.echo(table([(e["name"], e["family"], e["description"]) for e in entries],
                     header=("name", "family", "description"), max_width=width))
    click.echo("`nca zoo show NAME`: its figures and how it was made")


@zoo.command("show")
@click.argument("name")
def zoo_show(name: str) -> None:
    """Show one bundled model: description, family, sha256, every metric and how it was made (numbers in a
    format that fits their magnitude)."""
    import textwrap

    from ncaforge import zoo as zoo_mod
    from ncaforge.io import checkpoint as ckpt
    from ncaforge.render.text import table

    entry = next((e for e in zoo_mod.index() if e["name"] == name), None)
    if entry is None:
        raise click.ClickException(f"no zoo model {name!r}; the zoo has: {', '.join(zoo_mod.names())}")
    path = zoo_mod.resolve(name)
    provenance = ckpt.read_config(path).get("provenance", {})
    click.echo(f"{entry['name']} ({entry['family']}): {entry['description']}")
    click.echo(table([("family", entry["family"]), ("sha256", entry["sha256"]),
                      ("provenance", str(path / "PROVENANCE.md"))]))
    metrics = list(entry.get("metrics", {}).items())
    made = zoo_mod.how_made(provenance)
    for title, rows in (("metrics", metrics), ("how it was made", made)):
        click.echo(f"\n{title}\n" + textwrap.indent(table(rows) if rows else "(not recorded)", "  "))


@zoo.command("add")
@click.argument("checkpoint", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--name", required=True)
@click.option("--description", required=True)
@click.option("--metrics", "metrics_json", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              required=True, help="JSON of figures from `nca eval ... --json`.")
@click.option("--notes", default="", help="Free text for PROVENANCE.md.")
def zoo_add(checkpoint: Path, name: str, description: str, metrics_json: Path, notes: str) -> None:
    """(Maintainers) copy a trained checkpoint into the zoo of a source checkout."""
    import json

    from ncaforge import zoo as zoo_mod

    figures = json.loads(metrics_json.read_text())
    metrics = {k: v for k, v in figures.items() if isinstance(v, float)}
    click.echo(f"added {zoo_mod.add(checkpoint, name, description, metrics, notes)}")


@click.command()
@click.option("--workload", type=click.Choice(["growing", "classifier"]), default="growing",
              show_default=True, help="The growing lizard, or the self-classifying MNIST model.")
@click.option("--size", nargs=2, type=click.IntRange(1, 4096), default=None,
              help="Grid H W [72 72; classifier 28 28].")
@click.option("--batch", type=click.IntRange(1), default=None, help="Batch size [8; classifier 16].")
@click.option("--steps", type=click.IntRange(1, 10**5), default=64, show_default=True,
              help="Steps per forward rollout.")
@click.option("--repeats", type=click.IntRange(1), default=3, show_default=True)
@click.option("--compile", "compile_step", is_flag=True, help="Also time torch.compile of the step.")
@click.option("--memory", is_flag=True, help="Also measure training memory at 96 vs 384 steps.")
@click.option("--grad-checkpoint", type=click.IntRange(0), default=8, show_default=True,
              help="Block size for the --memory figures (0: no checkpointing).")
@click.option("--device", default="cuda" if torch.cuda.is_available() else "cpu", show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
def bench(workload: str, size: tuple[int, int] | None, batch: int | None, steps: int, repeats: int,
          compile_step: bool, memory: bool, grad_checkpoint: int, device: str,
          json_path: Path | None) -> None:
    """Step throughput: the reference and every fast path, side by side."""
    from dataclasses import asdict

    from ncaforge.analysis import bench as b
    from ncaforge.core.atomic import write_json

    if workload == "growing":
        w = b.growing_workload(tuple(size or (72, 72)), batch or 8)
    else:
        w = b.classifier_workload(tuple(size or (28, 28)), batch or 16)
    w.model.to(device)
    w.state = w.state.to(device)
    rows = b.measure(w, steps, repeats=repeats, compile_step=compile_step)
    chosen = b.default_row(rows, w.model, w.state.device)
    click.echo(b.table(rows,
                       f"{w.name}, forward {steps} steps, training {w.train_steps} steps, "
                       f"{torch.get_num_threads()} threads, {device}; default path: {chosen.path}"))
    figures = {
        "forward_cells_per_s": chosen.forward_cells_per_s,
        "reference_forward_cells_per_s": rows[0].forward_cells_per_s,
        "train_iters_per_s": chosen.train_iters_per_s,
        "reference_train_iters_per_s": rows[0].train_iters_per_s,
        "default_path": chosen.path, "workload": w.name, "size": list(w.state.shape[2:]),
        "batch": w.state.shape[0], "steps": steps, "train_steps": w.train_steps,
        "rows": [asdict(r) for r in rows]}
    if memory:
        size_hw = tuple(w.state.shape[2:])
        short, long = (b.training_memory(size_hw, w.state.shape[0], n, grad_checkpoint) for n in (96, 384))
        click.echo(f"training memory, growing NCA, blocks of {grad_checkpoint}: "
                   f"96 steps {short / 2**20:.0f} MiB, "
                   f"384 steps {long / 2**20:.0f} MiB ({long / short:.2f}x)")
        figures["memory"] = {"grad_checkpoint": grad_checkpoint, "steps_96_bytes": short,
                             "steps_384_bytes": long, "ratio": long / short}
    if json_path:
        write_json(json_path, figures)
        click.echo(f"wrote {json_path}")


@click.command()
@click.option("--model", "model_spec", default="lizard", show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out/demo"),
              show_default=True)
@click.option("--seed", default=0, show_default=True)
def demo(model_spec: str, out: Path, seed: int) -> None:
    """Grow, cut and regrow the lizard: a report.

    Writes out/demo/index.html with the animation, the error curve and the
    evaluation figures; with the zoo's MNIST classifier, also digits classifying
    themselves and a mutation; with its adversary (adversary-eight), the hijack; with
    the zoo's perturb-tailless and perturb-red, the lizard reprogrammed; with its
    gray-scott NCA, learned reaction-diffusion beside the PDE; and the browser
    playground of these models (out/demo/playground).
    """
    from ncaforge import zoo
    from ncaforge.data.mnist import MnistError, load_mnist
    from ncaforge.web.demo import run_demo

    model = load_model(model_spec, "growing")
    mnist, adversary = None, None
    if "mnist" in zoo.names():  # the self-classifying digits, when the zoo has a classifier
        try:
            images, labels = (torch.from_numpy(a) for a in load_mnist().split("test"))
            mnist = (load_model("mnist", "classifier"), images, labels)
        except MnistError as e:
            click.echo(f"(no MNIST section: {e})")
        if mnist is not None and "adversary-eight" in zoo.names():
            adversary = load_model("adversary-eight", "classifier")
    perturbations = {}  # the zoo's perturbations of the lizard: a change of shape, then of colour
    if model_spec == "lizard":
        from ncaforge.families.growing.attack import variant_target

        perturbations = {v: (load_model(f"perturb-{v}", "perturbation"), variant_target(model, v))
                         for v in ("tailless", "red") if f"perturb-{v}" in zoo.names()}
    from ncaforge.families.growing.attack import original_target
    from ncaforge.web.export import export_playground

    pde_model = load_model("gray-scott", "pde") if "gray-scott" in zoo.names() else None

    site = export_playground([model_spec] + (["mnist"] if mnist is not None else []), out / "playground")
    click.echo(f"wrote {site}/index.html")
    try:
        target = original_target(model)
    except ValueError as e:
        fail(str(e))
    index = run_demo(model, target, out, seed, model_spec, mnist, adversary,
                     perturbations, playground="playground/index.html", pde_model=pde_model,
                     robustness=zoo.robustness())
    click.echo(f"wrote {index}")
