"""How well a PDE NCA runs the dynamics it learned: unseen initial conditions, longer, on larger grids.

Pixel MSE against the PDE at 1x and 2x the training horizon, with the initial frame
carried forward as a trivial baseline for scale; statistics that need no pixel
alignment (the covered fraction, where the second species exceeds 0.1, and the
radially averaged power spectrum); and the equivariance error of the rule under the
grid's rotations and reflections: one step of T x against T of one step of x, at
states along the NCA's own run. (Whole rollouts are compared too, in float64, but a
learned rule can be chaotic: there the rounding that differs between a grid and its
rotation grows by orders of magnitude over hundreds of steps, which says nothing
about the rule's symmetry.)
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ncaforge.core.family import Report, recorded
from ncaforge.core.nca import NCA
from ncaforge.families.pde.model import observed_state

COVERED = 0.1  # a cell is covered where the second species exceeds this
LARGE_SEED_OFFSET = 500_000  # conditions of the larger grid: neither training's nor the test's


def unseen_trajectories(nca: NCA, count: int, size: tuple[int, int], steps: int,
                        seed_offset: int = 0) -> torch.Tensor:
    """(count, T, 2, H, W) Gray-Scott trajectories from test seeds, simulated like ``nca``'s training data
    (its task, from `nca train pde` on `nca data pde` output)."""
    from ncaforge.data import pde

    meta = getattr(getattr(nca, "task", None), "data_meta", None) or {}
    if meta.get("pde") != "gray-scott":
        raise ValueError("this model was not trained on `nca data pde` trajectories; pass its test data "
                         "with --data")
    seeds = [pde.TEST_SEED_OFFSET + seed_offset + i for i in range(count)]
    return pde.trajectories(pde.GrayScott(**meta["params"]), seeds, *size, steps, int(nca.task.every),
                            meta.get("ic", "squares"))


def long_run_start(nca: NCA, batch: int, seed: int) -> torch.Tensor:
    """States of ``batch`` unseen initial conditions on the training grid (a long run's start)."""
    grid = tuple(recorded(nca, "grid", "--size H W"))
    first = unseen_trajectories(nca, batch, grid, int(nca.task.every), seed_offset=1000 * seed)[:, 0]
    return observed_state(nca, first)


def run_observed(nca: NCA, start: torch.Tensor, steps: int, every: int) -> torch.Tensor:
    """Observed channels (steps // every + 1, B, observed, H, W) of the NCA from frames ``start``."""
    o = nca.config.observed
    x = observed_state(nca, start.to(next(nca.parameters()).dtype))
    frames = [x[:, :o]]
    with torch.no_grad():
        for _ in range(steps // every):
            x = nca.rollout(x, every)
            frames.append(x[:, :o])
    return torch.stack(frames)


def coverage(frames: torch.Tensor, species: int = 1) -> float:
    """The mean fraction of cells where channel ``species`` of (B, C, H, W) exceeds 0.1."""
    return float((frames[:, species] > COVERED).float().mean())


def radial_spectrum(field: torch.Tensor) -> np.ndarray:
    """The power spectrum of (B, H, W) fields (mean removed), averaged over rings |k| in [r, r+1)."""
    f = field.double() - field.double().mean(dim=(1, 2), keepdim=True)
    power = torch.fft.fft2(f).abs().pow(2).mean(0).numpy()
    h, w = power.shape
    ky, kx = np.fft.fftfreq(h) * h, np.fft.fftfreq(w) * w
    radius = np.hypot(*np.meshgrid(ky, kx, indexing="ij")).astype(int)
    bins = min(h, w) // 2
    sums = np.bincount(radius.ravel(), power.ravel(), minlength=bins)[:bins]
    counts = np.bincount(radius.ravel(), minlength=bins)[:bins]
    return sums / np.maximum(counts, 1)


def spectrum_figures(nca: torch.Tensor, pde: torch.Tensor) -> tuple[float, float]:
    """(power ratio NCA / PDE, correlation of the log spectra over rings 1..N/2) of (B, H, W) fields."""
    a, b = radial_spectrum(nca)[1:], radial_spectrum(pde)[1:]
    ratio = float(a.sum() / max(b.sum(), 1e-30))
    la, lb = np.log(a + 1e-12), np.log(b + 1e-12)
    return ratio, float(np.corrcoef(la, lb)[0, 1])


TRANSFORMS = {  # the grid's symmetries other than the identity, on (B, C, H, W); square grids
    "rot90": lambda x: torch.rot90(x, 1, (2, 3)), "rot180": lambda x: torch.rot90(x, 2, (2, 3)),
    "rot270": lambda x: torch.rot90(x, 3, (2, 3)), "flip_h": lambda x: torch.flip(x, (3,)),
    "flip_v": lambda x: torch.flip(x, (2,)), "transpose": lambda x: x.transpose(2, 3),
    "antitranspose": lambda x: torch.rot90(x.transpose(2, 3), 2, (2, 3)),
}


def equivariance_error(nca: NCA, start: torch.Tensor, steps: int, every: int = 32) -> dict[str, float]:
    """max |step(T x) - T step(x)| for each symmetry T, over the states every ``every`` steps of the
    NCA's run of ``steps`` from frames ``start`` (all channels; the fire mask transformed with x)."""
    x = observed_state(nca, start)
    errors = dict.fromkeys(TRANSFORMS, 0.0)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for _ in range(steps // every + 1):
            fire, _ = nca.draw((x.shape[0], x.shape[2], x.shape[3]), x.device, g)
            base = nca.step(x, fire)
            for name, t in TRANSFORMS.items():
                errors[name] = max(errors[name], float((nca.step(t(x), t(fire)) - t(base)).abs().max()))
            x = nca.rollout(x, every)
    return errors


def rollout_equivariance_error(nca: NCA, start: torch.Tensor, steps: int) -> float:
    """max over symmetries T of |run(T x) - T run(x)| after ``steps`` steps, in float64 (fire rate 1)."""
    model = copy.deepcopy(nca).double()
    x = observed_state(model, start.double())
    with torch.no_grad():
        base = model.rollout(x, steps, impl="reference")
        return max(float((model.rollout(t(x), steps, impl="reference") - t(base)).abs().max())
                   for t in TRANSFORMS.values())


def evaluate_pde(nca: NCA, test: torch.Tensor, every: int, horizon: int, large: torch.Tensor | None = None,
                 species: int = 1) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Figures and curves on test trajectories (N, T, observed, H, W) that reach 2x ``horizon``.

    ``large`` (N', T', observed, H', W'), run to 1x horizon, gives the larger-grid figures.
    Returns (figures for the JSON, curves for the plots).
    """
    frames = test.shape[1]
    if (frames - 1) * every < 2 * horizon:
        raise ValueError(f"the test trajectories reach step {(frames - 1) * every}; evaluation needs "
                         f"twice the training horizon, {2 * horizon}")
    i1, i2 = horizon // every, 2 * horizon // every
    truth = test[:, : i2 + 1].transpose(0, 1).float()  # (T, N, O, H, W)
    run = run_observed(nca, truth[0], 2 * horizon, every)
    error = (run - truth).pow(2).mean(dim=(1, 2, 3, 4)).numpy()
    baseline = (truth[:1] - truth).pow(2).mean(dim=(1, 2, 3, 4)).numpy()
    figures = {"mse_1x": float(error[i1]), "mse_2x": float(error[i2]),
               "baseline_mse_1x": float(baseline[i1]), "baseline_mse_2x": float(baseline[i2])}
    for name, i in (("1x", i1), ("2x", i2)):
        nca_cov, pde_cov = coverage(run[i], species), coverage(truth[i], species)
        ratio, corr = spectrum_figures(run[i][:, species], truth[i][:, species])
        figures |= {f"coverage_nca_{name}": nca_cov, f"coverage_pde_{name}": pde_cov,
                    f"coverage_ratio_{name}": nca_cov / max(pde_cov, 1e-12),
                    f"spectrum_power_ratio_{name}": ratio, f"spectrum_corr_{name}": corr}
    curves = {"steps": np.arange(len(error)) * every, "mse": error, "baseline_mse": baseline,
              "spectrum_nca_2x": radial_spectrum(run[i2][:, species]),
              "spectrum_pde_2x": radial_spectrum(truth[i2][:, species]), "run": run, "truth": truth}
    if large is not None:
        truth_large = large[:, i1].float()
        run_large = run_observed(nca, large[:, 0].float(), horizon, every)[-1]
        nca_cov, pde_cov = coverage(run_large, species), coverage(truth_large, species)
        ratio, corr = spectrum_figures(run_large[:, species], truth_large[:, species])
        figures |= {"mse_large": float((run_large - truth_large).pow(2).mean()),
                    "coverage_ratio_large": nca_cov / max(pde_cov, 1e-12),
                    "spectrum_power_ratio_large": ratio, "spectrum_corr_large": corr}
        curves |= {"run_large": run_large, "truth_large": truth_large}
    symmetry = equivariance_error(nca, truth[0][:1], horizon, every)
    figures["equivariance_error"] = max(symmetry.values())
    figures |= {f"equivariance_{k}": v for k, v in symmetry.items()}
    figures["rollout_equivariance_error"] = rollout_equivariance_error(nca, truth[0][:1], horizon)
    return figures, curves


@dataclass
class PDEEvaluation:
    """The options of `nca eval pde`."""

    data: tuple[str, ...] = field(default=(), metadata={
        "multiple": True, "metavar": "PATH",
        "help": "Test trajectories reaching twice the training horizon [new Gray-Scott conditions, "
                "simulated like the training data]."})
    test: int = field(default=4, metadata={"min": 1,
            "help": "Unseen initial conditions to simulate (without --data)."})
    limit: int | None = field(default=None, metadata={"min": 1,
            "help": "Use at most N test trajectories [all]."})
    large: int = field(default=128, metadata={"min": 0, "max": 4096,
        "help": "Side of the larger grid run to 1x horizon from new conditions (0: skip)."})
    seed: int = field(default=0, metadata={
        "help": "Which unseen conditions: seed S simulates the test seeds offset by 1000 S."})
    plots: str | None = field(default=None, metadata={
        "path": "dir",
        "help": "Write frames.png (PDE above NCA), error.png, spectra.png and large.png here."})
    threads: int = field(default=0, metadata={"min": 0, "help": "CPU threads (0: PyTorch's default)."})


def run_evaluation(nca: NCA, options: PDEEvaluation, progress: bool = False, json_path: str | None = None
                   ) -> Report:
    """`nca eval pde`: the NCA on unseen conditions (or --data) against the PDE, with plots."""
    from ncaforge.data.trajectories import load_trajectories

    if options.threads:
        torch.set_num_threads(options.threads)
    every = recorded(nca, "every", "test data made with the model's frame spacing (--data)")
    horizon = recorded(nca, "horizon", "--data")
    count = min(options.test, options.limit) if options.limit else options.test
    if options.data:
        frames, _, _ = load_trajectories(list(options.data))
        test, large = torch.from_numpy(frames)[:options.limit], None
    else:
        grid = tuple(recorded(nca, "grid", "--data"))
        offset = 1000 * options.seed
        test = unseen_trajectories(nca, count, grid, 2 * horizon, offset)
        large = (unseen_trajectories(nca, count, (options.large, options.large), horizon,
                                     LARGE_SEED_OFFSET + offset) if options.large else None)
    figures, curves = evaluate_pde(nca, test, every, horizon, large)
    files = write_plots(curves, every, Path(options.plots)) if options.plots else []
    return Report(figures, figures, files=files)


def write_plots(curves: dict, every: int, out: Path) -> list[Path]:
    """frames.png (PDE above NCA, first test condition), error.png, spectra.png, large.png."""
    import imageio.v3 as iio

    from ncaforge.render.frames import field_image, tile
    from ncaforge.render.plots import plot_curves

    out.mkdir(parents=True, exist_ok=True)
    run, truth = curves["run"], curves["truth"]
    picks = np.linspace(0, len(run) - 1, 7).round().astype(int)
    rows = [field_image(f[i][0, 1]) for f in (truth, run) for i in picks]
    iio.imwrite(out / "frames.png", tile(rows, columns=len(picks), row_labels=["PDE", "NCA"],
                                          labels=[f"step {i * every}" for i in picks] * 2))
    steps = [int(s) for s in curves["steps"]]
    rings = list(range(len(curves["spectrum_pde_2x"])))
    paths = [out / "frames.png",
             plot_curves({"NCA": (steps, list(curves["mse"])), "initial frame carried forward":
                          (steps, list(curves["baseline_mse"]))}, out / "error.png", "step",
                         "MSE to the PDE", "Unseen initial conditions"),
             plot_curves({"PDE": (rings, list(curves["spectrum_pde_2x"])),
                          "NCA": (rings, list(curves["spectrum_nca_2x"]))},
                         out / "spectra.png", "wavenumber |k|", "power of B", "Radial spectra at 2x horizon")]
    if "run_large" in curves:
        iio.imwrite(out / "large.png", tile([field_image(curves["truth_large"][0, 1]),
                                             field_image(curves["run_large"][0, 1])], labels=["PDE", "NCA"]))
        paths.append(out / "large.png")
    return paths
