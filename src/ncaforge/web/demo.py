"""The main demo: grow the lizard, cut it twice, watch it regrow, and measure all of it."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import torch

from ncaforge.analysis.simulate import Damage, simulate
from ncaforge.core.atomic import write_json
from ncaforge.core.nca import NCA
from ncaforge.families.growing.evaluate import evaluate
from ncaforge.interventions.perturbation import Perturbation
from ncaforge.render.frames import batch_image, field_image, legend, tile
from ncaforge.render.plots import plot_curves
from ncaforge.render.report import Section, write_report
from ncaforge.render.text import number
from ncaforge.render.video import write_animation

CUTS = (Damage(200, (0.25, 0.3), 10.0), Damage(400, (-0.2, -0.2), 10.0))
STEPS = 600


def mnist_section(nca: NCA, images: torch.Tensor, labels: torch.Tensor, out: Path, seed: int = 0,
                  digits: int = 8, limit: int = 500) -> Section:
    """Test digits classifying themselves, a mutation, and the metrics on ``limit`` test digits."""
    from ncaforge.core.view import CLASS_COLOURS
    from ncaforge.families.classifier.evaluate import classify
    from ncaforge.families.classifier.model import digit_state
    from ncaforge.families.classifier.picture import classification_frames
    from ncaforge.render.plots import plot_agreement

    g = torch.Generator().manual_seed(seed)
    picks = torch.randperm(len(images), generator=g)[: 2 * digits]
    first, second = (images[p].float() / 255 for p in (picks[:digits], picks[digits:]))
    frames, after = classification_frames(nca, digit_state(nca, first), second, 200, 2, g)
    media = [*write_animation(frames, out / "mnist_classify", fps=30),
             *write_animation(after, out / "mnist_reclassify", fps=30)]
    classes = range(nca.config.classes)
    iio.imwrite(out / "mnist_legend.png",
                legend([CLASS_COLOURS[c % len(CLASS_COLOURS)] for c in classes], classes))
    curves = classify(nca, images[:limit], labels[:limit], seed=seed)
    plot_agreement(curves.correct / curves.cells.clip(min=1), curves.agreement().mean(1),
                   out / "mnist_agreement.png", mutation_step=200)
    figures = curves.metrics()
    write_json(out / "mnist_eval.json", figures)
    rows = [("figure", "value")] + [(k, number(v)) for k, v in figures.items()]
    return Section("Self-classifying MNIST digits",
                   f"Each cell of a test digit sees only its neighbours, yet they agree on the digit: "
                   f"colours are the classes the cells vote for (see the legend). After "
                   f"200 steps each digit is swapped for another under the same cells. Metrics on the "
                   f"first {len(curves.labels)} test digits, seed {seed}.",
                   [(media[0].name, "classification, 200 steps"),
                    (media[len(media) // 2].name, "after the mutation, 200 steps"),
                    ("mnist_legend.png", "the colour of each class"),
                    ("mnist_agreement.png", "cell accuracy and total agreement over time")], rows)


def mnist_attack_section(host: NCA, images: torch.Tensor, labels: torch.Tensor, adversary: NCA, out: Path,
                         seed: int = 0, fraction: float = 0.1, digits: int = 8, limit: int = 200) -> Section:
    """Adversarial cells (red) make test digits say their class for 100 steps; then they are removed."""
    from ncaforge.families.classifier.attack_measures import classifier_injection
    from ncaforge.families.classifier.model import digit_state
    from ncaforge.families.classifier.picture import attack_frames
    from ncaforge.interventions.injection import adversary_mask
    from ncaforge.interventions.intervened import Intervened
    from ncaforge.render.plots import plot_phases

    target = str(getattr(adversary.task, "target", None) or adversary.provenance.get("target", "class:8"))
    label = int(target[6:]) if target.startswith("class:") and target[6:].isdigit() else 8
    g = torch.Generator().manual_seed(seed)
    picks = torch.randperm(len(images), generator=g)[:digits]
    x = digit_state(host, images[picks].float() / 255)
    mask = adversary_mask(len(x), x.shape[2], x.shape[3], fraction, None, g)
    frames = attack_frames(host, Intervened(host, adversary=adversary), x, mask, 100, 200, 2, g)
    media = write_animation(frames, out / "mnist_hijack", fps=30)
    figures, curves = classifier_injection(host, adversary, images[:limit], labels[:limit], fraction, label,
                                           seed)
    plot_phases(curves["step"], {k: v for k, v in curves.items() if k != "step"}, [100],
                out / "mnist_hijack.png", ylabel="fraction of digits (cells)", log=False)
    write_json(out / "mnist_hijack.json", figures)
    rows = [("figure", "value")] + [(k, number(v)) for k, v in figures.items()]
    return Section(f"Adversarial cells make the digits say {label}",
                   f"{fraction:.0%} of the cells (red) follow an adversary's rule, trained while the "
                   f"classifier stayed frozen; after 100 steps they are removed and the digits recover. "
                   f"Figures on the first {min(limit, len(images))} test digits, seed {seed}.",
                   [(media[0].name, "100 steps with adversaries, 200 without"),
                    ("mnist_hijack.png", "digits (cells) saying the target, and right, over time")], rows)


Perturbations = dict[str, tuple[Perturbation, torch.Tensor]]  # name -> (perturbation, its variant target)


def perturbation_section(host: NCA, original: torch.Tensor, perturbations: Perturbations, out: Path,
                         seed: int = 0, phase_steps: int = 300) -> Section:
    """The first of ``perturbations`` (name -> (perturbation, its variant target)) on from seeds, then
    lifted; its scaled versions A_k; and the sum of the first two, all from the same seeds."""
    from ncaforge.analysis.simulate import Attack
    from ncaforge.families.growing.attack_measures import perturbation_schedule
    from ncaforge.interventions.intervened import Intervened
    from ncaforge.render.plots import plot_phases

    (name, (p, variant)), *others = perturbations.items()
    _, h, w = original.shape
    figures, run, plain = perturbation_schedule(host, p, variant, original, 4, seed, phase_steps)
    curves = {k: v.mean(1) for k, v in run.curves.items()}
    curves.update({f"host {k}": v.mean(1) for k, v in plain.curves.items()})
    plot_phases(run.steps, curves, run.boundaries, out / "perturb_phases.png")
    rec = simulate(host, host.seed(4, h, w), 2 * phase_steps, frame_every=2,
                   generator=torch.Generator().manual_seed(seed),
                   attack=Attack(Intervened(host, perturbation=p), stop=phase_steps), progress=True)
    videos = write_animation([batch_image(f, 3) for f in rec.frames], out / "perturb_on_off", fps=30)

    def grown_under(q: Perturbation) -> torch.Tensor:
        with torch.no_grad():
            return Intervened(host, perturbation=q).rollout(host.seed(1, h, w), phase_steps,
                                                            torch.Generator().manual_seed(seed))

    scales = (1.0, 0.5, 0.0, -0.5, -1.0)
    iio.imwrite(out / "perturb_scaled.png",
                batch_image(torch.cat([grown_under(p * k)[:, :4] for k in scales]), 3,
                            labels=[f"k = {k:g}" for k in scales]))
    media = [(videos[0].name, f"{name}: on for {phase_steps} steps, then lifted"),
             ("perturb_phases.png", "RGBA MSE to the variant and the original: on, off, on again"),
             ("perturb_scaled.png",
              f"A_k = I + k D after {phase_steps} steps, k = " + ", ".join(f"{k:g}" for k in scales))]
    if others:
        other, (q, _) = others[0]
        iio.imwrite(out / "perturb_sum.png",
                    batch_image(torch.cat([grown_under(x)[:, :4] for x in (p, q, p + q)]), 3,
                                labels=[name, other, f"{name} + {other}"]))
        media.append(("perturb_sum.png", f"{name}, {other}, and both: I + D_{name} + D_{other}"))
    write_json(out / "perturb_eval.json", figures)
    rows = [("figure", "value")] + [(k, number(v)) for k, v in figures.items()]
    return Section(f"A global perturbation: {name}",
                   "One symmetric 16x16 matrix, trained while the lizard's rule stayed frozen, is applied "
                   "to every living cell before every step. The lizard turns into the variant while it "
                   "acts and recovers when it is lifted; scaling the perturbation's direction D weakens "
                   "it or turns it into its opposite, and adding two combines their effects. Means over "
                   f"4 runs, seed {seed}.", media, rows)


def pde_section(nca: NCA, out: Path, scale: int = 3) -> Section:
    """A Gray-Scott NCA beside its PDE from an unseen initial condition, to 2x its horizon, then on a grid
    twice as wide (1x horizon)."""
    from ncaforge.families.pde.evaluate import LARGE_SEED_OFFSET, coverage, run_observed, unseen_trajectories

    prov, task = nca.provenance, nca.task
    every, horizon, (h, w) = int(task.every), int(task.horizon), task.grid
    rows = [("grid", "steps", "MSE to the PDE", "initial frame carried forward", "B covered: PDE / NCA")]
    media = []
    for (hh, ww), steps, offset in (((h, w), 2 * horizon, 0), ((2 * h, 2 * w), horizon, LARGE_SEED_OFFSET)):
        truth = unseen_trajectories(nca, 1, (hh, ww), steps, offset)[0]
        run = run_observed(nca, truth[:1], steps, every)[:, 0]
        frames = [tile([field_image(t[1], scale), field_image(r[1], scale)],
                       labels=[f"PDE, step {i * every}", f"NCA, step {i * every}"])
                  for i, (t, r) in enumerate(zip(truth, run, strict=True))]
        video = write_animation(frames, out / f"pde_{hh}x{ww}", fps=10)[0]
        media.append((video.name, f"{hh}x{ww}, {steps} steps: the PDE (left) and the NCA (right), species B"))
        rows.append((f"{hh}x{ww}", str(steps), number(float((run[-1] - truth[-1]).pow(2).mean())),
                     number(float((truth[0] - truth[-1]).pow(2).mean())),
                     f"{number(coverage(truth[-1:]), 3)} / {number(coverage(run[-1:]), 3)}"))
    return Section("Learning a PDE: Gray-Scott reaction-diffusion",
                   f"An NCA of {sum(p.numel() for p in nca.parameters())} parameters (identity + laplacian "
                   f"perception, so it has the grid's symmetries) was fitted to Gray-Scott trajectories "
                   f"of {horizon} steps on {h}x{w} (`{prov.get('command', '')}`). Here it runs from an "
                   "initial condition it never saw, for twice as long, then on a grid twice as wide.",
                   media, rows)


def robustness_section(results: dict) -> Section:
    """The robustness leaderboard: per zoo model, the share of runs back within 2x of the unattacked
    model 300 steps after each attack of the suite."""
    from ncaforge.analysis.robustness import ATTACKS, left_out

    rows = [("model", "error measure", *ATTACKS, "mean")]
    for name, r in results["models"].items():
        rows.append((name, r["error"], *(f"{r['attacks'][a]['recovered_fraction']:.2f}" for a in ATTACKS),
                     f"{r['recovered_fraction_mean']:.2f}"))
    options = results.get("options", {})
    return Section("Robustness leaderboard",
                   f"`nca robustness --zoo`: seven attacks on each zoo model from its ready states "
                   f"({options.get('samples', '?')} samples, seed {options.get('seed', '?')}); each cell is "
                   "the share of samples back within 2x of the unattacked model's error "
                   f"{options.get('recovery_steps', '?')} steps after the attack. "
                   + " ".join(left_out(results.get("unscored", {}))),
                   table=rows)


def run_demo(nca: NCA, target: torch.Tensor, out: str | Path, seed: int = 0,
             name: str = "lizard", mnist: tuple[NCA, torch.Tensor, torch.Tensor] | None = None,
             mnist_adversary: NCA | None = None,
             perturbations: Perturbations | None = None, playground: str | None = None,
             pde_model: NCA | None = None, robustness: dict | None = None) -> Path:
    """Write the demo's animations, plot, figures and index.html into ``out``.

    With ``mnist`` = (classifier, test images, labels) the report gets an MNIST section,
    and with ``mnist_adversary`` too, a section on adversarial cells hijacking it; with
    ``perturbations`` (name -> (perturbation of ``nca``, variant target)), one on them;
    with ``pde_model`` (a Gray-Scott NCA), one on learned dynamics; with ``robustness`` (the output of
    `nca robustness --zoo --json`), the leaderboard; ``playground`` is the address of an exported
    playground site beside the report, linked at the end.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _, h, w = target.shape
    g = torch.Generator().manual_seed(seed)
    rec = simulate(nca, nca.seed(4, h, w), STEPS, list(CUTS), frame_every=2,
                   extra_frames=[d.step + 1 for d in CUTS], target=target, generator=g,
                   progress=True)
    frames = [batch_image(f, 3) for f in rec.frames]
    videos = write_animation(frames, out / "grow_damage_regrow", fps=30)
    picks = [0, 50, 100, 200, 201, 300, 400, 401, 600]
    after_cut = {d.step + 1 for d in CUTS}
    strip = tile([batch_image(rec.frames[rec.frame_steps.index(t)][:1], 3) for t in picks],
                 labels=[f"step {t}" + (" (cut)" if t in after_cut else "") for t in picks])
    iio.imwrite(out / "strip.png", strip)
    plot_curves({"mean of 4 runs": (list(range(len(rec.mse))), rec.mse)}, out / "mse.png",
                "step", "RGBA MSE to target", "Growth, two cuts (steps 200, 400), regrowth")
    figures = evaluate(nca, target, samples=8, seed=seed,
                       target_size=nca.provenance.get("target_size", 40), progress=True)
    write_json(out / "eval.json", {k: v for k, v in figures.items() if k != "curve"})
    rows = [("figure", "value", "what it measures")]
    meanings = {"mse_100": "RGBA MSE to the target 100 steps from a seed",
                "mse_200": "the same at step 200",
                "persistence_max_mse": "largest MSE over steps 200..2000: does the pattern stay?",
                "regen_mse": f"MSE 200 steps after a disc of {figures['damage_radius_cells']:.0f} cells is "
                             "cut at step 300 (mean of 4 places)",
                "damaged_mse": "MSE right after the cut, for scale"}
    rows += [(k, number(figures[k]), meaning) for k, meaning in meanings.items()]
    prov = nca.provenance
    how = (f"Trained with `{prov['command']}` ({prov.get('iterations')} iterations, "
           f"{prov.get('train_seconds', 0) / 60:.0f} min on {prov.get('machine', '?')})."
           if "command" in prov else "")
    sections = [
        Section("Grow, cut, regrow", "Four independent runs from one seed cell each. A disc is cut "
                "out after step 200 and another after step 400; the cells regrow what was lost.",
                [(videos[0].name, "growth and regeneration, 600 steps"
                  + (f" (also as {videos[1].name})" if len(videos) > 1 else "")),
                 ("strip.png", "the first run at steps " + ", ".join(map(str, picks))
                  + " (each cut one step before)")]),
        Section("Error over time", "", [("mse.png", "RGBA mean squared error to the target")]),
        Section("Evaluation", f"Means over 8 runs, seed {seed}. {how}", table=rows),
    ]
    if perturbations:
        sections.append(perturbation_section(nca, target, perturbations, out, seed))
    if mnist is not None:
        sections.append(mnist_section(*mnist, out, seed))
        if mnist_adversary is not None:
            sections.append(mnist_attack_section(*mnist, mnist_adversary, out, seed))
    if pde_model is not None:
        sections.append(pde_section(pde_model, out))
    if robustness is not None:
        sections.append(robustness_section(robustness))
    if playground:
        sections.append(Section("Play with it", "The same models in your browser: erase cells and watch "
                                "them regrow, place adversarial cells, drag perturbation sliders, draw "
                                "digits. Written by `nca export web`; `nca play` serves it.",
                                links=[(playground, "Open the playground")]))
    return write_report(out / "index.html", f"ncaforge demo: {name}",
                        "A Neural Cellular Automaton grows a lizard from a single cell and "
                        "regenerates it after damage.", sections)
