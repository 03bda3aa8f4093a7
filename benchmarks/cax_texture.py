"""Time the texture NCA in CAX 0.4.4 (JAX + Flax NNX, jit-compiled) on the CPU.

What it measures, after a jit warm-up, best of ``--repeat`` timed calls each:

* forward: one rollout of ``--steps`` steps on a (batch, size, size, 12) state, reported as
  cell updates per second = batch * size * size * steps / seconds;
* training: one jitted iteration = a rollout of ``--steps`` steps, ``value_and_grad`` of the mean
  squared error between the RGB channels of the final state and a fixed random target, and an
  optax Adam step on the update rule's parameters, reported as iterations per second.

The model is ncaforge's texture NCA (``ncaforge.families.texture``) built from CAX's own modules,
the way CAX's texture example (examples/46_texture_nca.ipynb) builds it, with its differences
from ours removed:

* ``ConvPerceive`` (a depthwise 3x3 ``nnx.Conv``, ``feature_group_count=12``, ``padding="CIRCULAR"``,
  no bias) with the fixed bank [identity, sobel_x, sobel_y, laplacian] per channel, features
  interleaved per channel as ours (48 features). The kernels come from CAX's ``identity_kernel``,
  ``grad_kernel`` (sobel / 8, as ours) and ``grad2_kernel(neighborhood="moore")`` times 3 (CAX
  L1-normalises [[1, 2, 1], [2, -12, 2], [1, 2, 1]] to / 24; ours is / 8). The example's default
  von Neumann Laplacian and its trained perception are not ours: here the kernel stays fixed.
* ``ResidualUpdate`` (not ``NCAUpdate``, whose alive masking the texture NCA has not): 48 -> 96
  (ReLU) -> 12 as 1x1 convolutions, the last one zero-initialised and, unlike CAX's, without bias
  (the last layer is replaced by an ``nnx.Conv(..., use_bias=False)``); cell dropout at rate
  1 - fire rate = 0.5, broadcast over channels. ``nnx.Dropout`` scales what it keeps by
  1 / (1 - rate) = 2, so ``step_size`` is 0.5: a firing cell adds exactly its update, as ours.
* ``params`` counts the trained parameters (the update MLP: 48*96 + 96 + 96*12 = 5856, as ours);
  the fixed perception kernel (432 values, an ``nnx.Param`` in CAX) is not trained nor counted.

Threads: ``--threads N`` sets ``NPROC=N`` before jax is imported. jaxlib 0.12's CPU client sizes
its thread pools (tf_XLAEigen intra-op, tf_XLAExecute) from ``NPROC``; with NPROC=1 all work of
the timed calls ran on one thread (checked through /proc/self/task CPU ticks, which the script
prints to stderr). ``XLA_FLAGS="--xla_cpu_multi_thread_eigen=false"`` did not stop the Eigen pool
(two tf_XLAEigen threads still busy), a bare ``intra_op_parallelism_threads=1`` in XLA_FLAGS is
silently ignored and ``--intra_op_parallelism_threads=1`` aborts ("Unknown flag in XLA_FLAGS"),
so none of them is used. ``taskset -c 0`` (CPU affinity) also gives one thread.

The environment (its own, never ncaforge's; CAX 0.4.4 needs Python >= 3.12, the machine's
python3 is 3.11, pyenv has 3.12.1):

    /root/.pyenv/versions/3.12.1/bin/python3.12 -m venv .venv-cax
    .venv-cax/bin/pip install --upgrade pip
    .venv-cax/bin/pip install cax==0.4.4 "jax[cpu]"

which installed cax 0.4.4, jax 0.12.0.1, jaxlib 0.12.0.1, flax 0.12.12, optax 0.2.8, numpy 2.5.5.
Run:

    .venv-cax/bin/python benchmarks/cax_texture.py --size 128 --batch 4 --steps 64 --threads 1 --repeat 2

Prints one JSON line on stdout; all diagnostics go to stderr.

Training is slow here, about 3 s per NCA step at 4 x 128 x 128 with one thread (a 64-step iteration
took about 190 s, against 3 s for the 64-step forward), so keep ``--repeat`` small at that size.
Where the time goes (XLA dumps of the train step, jaxlib 0.12.0.1): inside the scan's loop body,
the weight gradients of the two 1x1 ``nnx.Conv`` layers stay convolutions in the layout
``f01b_i01o->01bf`` with a 128x128 window. The same gradient taken outside a loop is rewritten to
``b01f_01io->b01f`` and takes about 0.12 s. The perception kernel gets no gradient (no grouped
filter-gradient convolution appears in the HLO).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

CHANNELS, HIDDEN, FIRE_RATE = 12, 96, 0.5


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128, help="grid height and width (a torus)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=64, help="NCA steps per rollout")
    parser.add_argument("--threads", type=int, default=1, help="XLA CPU threads (sets NPROC)")
    parser.add_argument("--repeat", type=int, default=3, help="timed calls of each; the best is kept")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for name in ("size", "batch", "steps", "threads", "repeat"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def thread_ticks() -> dict[str, tuple[str, int]]:
    """CPU ticks (user + system) of each thread of this process, by thread id, with its name."""
    ticks = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        ticks[tid] = (name, int(fields[11]) + int(fields[12]))
    return ticks


def busy_threads(before: dict[str, tuple[str, int]], after: dict[str, tuple[str, int]]) -> list[str]:
    """Threads that used at least 5% of the CPU ticks between two ``thread_ticks`` snapshots."""
    used = {tid: (name, n - before.get(tid, (name, 0))[1]) for tid, (name, n) in after.items()}
    total = sum(n for _, n in used.values()) or 1
    return sorted(f"{name}:{n}" for name, n in used.values() if n >= 0.05 * total)


def main() -> None:
    args = parse_args()
    # Before jax is imported: the CPU client reads NPROC once, when it is created.
    os.environ["NPROC"] = str(args.threads)
    os.environ.setdefault("JAX_PLATFORMS", "cpu")

    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax
    from cax.core import ComplexSystem
    from cax.core.perceive import ConvPerceive, grad2_kernel, grad_kernel, identity_kernel
    from cax.core.update import ResidualUpdate
    from flax import nnx

    if jax.default_backend() != "cpu":
        raise SystemExit(f"expected the CPU backend, got {jax.default_backend()}")

    def filter_bank() -> jax.Array:
        """(3, 3, 4): identity, sobel_x, sobel_y, laplacian / 8, from CAX's kernel helpers."""
        grad = grad_kernel(num_dims=2)  # [..., 0]: d/d(row) = sobel_y, [..., 1]: d/d(col) = sobel_x
        lap = 3.0 * grad2_kernel(num_dims=2, neighborhood="moore")  # CAX's / 24 -> ours / 8
        bank = jnp.concatenate([identity_kernel(num_dims=2), grad[..., 1:2], grad[..., 0:1], lap], -1)
        sobel_x = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8.0
        identity = np.zeros((3, 3))
        identity[1, 1] = 1.0
        laplacian = np.array([[1.0, 2.0, 1.0], [2.0, -12.0, 2.0], [1.0, 2.0, 1.0]]) / 8.0
        ours = np.stack([identity, sobel_x, sobel_x.T, laplacian], -1)
        if not np.allclose(np.asarray(bank), ours, atol=1e-6):
            raise SystemExit("CAX's kernels do not give ncaforge's texture filter bank")
        return bank

    class TextureNCA(ComplexSystem):
        """ncaforge's texture NCA from CAX modules: fixed perception on a torus, residual MLP update."""

        def __init__(self, *, rngs: nnx.Rngs) -> None:
            features = 4 * CHANNELS
            self.perceive = ConvPerceive(channel_size=CHANNELS, perception_size=features,
                                         feature_group_count=CHANNELS, padding="CIRCULAR", rngs=rngs)
            # (3, 3, 1, 48): output feature 4c + f is filter f of channel c, as ours.
            kernel = jnp.tile(filter_bank(), (1, 1, CHANNELS))[:, :, None, :]
            self.perceive.conv.kernel[...] = kernel
            self.update = ResidualUpdate(num_spatial_dims=2, channel_size=CHANNELS, perception_size=features,
                                         hidden_layer_sizes=(HIDDEN,), cell_dropout_rate=1.0 - FIRE_RATE,
                                         step_size=FIRE_RATE, zeros_init=True, rngs=rngs)
            self.update.layers[-1] = nnx.Conv(HIDDEN, CHANNELS, kernel_size=(1, 1), use_bias=False,
                                              kernel_init=nnx.initializers.zeros_init(), rngs=rngs)

        def _step(self, state: jax.Array, input: jax.Array | None = None) -> jax.Array:
            return self.update(state, self.perceive(state), input)

    def count(tree: Any) -> int:
        return sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(tree))

    b, s, steps = args.batch, args.size, args.steps
    model = TextureNCA(rngs=nnx.Rngs(args.seed))
    trained = nnx.All(nnx.Param, nnx.PathContains("update"))
    params = count(nnx.state(model, trained))
    log(f"cax {version('cax')}, jax {jax.__version__}, flax {version('flax')}, optax {version('optax')}; "
        f"devices {jax.devices()}; NPROC={os.environ['NPROC']}; "
        f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}")
    log(f"parameters: {params} trained (update MLP), {count(nnx.state(model, nnx.Param))} "
        "with the fixed perception kernel")

    key_state, key_target = jax.random.split(jax.random.key(args.seed))
    x0 = jax.random.uniform(key_state, (b, s, s, CHANNELS), minval=-0.5, maxval=0.5)
    target = jax.random.uniform(key_target, (b, s, s, 3), minval=-0.5, maxval=0.5)
    optimizer = nnx.Optimizer(model, optax.adam(1e-3), wrt=trained)

    @nnx.jit
    def train_step(model: TextureNCA, optimizer: nnx.Optimizer, x0: jax.Array,
                   target: jax.Array) -> jax.Array:
        def loss_fn(m: TextureNCA) -> jax.Array:
            return jnp.mean((m(x0, num_steps=steps)[..., :3] - target) ** 2)

        loss, grads = nnx.value_and_grad(loss_fn, argnums=nnx.DiffState(0, trained))(model)
        optimizer.update(model, grads)
        return loss

    train = nnx.cached_partial(train_step, model, optimizer)

    def best_of(fn: Callable[[], jax.Array], what: str) -> float:
        start = time.perf_counter()
        jax.block_until_ready(fn())
        log(f"{what}: warm-up (compile + 1 call) {time.perf_counter() - start:.2f} s")
        times, before = [], thread_ticks()
        for _ in range(args.repeat):
            start = time.perf_counter()
            jax.block_until_ready(fn())
            times.append(time.perf_counter() - start)
        log(f"{what}: {', '.join(f'{t:.3f}' for t in times)} s; busy threads (name:ticks) "
            f"{busy_threads(before, thread_ticks())}")
        return min(times)

    forward = best_of(lambda: model(x0, num_steps=steps), "forward")
    iteration = best_of(lambda: train(x0, target), "train")
    print(json.dumps({
        "impl": f"cax {version('cax')} (jax {jax.__version__}, cpu)",
        "forward_cell_updates_per_s": b * s * s * steps / forward,
        "train_iterations_per_s": 1.0 / iteration,
        "size": s, "batch": b, "steps": steps, "threads": args.threads, "params": params,
    }))


if __name__ == "__main__":
    main()
