"""Evaluation of a texture NCA (texture, muNCA, reaction-diffusion): how near its grid's patches are to
the exemplar's held-out strip, against baselines, over a long run and after damage.

Distances are :func:`pyramid_swd` along one fixed set of directions per level (drawn from ``--seed``),
so that every figure of a report is measured with the same ruler.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

from ncaforge.core.family import Report
from ncaforge.core.nca import NCA
from ncaforge.core.progress import bar
from ncaforge.data.textures import TEXTURES, TextureTask, load_exemplar
from ncaforge.objectives.losses import pyramid_swd
from ncaforge.objectives.texture import erase_quarter, start_states, texture_rgb


@dataclass
class TextureEvaluation:
    """The options of `nca eval texture|munca|rd`."""

    target: str | None = field(default=None, metadata={
        "help": "The exemplar to compare with [the one the model was trained on; imported models need it]."})
    size: int = field(default=128, metadata={"min": 8, "max": 1024, "help": "Side of the torus grown."})
    samples: int = field(default=2, metadata={"min": 1, "help": "Independent runs averaged."})
    steps: int = field(default=1000, metadata={"min": 1, "help": "Step at which `swd` is measured."})
    until: int = field(default=5000, metadata={"min": 1,
        "help": "Last step of the stability run (stability_max_swd: the largest swd from --steps on)."})
    every: int = field(default=250, metadata={"min": 1, "help": "Steps between stability measurements."})
    regen_steps: int = field(default=200, metadata={"min": 1,
        "help": "Steps after erasing a quarter of the grid at --steps (`regen_swd`)."})
    projections: int = field(default=128, metadata={"min": 1, "help": "Directions per pyramid level."})
    seed: int = field(default=0, metadata={"help": "Seed of the starts, the fire masks and the directions."})


class Ruler:
    """pyramid_swd against a fixed reference with fixed directions (the same for every measurement)."""

    def __init__(self, reference: torch.Tensor, levels: int, projections: int, seed: int) -> None:
        self.reference, self.levels, self.projections, self.seed = reference, levels, projections, seed

    def distances(self, rgb: torch.Tensor) -> torch.Tensor:
        """(B,) the distance of each sample."""
        g = torch.Generator().manual_seed(self.seed)
        return pyramid_swd(rgb, self.reference, g, self.levels, projections=self.projections)

    def __call__(self, rgb: torch.Tensor) -> float:
        return float(self.distances(rgb).mean())


@torch.no_grad()
def run_evaluation(nca: NCA, options: TextureEvaluation, progress: bool = False,
                   json_path: str | None = None) -> Report:
    """`nca eval texture`: swd at --steps, its baselines, the largest swd up to --until, and after damage."""
    task = nca.task
    if not isinstance(task, TextureTask):
        raise ValueError("this checkpoint records no texture task (its exemplar and pyramid): evaluate a "
                         "model trained by `nca train texture|munca|rd` or imported by "
                         "`nca import distill-texture`")
    if options.target is not None:
        task = replace(task, target=options.target)
    if task.target is None:
        raise ValueError("this model records no exemplar (an imported one?): pass --target NAME|PATH")
    o = options
    if o.until < o.steps:
        raise ValueError(f"--until ({o.until}) must be at least --steps ({o.steps})")
    ruler = Ruler(task.held_out(), task.levels, o.projections, o.seed)
    g = torch.Generator().manual_seed(o.seed)
    grid = (o.size, o.size)
    x = nca.rollout(start_states(nca, task, o.samples, grid, g), o.steps, g)
    swd = ruler(texture_rgb(nca, x))

    regen = nca.rollout(erase_quarter(x, start_states(nca, task, o.samples, grid, g)), o.regen_steps, g)
    regen_swd = ruler(texture_rgb(nca, regen))

    curve = {o.steps: swd}
    runs = bar(range(o.steps + o.every, o.until + 1, o.every), progress, desc="stability", unit="point")
    for t in runs:
        x = nca.rollout(x, o.every, g)
        curve[t] = ruler(texture_rgb(nca, x))

    others = {name: ruler(load_exemplar(name, task.exemplar_size).unsqueeze(0))
              for name in TEXTURES if name != task.target}
    noise = ruler(torch.rand((1, 3, *grid), generator=g))
    floor = ruler(task.exemplar().unsqueeze(0)) if task.holdout else 0.0
    figures = {
        "swd": swd,
        "swd_baseline_other": min(others.values()),
        "swd_noise": noise,
        "stability_max_swd": max(curve.values()),
        "regen_swd": regen_swd,
        "swd_other_exemplars": others,
        "swd_exemplar": floor,  # the trained part of the exemplar itself: the best a model can do
        "stability_curve": {str(t): v for t, v in curve.items()},
        "target": task.target, "size": o.size, "samples": o.samples, "steps": o.steps, "until": o.until,
        "regen_steps": o.regen_steps, "seed": o.seed,
    }
    shown = {k: figures[k] for k in ("swd", "swd_baseline_other", "swd_noise", "stability_max_swd",
                                     "regen_swd")}
    verdict = (f"swd is {swd / min(figures['swd_baseline_other'], noise):.2f}x the nearer baseline; "
               f"stability {figures['stability_max_swd'] / swd:.2f}x swd, "
               f"regeneration {regen_swd / swd:.2f}x swd")
    return Report(figures, shown, verdict)
