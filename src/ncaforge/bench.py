"""Throughput of the NCA step, reference against fast paths, measured in one process.

Forward speed is cell updates per second (B*H*W*steps / s); training speed is
iterations per second, one iteration being a rollout of U[64, 96) steps (fixed
here to their mean, 80), a backward pass and an Adam step, as in Growing NCA.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ncaforge.core.nca import NCA
from ncaforge.data.targets import load_target
from ncaforge.models.growing import build_growing


@dataclass
class Row:
    path: str
    forward_cells_per_s: float
    train_iters_per_s: float


def workload_model() -> NCA:
    """A growing model with a small random last layer: a rule that does something."""
    torch.manual_seed(0)
    nca = build_growing()
    with torch.no_grad():
        nca.update.net[-1].weight.normal_(0, 0.01)
    return nca


def grown_like_state(nca: NCA, batch: int, h: int, w: int) -> torch.Tensor:
    """The lizard's RGBA with random hidden channels, centred: a grown-size workload."""
    target = load_target("lizard")
    x = torch.zeros(batch, nca.layout.channels, h, w)
    th, tw = min(target.shape[1], h), min(target.shape[2], w)
    cy, cx = (target.shape[1] - th) // 2, (target.shape[2] - tw) // 2
    target = target[:, cy:cy + th, cx:cx + tw]  # centre crop on grids smaller than 72x72
    oy, ox = (h - th) // 2, (w - tw) // 2
    x[:, :4, oy:oy + th, ox:ox + tw] = target
    alive = (target[3] > 0.1).float()
    x[:, 4:, oy:oy + th, ox:ox + tw] = torch.rand(batch, nca.layout.channels - 4, th, tw) * alive
    return x


def timed(fn: Callable[[], None], repeats: int) -> float:
    """Seconds per call, after one warm-up call."""
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def measure(size: tuple[int, int] = (72, 72), batch: int = 8, steps: int = 64,
            train_steps: int = 80, repeats: int = 3, compile_step: bool = False) -> list[Row]:
    """Time every step implementation of the growing NCA on the same workload."""
    h, w = size
    nca = workload_model()
    x0 = grown_like_state(nca, batch, h, w)
    opt = torch.optim.Adam(nca.parameters(), lr=1e-6)

    def forward(impl: str) -> Callable[[], None]:
        def run() -> None:
            with torch.no_grad():
                nca.rollout(x0, steps, torch.Generator().manual_seed(0), impl=impl)
        return run

    def train(impl: str) -> Callable[[], None]:
        def run() -> None:
            opt.zero_grad()
            y = nca.rollout(x0, train_steps, torch.Generator().manual_seed(0), impl=impl)
            y[:, :4].pow(2).mean().backward()
            opt.step()
        return run

    cells = batch * h * w * steps
    rows = []
    for impl in ("reference", "active"):
        rows.append(Row(impl, cells / timed(forward(impl), repeats), 1 / timed(train(impl), repeats)))
    if compile_step:
        plain = nca.step
        nca.step = torch.compile(plain)
        rows.append(Row("reference+compile", cells / timed(forward("reference"), repeats),
                        1 / timed(train("reference"), repeats)))
        nca.step = plain
    return rows


def table(rows: list[Row], header: str) -> str:
    """Rows side by side with their ratio to the first (the reference)."""
    ref = rows[0]
    lines = [header, f"{'path':<20}{'forward cells/s':>18}{'x ref':>8}{'train it/s':>13}{'x ref':>8}"]
    for r in rows:
        lines.append(f"{r.path:<20}{r.forward_cells_per_s:>18,.0f}"
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
    """Peak memory (bytes) of one training iteration, measured in a separate process.

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
