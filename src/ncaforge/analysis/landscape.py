"""The attractor landscape of a model, after Stovold, Kvalsund, Ludwig et al., "Visualising the Attractor
Landscape of Neural Cellular Automata" (2026): record trajectories from many starts through a
perturbation, then look at the cloud of states they visit.

Each run starts where the family starts (a seed, test digits), runs ``perturb_at`` steps, has a disc of
its cells cleared (the attack suite's cut), and runs on to ``steps``; its states are written every
``every`` steps, one compressed file per run (``trajectories/run_NNN.npz``). Then:

- *macroscopic* PCA: each whole grid state a point (C*H*W numbers), explained variance of the first
  components, trajectories in the first two coloured by time;
- *microscopic* PCA: each living cell a point (C numbers), the same;
- two small autoencoders of the cells (C -> 32 -> 2 -> 32 -> C, and a sparse one, C -> 32 -> 8 non-negative
  numbers with an L1 penalty): reconstruction error beside PCA's with two components;
- persistent homology of the macroscopic cloud (Vietoris-Rips on its first ``components`` PCA
  coordinates, at most 200 of its points, with gudhi: ``pip install ncaforge[landscape]``):
  lifetimes of the most persistent H0 and H1 classes, a persistence diagram and a barcode;
- one basin? The distances, in the same coordinates, from each run's grown states' centre to its
  perturbed and to its regrown states (means over runs): ``return_ratio`` = regrown / perturbed, and
  ``one_basin`` when the runs come back at least three quarters of the way (ratio below 0.25).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ncaforge.analysis.health import start_of
from ncaforge.analysis.robustness import host_cells, one_shot
from ncaforge.core.atomic import atomic_file
from ncaforge.core.progress import bar

PHASES = ("growing", "grown", "perturbed", "regrowing", "regrown")


@dataclass
class LandscapeOptions:
    """The options of `nca analyse landscape`."""

    seed: int = field(default=0, metadata={"help": "Seed of the starts, fire masks and cuts."})
    runs: int = field(default=8, metadata={"min": 2, "help": "Trajectories recorded."})
    steps: int = field(default=400, metadata={"min": 4, "help": "Steps of each trajectory."})
    perturb_at: int = field(default=200, metadata={"min": 1,
        "help": "Step at which a disc of each run's cells is cleared."})
    every: int = field(default=5, metadata={"min": 1, "help": "States are recorded every this many steps."})
    components: int = field(default=10, metadata={"min": 2,
        "help": "PCA components reported (and the coordinates persistent homology works in)."})
    cells: int = field(default=20000, metadata={"min": 100,
        "help": "Living cells sampled for the microscopic PCA and the autoencoders."})
    ae_iterations: int = field(default=800, metadata={"min": 1,
        "help": "Training steps of each autoencoder."})


@dataclass
class Recording:
    """Recorded states ``(runs, T, C, H, W)`` at ``steps`` (T,), each labelled with a phase (T,)."""

    states: np.ndarray
    steps: np.ndarray
    phases: np.ndarray


def phase_of(t: int, perturb_at: int, steps: int) -> str:
    """Which part of a run step ``t`` is in (the step just after the cut is "perturbed")."""
    if t == perturb_at:
        return "perturbed"
    if t < perturb_at:
        return "growing" if t < perturb_at // 2 else "grown"
    return "regrown" if t >= perturb_at + (steps - perturb_at) // 2 else "regrowing"


@torch.no_grad()
def record(model: nn.Module, options: LandscapeOptions, out: Path | None = None,
           progress: bool = False) -> Recording:
    """Run and record ``options.runs`` trajectories (written under ``out/trajectories`` if given)."""
    if not 0 < options.perturb_at < options.steps:
        raise ValueError(f"perturb_at ({options.perturb_at}) must lie inside the run's {options.steps} steps")
    g = torch.Generator().manual_seed(options.seed)
    x = start_of(model, options.runs, options.seed)
    frames, steps = [x.clone()], [0]
    for t in bar(range(1, options.steps + 1), progress, desc="record", unit="step", leave=False):
        x = model.rollout(x, 1, g)
        if t == options.perturb_at:
            x = one_shot("disc", model, x, g)
        if t % options.every == 0 or t == options.perturb_at:
            frames.append(x.clone())
            steps.append(t)
    states = torch.stack(frames, dim=1).float().cpu().numpy()  # (runs, T, C, H, W)
    phases = np.array([phase_of(t, options.perturb_at, options.steps) for t in steps])
    recording = Recording(states, np.array(steps), phases)
    if out is not None:
        folder = Path(out) / "trajectories"
        folder.mkdir(parents=True, exist_ok=True)
        for i, run in enumerate(states):  # one chunk per run, half precision
            with atomic_file(folder / f"run_{i:03d}.npz") as tmp, open(tmp, "wb") as f:
                np.savez_compressed(f, states=run.astype(np.float16), steps=recording.steps, phases=phases)
    return recording


def pca(points: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(coordinates (N, k), explained variance ratios (k,), mean): PCA of ``points`` (N, D) by SVD."""
    mean = points.mean(axis=0)
    centred = torch.from_numpy(points - mean).double()
    _, s, vt = torch.linalg.svd(centred, full_matrices=False)
    k = min(k, len(s))
    variance = s**2
    ratio = (variance / variance.sum().clamp(min=1e-30))[:k]
    return (centred @ vt[:k].T).numpy(), ratio.numpy(), mean


def living_cells(model: nn.Module, recording: Recording, n: int, seed: int) -> np.ndarray:
    """(n', C): up to ``n`` cell states drawn from the host's own cells of every recorded state."""
    states = torch.from_numpy(recording.states).flatten(0, 1)
    cells = host_cells(model, states)[:, 0]
    points = states.permute(0, 2, 3, 1)[cells]
    pick = torch.randperm(len(points), generator=torch.Generator().manual_seed(seed))[:n]
    return points[pick].numpy()


def autoencoder_errors(points: np.ndarray, iterations: int, seed: int) -> dict[str, float]:
    """Reconstruction MSE of the standardised cells by a dense autoencoder (2-number code), a sparse one
    (8 non-negative numbers, L1 penalty 0.1 on the code) and PCA with 2 components; and the sparse code's
    mean share of active units (above 0.01)."""
    torch.manual_seed(seed)
    x = torch.from_numpy(points).float()
    x = (x - x.mean(0)) / x.std(0).clamp(min=1e-6)
    c = x.shape[1]
    out = {}
    for name, width, l1 in (("dense", 2, 0.0), ("sparse", 8, 0.1)):
        code_layers = [nn.ReLU()] if l1 else []  # a sparse code is non-negative: its zeros are exact
        encoder = nn.Sequential(nn.Linear(c, 32), nn.ReLU(), nn.Linear(32, width), *code_layers)
        decoder = nn.Sequential(nn.Linear(width, 32), nn.ReLU(), nn.Linear(32, c))
        optimiser = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=3e-3)
        for _ in range(iterations):
            batch = x[torch.randint(len(x), (512,))]
            code = encoder(batch)
            loss = (decoder(code) - batch).pow(2).mean() + l1 * code.abs().mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        with torch.no_grad():
            code = encoder(x)
            out[f"ae_{name}_mse"] = float((decoder(code) - x).pow(2).mean())
            if l1:
                out["ae_sparse_active"] = float((code.abs() > 1e-2).float().mean())
    coords, _, _ = pca(x.numpy(), 2)
    _, _, vt = torch.linalg.svd(x - x.mean(0), full_matrices=False)
    back = torch.from_numpy(coords).float() @ vt[:2] + x.mean(0)
    out["pca2_mse"] = float((back - x).pow(2).mean())
    return out


MAX_POINTS = 200  # a full Rips complex to dimension 2 of n points has ~n^3/6 triangles


def persistence(points: np.ndarray, top: int = 3, seed: int = 0) -> dict | None:
    """Vietoris-Rips persistent homology of ``points`` (None without gudhi): per dimension 0 and 1, the
    (birth, death) pairs and the ``top`` longest finite lifetimes. Clouds of more than ``MAX_POINTS``
    points are subsampled at random to that many."""
    try:
        import gudhi
    except ImportError:
        return None
    if len(points) > MAX_POINTS:
        points = points[np.random.default_rng(seed).choice(len(points), MAX_POINTS, replace=False)]
    tree = gudhi.RipsComplex(points=points).create_simplex_tree(max_dimension=2)
    pairs = tree.persistence()
    out: dict = {}
    for dim in (0, 1):
        found = [(float(b), float(d)) for k, (b, d) in pairs if k == dim]
        finite = sorted((d - b for b, d in found if np.isfinite(d)), reverse=True)
        out[f"h{dim}_pairs"] = found
        out[f"h{dim}_lifetimes"] = finite[:top]
    return out


def basin(coords: np.ndarray, phases: np.ndarray, runs: np.ndarray) -> dict[str, float | bool]:
    """Per run, distances from the centre of its grown states to its own grown, perturbed and regrown
    states (means over runs; each run has its own attractor where starts differ, as digits do)."""
    rows = {"grown": [], "perturbed": [], "regrown": []}
    for r in np.unique(runs):
        mine = runs == r
        centre = coords[mine & (phases == "grown")].mean(axis=0)
        for phase, found in rows.items():
            found.append(np.linalg.norm(coords[mine & (phases == phase)] - centre, axis=1).mean())
    spread, perturbed, regrown = (float(np.mean(rows[p])) for p in ("grown", "perturbed", "regrown"))
    ratio = regrown / max(perturbed, 1e-12)
    return {"grown_spread": spread, "perturbed_distance": perturbed, "regrown_distance": regrown,
            "return_ratio": ratio, "one_basin": bool(ratio < 0.25)}


def analyse(model: nn.Module, options: LandscapeOptions, out: str | Path, progress: bool = False) -> dict:
    """Record, analyse and plot into ``out``; returns the figures (also written to landscape.json)."""
    from ncaforge.render.plots import plot_barcode, plot_landscape
    from ncaforge.render.report import Section, write_report
    from ncaforge.render.text import number

    start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    recording = record(model, options, out, progress)
    runs, t = recording.states.shape[:2]
    macro = recording.states.reshape(runs * t, -1)
    phases = np.tile(recording.phases, runs)
    coords, ratio, _ = pca(macro, options.components)
    cells = living_cells(model, recording, options.cells, options.seed)
    micro_coords, micro_ratio, _ = pca(cells, options.components)
    figures: dict = {
        "runs": runs, "records_per_run": t, "steps": options.steps, "perturb_at": options.perturb_at,
        "macro_explained_variance": ratio.tolist(),
        "macro_explained_variance_2": float(ratio[:2].sum()),
        "micro_explained_variance": micro_ratio.tolist(),
        "micro_explained_variance_2": float(micro_ratio[:2].sum()),
        "cells_sampled": len(cells),
        **basin(coords, phases, np.repeat(np.arange(runs), t)),
        **autoencoder_errors(cells, options.ae_iterations, options.seed),
    }
    homology = persistence(coords, seed=options.seed)
    files = [plot_landscape(coords[:, :2].reshape(runs, t, 2), recording.steps, recording.phases,
                            out / "pca_macro.png", "whole-grid states (macroscopic), first two components"),
             plot_landscape(micro_coords[:, :2][:, None, :], None, None, out / "pca_micro.png",
                            "cell states (microscopic), first two components")]
    if homology is None:
        figures["persistent_homology"] = "not computed: pip install gudhi (the landscape extra)"
    else:
        figures.update({f"{k}_lifetimes": homology[f"{k}_lifetimes"] for k in ("h0", "h1")})
        files.append(plot_barcode(homology, out / "persistence.png"))
    figures["seconds"] = round(time.perf_counter() - start, 1)
    figures["files"] = [f.name for f in files]
    write_report(out / "index.html", "Attractor landscape",
                 f"{runs} runs of {options.steps} steps, a disc of cells cleared at step "
                 f"{options.perturb_at}; states recorded every {options.every} steps (trajectories/).",
                 [Section("Whole-grid states", "Each point a grid state; lines are runs, coloured by time; "
                          "the cut's states are crossed.", [("pca_macro.png", "macroscopic PCA")]),
                  Section("Cell states", "Each point a living cell.", [("pca_micro.png", "microscopic PCA")]),
                  *([Section("Persistent homology", "Vietoris-Rips on the first "
                             f"{options.components} macroscopic components.",
                             [("persistence.png", "persistence diagram and barcode")])] if homology else []),
                  Section("Figures", table=[("figure", "value"), *(
                      (k, number(v)) for k, v in figures.items() if isinstance(v, int | float))])])
    return figures
