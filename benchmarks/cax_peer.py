"""The peer row: the same growing NCA in CAX (JAX + Flax NNX, jit-compiled), timed on CPU.

Runs in its own environment, never ncaforge's (`make bench-env` makes .venv-bench):

    .venv-bench/bin/python benchmarks/cax_peer.py --size 72 72 --batch 8 --steps 64

Prints one JSON object: forward_cells_per_s and train_iters_per_s, measured like
ncaforge's rows (forward: B*H*W*steps per second; training: one 80-step rollout,
backward and Adam step per iteration, gradients of the update rule only).
"""

from __future__ import annotations

import argparse
import json
import time
from importlib.metadata import version

import jax
import jax.numpy as jnp
import optax
from cax.core import ComplexSystem
from cax.core.perceive import ConvPerceive
from cax.core.update import NCAUpdate
from flax import nnx

CHANNELS, HIDDEN = 16, 128


class GrowingNCA(ComplexSystem):
    """Depthwise identity + Sobel perception, 48 -> 128 -> 16 MLP, fire rate 0.5, alive masking."""

    def __init__(self, rngs: nnx.Rngs) -> None:
        self.perceive = ConvPerceive(CHANNELS, 3 * CHANNELS, feature_group_count=CHANNELS, rngs=rngs)
        sobel = jnp.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8
        ident = jnp.zeros((3, 3)).at[1, 1].set(1.0)
        bank = jnp.stack([ident, sobel, sobel.T], axis=-1)  # (3, 3, 3)
        self.perceive.conv.kernel[...] = jnp.tile(bank, (1, 1, CHANNELS))[:, :, None, :]
        self.update = NCAUpdate(CHANNELS, 3 * CHANNELS, (HIDDEN,), cell_dropout_rate=0.5,
                                zeros_init=True, rngs=rngs)
        last = self.update.layers[-1]
        last.kernel[...] = 0.01 * jax.random.normal(jax.random.key(1), last.kernel.shape)

    def _step(self, state, input=None, *, sow=False):
        return self.update(state, self.perceive(state), input)


def grown_state(batch: int, h: int, w: int) -> jax.Array:
    """A disc of living cells with random contents: the same kind of workload as ncaforge's."""
    yy, xx = jnp.mgrid[:h, :w]
    disc = ((yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (min(h, w) * 0.3) ** 2).astype(jnp.float32)
    x = jax.random.uniform(jax.random.key(0), (batch, h, w, CHANNELS)) * disc[None, :, :, None]
    return x


def timed(fn, repeats: int) -> float:
    jax.block_until_ready(fn())
    start = time.perf_counter()
    for _ in range(repeats):
        jax.block_until_ready(fn())
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", nargs=2, type=int, default=(72, 72))
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--train-steps", type=int, default=80)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-repeats", type=int, default=1,
                        help="timed training iterations (slow in XLA on CPU: about 1 s per step)")
    args = parser.parse_args()
    (h, w), b = args.size, args.batch
    model = GrowingNCA(nnx.Rngs(0, dropout=0))
    x0 = grown_state(b, h, w)
    update_params = nnx.All(nnx.Param, nnx.PathContains("update"))
    optimizer = nnx.Optimizer(model, optax.adam(1e-6), wrt=update_params)

    def forward() -> jax.Array:
        return model(x0, num_steps=args.steps)

    @nnx.jit
    def train_step(model: GrowingNCA, optimizer: nnx.Optimizer) -> jax.Array:
        def loss_fn(m: GrowingNCA) -> jax.Array:
            return jnp.mean(m(x0, num_steps=args.train_steps)[..., :4] ** 2)

        loss, grads = nnx.value_and_grad(loss_fn, argnums=nnx.DiffState(0, update_params))(model)
        optimizer.update(model, grads)
        return loss

    fwd = timed(forward, args.repeats)
    train = timed(nnx.cached_partial(train_step, model, optimizer), args.train_repeats)
    print(json.dumps({"path": f"CAX {version('cax')} (JAX {jax.__version__})",
                      "forward_cells_per_s": b * h * w * args.steps / fwd,
                      "train_iters_per_s": 1 / train}))


if __name__ == "__main__":
    main()
