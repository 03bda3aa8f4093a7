"""Throughput of the NCA step, the reference against every fast path, measured in one process.

Forward speed is cell updates per second (B*H*W*steps / s); training speed is
iterations per second, one iteration being a rollout (for the growing NCA the mean
of U[64, 96), 80 steps), a backward pass and an Adam step. Every row of a table is
timed on the same model and state in the same process.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ncaforge.core.memory import keep_freed_memory
from ncaforge.core.nca import NCA
from ncaforge.data.targets import load_target
from ncaforge.families.classifier.model import build_classifier, digit_state
from ncaforge.families.growing.model import build_growing


@dataclass
class Row:
    path: str
    forward_cells_per_s: float
    train_iters_per_s: float


@dataclass
class Workload:
    """A model and a state to time it on; ``train_steps`` is the rollout of one training iteration."""

    name: str
    model: NCA
    state: torch.Tensor
    train_steps: int


def workload_model() -> NCA:
    """A growing model with a small random last layer: a rule that does something."""
    torch.manual_seed(0)
    nca = build_growing()
    with torch.no_grad():
        nca.update.net[-1].weight.normal_(0, 0.01)
    return nca


def grown_like_state(nca: NCA, batch: int, h: int, w: int) -> torch.Tensor:
    """The lizard's RGBA with random hidden channels, centred: a grown-size workload.

    The lizard covers the grid as it does in training (40 cells of 72), whatever the size.
    """
    target = load_target("lizard", size=max(1, round(min(h, w) * 40 / 72)), pad=0)
    x = torch.zeros(batch, nca.layout.channels, h, w)
    th, tw = target.shape[1:]
    oy, ox = (h - th) // 2, (w - tw) // 2
    x[:, :4, oy:oy + th, ox:ox + tw] = target
    alive = (target[3] > 0.1).float()
    x[:, 4:, oy:oy + th, ox:ox + tw] = torch.rand(batch, nca.layout.channels - 4, th, tw) * alive
    return x


def growing_workload(size: tuple[int, int] = (72, 72), batch: int = 8) -> Workload:
    """The growing lizard: 16 channels, Sobel perception, 128 hidden, lizard-sized pattern."""
    nca = workload_model()
    return Workload(f"growing NCA {size[0]}x{size[1]}, batch {batch}", nca,
                    grown_like_state(nca, batch, *size), 80)


def classifier_workload(size: tuple[int, int] = (28, 28), batch: int = 16) -> Workload:
    """The self-classifying MNIST model on a ring-shaped "0" covering a digit's share of the grid.

    About 18% of cells are digit pixels (an MNIST digit has ~19%); only those update.
    A training iteration is 20 steps, as in the original.
    """
    torch.manual_seed(0)
    nca = build_classifier()
    with torch.no_grad():
        nca.update.net[-1].weight.normal_(0, 0.01)
    h, w = size
    yy, xx = torch.meshgrid(torch.arange(h) - (h - 1) / 2, torch.arange(w) - (w - 1) / 2, indexing="ij")
    r = (yy**2 + xx**2).sqrt() / (min(h, w) / 28)
    ring = ((r >= 6) & (r <= 9)).float()
    state = digit_state(nca, ring.expand(batch, h, w) * (0.5 + 0.5 * torch.rand(batch, h, w)))
    return Workload(f"MNIST classifier {h}x{w}, batch {batch}", nca, state, 20)


def texture_workload(size: tuple[int, int] = (128, 128), batch: int = 4) -> Workload:
    """The texture NCA (12 channels, [id, sobel, lap] on a torus, 96 hidden) on noise: every cell alive.
    A training iteration is 64 steps, the mean of U[32, 96)."""
    from ncaforge.families.texture.model import build_texture

    torch.manual_seed(0)
    nca = build_texture()
    with torch.no_grad():
        nca.update.net[-1].weight.normal_(0, 0.01)
    return Workload(f"texture NCA {size[0]}x{size[1]}, batch {batch}", nca,
                    torch.rand(batch, 12, *size) - 0.5, 64)


def timed(fn: Callable[[], None], repeats: int) -> float:
    """Seconds per call, after one warm-up call."""
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def paths(nca: NCA, device: torch.device) -> list[str]:
    """The step implementations worth timing for this model on this device, reference first."""
    from ncaforge.core.rollout import IMPLEMENTATIONS

    def runs(e: object) -> bool:  # plain-torch (CPU) kernels run anywhere; device kernels only there
        return device.type in e.devices or "cpu" in e.devices

    return ["reference", *(e.name for e in IMPLEMENTATIONS.values()
                           if runs(e) and e.available() and e.supports(nca))]


def measure(workload: Workload, steps: int = 64, repeats: int = 3, compile_step: bool = False,
            checkpoint_every: int = 0) -> list[Row]:
    """Time every step implementation on the same workload; the first row is the reference.

    ``checkpoint_every`` > 0 trains every path with gradient checkpointing (large grids:
    the reference's activations for 80 steps of a 256x256 batch of 8 exceed 24 GB).
    """
    keep_freed_memory()  # as training does: every row under the same allocator
    nca, x0 = workload.model, workload.state
    opt = torch.optim.Adam(nca.parameters(), lr=1e-6)

    def sync() -> None:
        if x0.device.type == "cuda":
            torch.cuda.synchronize()

    def forward(impl: str) -> Callable[[], None]:
        def run() -> None:
            with torch.no_grad():
                nca.rollout(x0, steps, torch.Generator(x0.device).manual_seed(0), impl=impl)
            sync()
        return run

    def train(impl: str) -> Callable[[], None]:
        def run() -> None:
            opt.zero_grad()
            y = nca.rollout(x0, workload.train_steps, torch.Generator(x0.device).manual_seed(0), impl=impl,
                            checkpoint_every=checkpoint_every)
            y.pow(2).mean().backward()
            opt.step()
            sync()
        return run

    cells = x0.shape[0] * x0.shape[2] * x0.shape[3] * steps
    rows = [Row(impl, cells / timed(forward(impl), repeats), 1 / timed(train(impl), repeats))
            for impl in paths(nca, x0.device)]
    if compile_step:
        plain = nca.step
        nca.step = torch.compile(plain)
        try:
            rows.append(Row("reference+compile", cells / timed(forward("reference"), repeats),
                            1 / timed(train("reference"), repeats)))
        finally:
            nca.step = plain
    return rows


def default_row(rows: list[Row], nca: NCA, device: torch.device) -> Row:
    """The row of the implementation ``rollout(impl="auto")`` picks."""
    chosen = nca.resolve_impl("auto", device)
    return next(r for r in rows if r.path == chosen)


def cax_texture(python: str | Path, script: Path, size: int, batch: int, steps: int, threads: int) -> Row:
    """The CAX 0.4.4 texture row: ``script`` (benchmarks/cax_texture.py) run by ``python`` (the Python of
    its own environment; CAX and JAX are never dependencies of ncaforge)."""
    out = subprocess.run([str(python), str(script), "--size", str(size), "--batch", str(batch), "--steps",
                          str(steps), "--threads", str(threads), "--repeat", "2"],
                         capture_output=True, text=True, check=True)
    d = json.loads(out.stdout.strip().splitlines()[-1])
    return Row(d["impl"], d["forward_cell_updates_per_s"], d["train_iterations_per_s"])


def cax_peer(python: str | Path, script: str | Path, size: tuple[int, int], batch: int, steps: int) -> Row:
    """The CAX row: ``script`` (the repository's benchmarks/cax_peer.py) run by ``python``, the Python of
    an environment with CAX and JAX (never a dependency of ncaforge)."""
    if not script.exists():
        raise FileNotFoundError(f"the CAX peer needs a source checkout: {script} not found")
    out = subprocess.run([str(python), str(script), "--size", str(size[0]), str(size[1]),
                          "--batch", str(batch), "--steps", str(steps)],
                         capture_output=True, text=True, check=True)
    d = json.loads(out.stdout.strip().splitlines()[-1])
    return Row(d["path"], d["forward_cells_per_s"], d["train_iters_per_s"])


def table(rows: list[Row], header: str) -> str:
    """Rows side by side with their ratio to the first (the reference)."""
    ref = rows[0]
    lines = [header, f"{'path':<28}{'forward cells/s':>18}{'x ref':>8}{'train it/s':>13}{'x ref':>8}"]
    for r in rows:
        lines.append(f"{r.path:<28}{r.forward_cells_per_s:>18,.0f}"
                     f"{r.forward_cells_per_s / ref.forward_cells_per_s:>8.2f}"
                     f"{r.train_iters_per_s:>13.3f}{r.train_iters_per_s / ref.train_iters_per_s:>8.2f}")
    return "\n".join(lines)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_rss_bytes() -> int:
    """This process's resident high-water mark (VmHWM; unlike ru_maxrss it resets on exec)."""
    with open("/proc/self/status") as f:
        line = next(x for x in f if x.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def _peak_training_memory(size: tuple[int, int], batch: int, steps: int, checkpoint_every: int,
                          queue: mp.Queue) -> None:
    """In a fresh process: peak resident memory added by one training iteration, in bytes."""
    nca = workload_model()
    x0 = grown_like_state(nca, batch, *size)
    base = _rss_bytes()
    y = nca.rollout(x0, steps, torch.Generator().manual_seed(0), checkpoint_every=checkpoint_every)
    y[:, :4].pow(2).mean().backward()
    peak = _peak_rss_bytes()
    queue.put(max(peak - base, 0))


def training_memory(size: tuple[int, int] = (72, 72), batch: int = 8, steps: int = 96,
                    checkpoint_every: int = 0) -> int:
    """Peak memory (bytes) of one training iteration of the growing NCA, in a separate process.

    The child runs with glibc's mmap threshold pinned at 64 KiB, so that freed tensors
    go back to the system and its peak resident size follows live memory instead of
    allocator high-water marks.
    """
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    old = os.environ.get("MALLOC_MMAP_THRESHOLD_")
    os.environ["MALLOC_MMAP_THRESHOLD_"] = "65536"
    try:
        proc = ctx.Process(target=_peak_training_memory,
                           args=(size, batch, steps, checkpoint_every, queue))
        proc.start()
    finally:
        if old is None:
            del os.environ["MALLOC_MMAP_THRESHOLD_"]
        else:
            os.environ["MALLOC_MMAP_THRESHOLD_"] = old
    result = queue.get()
    proc.join()
    return int(result)
