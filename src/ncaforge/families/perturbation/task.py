"""What an attack was trained to do: the host, the target, and the recipe (adversaries and perturbations)."""

from __future__ import annotations

from dataclasses import dataclass

from ncaforge.core.config import Config

ATTACKS = ("adversary", "perturbation")
REGIONS = ("target", "grid")


@dataclass
class AttackTask(Config):
    """The task section of an adversary's or a perturbation's checkpoint: the `nca attack` options,
    and the host's grid (``grid``, ``target_size``, ``pad``) so that the attack runs where it was made."""

    attack: str = "perturbation"
    host: str = ""
    target: str = ""
    fraction: float = 0.1
    region: str = "target"
    clip: float | None = None
    batch: int | None = None
    pool: int | None = None
    steps: tuple[int, int] = (64, 96)
    damage_count: int = 3
    grow_steps: int = 200
    recover_weight: float = 0.0
    recover_steps: tuple[int, int] = (64, 96)
    mnist_dir: str | None = None
    mnist_steps: int = 20
    grid: tuple[int, int] | None = None
    target_size: int | None = None
    pad: int | None = None
