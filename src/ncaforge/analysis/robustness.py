"""The attack suite: seven standard attacks on one host, how much each damages it, and whether it
recovers once the attack stops.

Every attack starts from the states its family's scoring calls ready (a grown pattern, digits that have
classified themselves) and acts on the host's own cells (alive ones, or a digit's) and writable channels:

- ``disc``: every cell within a disc (radius an eighth of the grid's shorter side, the middle of the
  cuts Growing NCA trains on, centred on a random cell of the host) is cleared;
- ``death_10``, ``death_30``: each cell dies (is cleared) with probability 0.1, 0.3;
- ``noise_0.1``, ``noise_0.3``: Gaussian noise of that standard deviation on every cell's channels
  (the host's cells and writable channels: a digit's pixels are an input, never attacked);
- ``adversary_10``: 10% of the cells run an adversarial rule (the host's architecture) trained briefly
  to maximise the host's error, for ``attack_steps`` steps;

Both trained attacks act within the host's own range: after every attacked step, states are clipped to
``default_clip`` of the ready states' largest magnitude (1.25x it, at least 3), as perturbations are.
Unclipped, an adversary trained this briefly learns to blow the states up (to inf or NaN), from which no
rule recovers, and every host scores the same.
- ``perturbation``: the strongest of ``directions`` global perturbations (a symmetric matrix on every
  cell, every step, its states clipped beyond the host's own range), each trained for the same small
  budget, for ``attack_steps`` steps.

Damage is the family's error at the end of the attack; recovery, the error ``recovery_steps`` steps after
it, and the share of samples back within twice the error of the unattacked host at the same step (the
host run as long from the same states with the same randomness).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ncaforge.core import family as registry
from ncaforge.core.progress import bar
from ncaforge.families.perturbation.task import AttackTask
from ncaforge.interventions.injection import adversary_mask
from ncaforge.interventions.intervened import Intervened, attack_rule
from ncaforge.interventions.perturbation import default_clip
from ncaforge.render.frames import tile, to_image
from ncaforge.render.views import picture

ONE_SHOT = {"disc": None, "death_10": 0.1, "death_30": 0.3, "noise_0.1": 0.1, "noise_0.3": 0.3}
TRAINED = ("adversary_10", "perturbation")
ATTACKS = (*ONE_SHOT, *TRAINED)
RECOVERY_FACTOR = 2.0
SUITE_VERSION = 2  # 2: trained attacks clipped to the host's range


@dataclass
class SuiteOptions:
    """The options of `nca robustness`."""

    seed: int = field(default=0, metadata={"help": "Seed of the samples, the attacks and their training."})
    samples: int = field(default=8, metadata={"min": 1, "help": "Samples attacked (each attack, the same)."})
    attack_steps: int = field(default=100, metadata={"min": 1,
        "help": "Steps the adversary and the perturbation act for."})
    recovery_steps: int = field(default=300, metadata={"min": 1,
        "help": "Steps the host runs alone after each attack before recovery is measured."})
    budget: int = field(default=60, metadata={"min": 1,
        "help": "Training iterations of the adversary and of each perturbation direction."})
    directions: int = field(default=3, metadata={"min": 1,
        "help": "Perturbation directions trained (the strongest is reported)."})
    rollout: tuple[int, int] = field(default=(32, 48), metadata={"min": 1, "interval": True,
        "help": "Length of the attacked rollouts the attacks train on, drawn from [LO, HI)."})
    lr: float = field(default=2e-3, metadata={"min": 0.0, "help": "Learning rate of the trained attacks."})


def refusal(model: nn.Module) -> str | None:
    """Why ``model`` is not a subject of the attack suite (an attack, a family with no error measure, a
    model its family's scoring refuses), or None when it is."""
    if is_attack(model):
        return f"attacks trained against {model.task.host}, not hosts"
    family = registry.family_of(model)
    if family.score is None:
        return f"the {family.name} family declares no error measure"
    return family.score.refuses(model)


def scoring_of(host: nn.Module) -> registry.Scoring:
    """The scoring of ``host``'s family (a clear error when the host cannot be scored)."""
    reason = refusal(host)
    if reason is not None:
        scored = ", ".join(sorted(f.name for f in registry.with_capability("score")))
        raise registry.FamilyError(f"this model cannot be put through the attack suite: {reason} "
                                   f"(families with an error measure: {scored})")
    return registry.family_of(host).score


def is_attack(model: nn.Module) -> bool:
    """Whether ``model`` is an adversary or perturbation trained against a host (not a host itself)."""
    return isinstance(getattr(model, "task", None), AttackTask)


def host_cells(host: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) bool: the host's own cells (alive ones, or a digit's), else every cell."""
    cells = host.alive(x)
    if cells is None:
        cells = host.living(x)
    return cells if cells is not None else torch.ones_like(x[:, :1], dtype=torch.bool)


def writable(host: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(1, C, 1, 1) float: 1 on the channels the rule writes, 0 on read-only inputs."""
    keep = torch.zeros(1, x.shape[1], 1, 1, dtype=x.dtype, device=x.device)
    keep[:, host.layout.mutable] = 1.0
    return keep


def disc_at_random_cell(cells: torch.Tensor, radius: float, generator: torch.Generator) -> torch.Tensor:
    """(B, 1, H, W) bool: per sample, a disc of ``radius`` around one of its ``cells`` drawn at random."""
    b, _, h, w = cells.shape
    rows = torch.arange(h, device=cells.device)[:, None]
    cols = torch.arange(w, device=cells.device)[None, :]
    discs = []
    for i in range(b):
        where = cells[i, 0].nonzero()
        if len(where) == 0:
            where = torch.tensor([[h // 2, w // 2]], device=cells.device)
        cy, cx = where[int(torch.randint(len(where), (1,), generator=generator))].tolist()
        discs.append((rows - cy) ** 2 + (cols - cx) ** 2 <= radius * radius)
    return torch.stack(discs)[:, None]


def one_shot(name: str, host: nn.Module, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """``x`` after the instant attack ``name`` (see the module's docstring)."""
    cells = host_cells(host, x)
    keep = writable(host, x)
    if name == "disc":
        hit = disc_at_random_cell(cells, min(x.shape[-2:]) / 8, generator)
        return x * (1 - keep * (hit & cells).to(x.dtype))
    if name.startswith("death"):
        hit = torch.rand(x[:, :1].shape, generator=generator).to(x.device) < ONE_SHOT[name]
        return x * (1 - keep * (hit & cells).to(x.dtype))
    noise = torch.randn(x.shape, generator=generator).to(x.device) * ONE_SHOT[name]
    return x + noise * keep * cells.to(x.dtype)


class SuiteRun:
    """One host, its scoring and its samples: the shared machinery of every attack."""

    def __init__(self, host: nn.Module, options: SuiteOptions, progress: bool = False) -> None:
        self.host, self.options, self.progress = host.eval(), options, progress
        host.requires_grad_(False)
        self.scoring = scoring_of(host)
        g = torch.Generator().manual_seed(options.seed)
        self.x, self.reference = self.scoring.ready(host, options.samples, g)
        self.clip = default_clip(float(self.x.abs().max()))  # the trained attacks act within this range
        # the trained attacks learn on other samples than they are measured on
        self.train_x, self.train_reference = self.scoring.ready(host, options.samples, g)

    def error(self, x: torch.Tensor, reference: torch.Tensor | None = None) -> torch.Tensor:
        """(B,) the family's error; a sample whose states blew up (not finite) scores the worst, 1."""
        with torch.no_grad():
            e = self.scoring.error(self.host, x, self.reference if reference is None else reference)
        blown = ~torch.isfinite(x).flatten(1).all(dim=1)
        return torch.nan_to_num(e, nan=1.0).masked_fill(blown, 1.0)

    def generator(self, salt: int) -> torch.Generator:
        return torch.Generator().manual_seed(self.options.seed * 1000 + salt)

    @torch.no_grad()
    def baseline(self, steps: int, salt: int) -> torch.Tensor:
        """(B,) the unattacked host's error after ``steps`` steps from the samples."""
        return self.error(self.host.rollout(self.x, steps, self.generator(salt)))

    def adversary_mask(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        b, _, h, w = x.shape
        return adversary_mask(b, h, w, 0.1, None, generator, x.device) & host_cells(self.host, x)

    def train(self, rule: Intervened, salt: int) -> nn.Module:
        """Train ``rule``'s attack for the budget to maximise the host's error on the training samples."""
        o, g = self.options, self.generator(salt)
        trained = rule.trained
        trained.requires_grad_(True)
        optimiser = torch.optim.Adam(trained.parameters(), lr=o.lr)
        surrogate = self.scoring.surrogate or self.scoring.error
        batch = min(4, len(self.train_x))
        for _ in bar(range(o.budget), self.progress, desc="train attack", unit="it", leave=False):
            idx = torch.randperm(len(self.train_x), generator=g)[:batch]
            x, reference = self.train_x[idx], self.train_reference[idx]
            mask = self.adversary_mask(x, g) if rule.adversary is not None else None
            steps = int(torch.randint(o.rollout[0], o.rollout[1], (1,), generator=g))
            y = rule.clipped_rollout(x, steps, self.clip, g, mask)
            loss = -surrogate(self.host, y, reference).mean()
            if not torch.isfinite(loss):
                break  # the attack blew the host up: that is as strong as it gets
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        trained.requires_grad_(False)
        return trained

    @torch.no_grad()
    def sustained(self, rule: Intervened, salt: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(end-of-attack states, states after recovery) under ``rule`` for ``attack_steps``."""
        g = self.generator(salt)
        mask = self.adversary_mask(self.x, g) if rule.adversary is not None else None
        attacked = rule.clipped_rollout(self.x, self.options.attack_steps, self.clip, g, mask)
        return attacked, self.host.rollout(attacked, self.options.recovery_steps, g)


def figures(damage: torch.Tensor, recovered: torch.Tensor, host: torch.Tensor) -> dict[str, float]:
    """One attack's row: mean damage and recovered error, the unattacked host's error, and the share of
    samples back within ``RECOVERY_FACTOR`` times that host error."""
    scale = float(host.mean())
    return {"damage": float(damage.mean()), "recovered_error": float(recovered.mean()), "host_error": scale,
            "recovered_fraction": float((recovered <= RECOVERY_FACTOR * scale).float().mean())}


Observer = Callable[[str, torch.Tensor, torch.Tensor], None]


def run_suite(host: nn.Module, options: SuiteOptions, progress: bool = False,
              observe: Observer | None = None) -> dict:
    """Every attack of the suite on ``host``: ``{"attacks": {name: figures}, ...}`` (see :func:`figures`).
    ``observe`` (for pictures) is called with each attack's name, its end-of-attack states and the states
    after recovery."""
    observe = observe or (lambda name, attacked, recovered: None)
    start = time.perf_counter()
    run = SuiteRun(host, options, progress)
    o = options
    out: dict = {"suite": SUITE_VERSION, "family": registry.family_of(host).name, "error": run.scoring.name,
                 "samples": o.samples, "ready_error": float(run.error(run.x).mean()),
                 "attack_steps": o.attack_steps, "recovery_steps": o.recovery_steps, "budget": o.budget,
                 "attacks": {}}
    for i, name in enumerate(bar(ONE_SHOT, progress, desc="instant attacks", leave=False)):
        damaged = one_shot(name, host, run.x, run.generator(10 + i))
        g = run.generator(20 + i)
        with torch.no_grad():
            recovered = host.rollout(damaged, o.recovery_steps, g)
        out["attacks"][name] = figures(run.error(damaged), run.error(recovered),
                                       run.baseline(o.recovery_steps, 20 + i))
        observe(name, damaged, recovered)
    host_after = run.baseline(o.attack_steps + o.recovery_steps, 40)
    adversary = run.train(attack_rule(host, "adversary"), 30)
    attacked, recovered = run.sustained(Intervened(host, adversary=adversary), 40)
    out["attacks"]["adversary_10"] = figures(run.error(attacked), run.error(recovered), host_after)
    observe("adversary_10", attacked, recovered)
    strongest, strongest_states = None, None
    for k in range(o.directions):
        rule = attack_rule(host, "perturbation", run.clip)
        gk = run.generator(50 + k)
        with torch.no_grad():  # each direction starts from its own small random symmetric matrix
            rule.perturbation.weight.copy_(torch.randn(rule.perturbation.weight.shape, generator=gk) * 0.002)
        perturbation = run.train(rule, 50 + k)
        attacked, recovered = run.sustained(Intervened(host, perturbation=perturbation), 40)
        row = figures(run.error(attacked), run.error(recovered), host_after)
        row["direction"] = k
        if strongest is None or row["damage"] > strongest["damage"]:
            strongest, strongest_states = row, (attacked, recovered)
    out["attacks"]["perturbation"] = strongest
    observe("perturbation", *strongest_states)
    rows = out["attacks"].values()
    out["recovered_fraction_mean"] = sum(r["recovered_fraction"] for r in rows) / len(out["attacks"])
    out["seconds"] = round(time.perf_counter() - start, 1)
    return out


def attack_sheet(host: nn.Module, states: dict[str, tuple[torch.Tensor, torch.Tensor]], samples: int = 3,
                 scale: int = 2) -> np.ndarray:
    """One picture of what each attack did (``states``: name -> end-of-attack and recovered states, as
    ``run_suite`` observes them): a row per attack, the first ``samples`` samples after the attack and
    after recovery, side by side, in the host's family's picture."""
    images, labels = [], []
    for attacked, recovered in states.values():
        n = min(samples, len(attacked))
        shown = torch.stack([attacked[:n], recovered[:n]], 1).flatten(0, 1)  # attacked 1, recovered 1, ...
        images += [to_image(rgb, scale) for rgb in picture(host, shown)]
        labels += [text for i in range(n) for text in (f"attacked {i + 1}", f"recovered {i + 1}")]
    return tile(images, columns=len(images) // len(states), labels=labels, row_labels=list(states))


def table(results: dict[str, dict], unscored: dict[str, str] | None = None) -> str:
    """A markdown table (a robustness leaderboard): per model, each attack's recovered fraction; then the
    models left out (``unscored``: name -> why), grouped by reason (each a short phrase)."""
    head = "| model | family | error | ready | " + " | ".join(ATTACKS) + " | mean |"
    lines = [head, "|" + " --- |" * (len(ATTACKS) + 5)]
    for name, r in results.items():
        cells = [f"{r['attacks'][a]['recovered_fraction']:.2f}" for a in ATTACKS]
        lines.append(f"| {name} | {r['family']} | {r['error']} | {r['ready_error']:.3g} | "
                     + " | ".join(cells) + f" | {r['recovered_fraction_mean']:.2f} |")
    notes = left_out(unscored or {})
    return "\n".join([*lines, "", *notes] if notes else lines)


def left_out(unscored: dict[str, str]) -> list[str]:
    """Sentences naming the models a leaderboard leaves out (name -> why), one per reason."""
    reasons: dict[str, list[str]] = {}
    for name, reason in unscored.items():
        reasons.setdefault(reason, []).append(name)
    return [f"Not attacked: {', '.join(names)} ({reason})." for reason, names in reasons.items()]
