"""The logic family (DiffLogic CA): gates, wiring, circuits, the bit-parallel runner, training, commands."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch

from ncaforge.families.logic.bitwise import BitParallelCA, circuit_json, compiled_gates, pack, unpack
from ncaforge.families.logic.gates import FUNCTIONS, GateLayer, GateNetwork, wiring
from ncaforge.families.logic.life import configurations, life_step
from ncaforge.families.logic.model import LogicConfig, active_gates, build_logic, gate_count, next_states

TRUTH = {  # f(a, b) for (a, b) = (0, 0), (0, 1), (1, 0), (1, 1)
    "false": (0, 0, 0, 0), "and": (0, 0, 0, 1), "a_and_not_b": (0, 0, 1, 0), "a": (0, 0, 1, 1),
    "not_a_and_b": (0, 1, 0, 0), "b": (0, 1, 0, 1), "xor": (0, 1, 1, 0), "or": (0, 1, 1, 1),
    "nor": (1, 0, 0, 0), "xnor": (1, 0, 0, 1), "not_b": (1, 0, 1, 0), "a_or_not_b": (1, 0, 1, 1),
    "not_a": (1, 1, 0, 0), "not_a_or_b": (1, 1, 0, 1), "nand": (1, 1, 1, 0), "true": (1, 1, 1, 1),
}
PAIRS = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])


def layer_of(functions: list[str]) -> GateLayer:
    """A layer of gates reading inputs (0, 1), with the given functions."""
    layer = GateLayer(torch.tensor([[0] * len(functions), [1] * len(functions)]))
    with torch.no_grad():
        layer.logits.zero_()
        for g, name in enumerate(functions):
            layer.logits[g, FUNCTIONS.index(name)] = 30.0
    return layer


def test_hard_gates_are_the_16_boolean_functions_and_relaxed_ones_agree_on_bits():
    layer = layer_of(list(FUNCTIONS))
    hard = layer.eval()(PAIRS)
    soft = layer.train()(PAIRS)
    for g, name in enumerate(FUNCTIONS):
        assert hard[:, g].tolist() == list(TRUTH[name]), name
    assert torch.allclose(soft, hard, atol=1e-6)  # a confident relaxation is the function on 0/1
    mixed = GateLayer(torch.tensor([[0], [1]]), pass_through=0.0).train()(PAIRS)  # uniform over 16: 1/2
    assert torch.allclose(mixed, torch.full_like(mixed, 0.5))


def test_untrained_gates_lean_to_pass_through():
    layer = GateLayer(torch.tensor([[0], [1]]), pass_through=3.0)
    p = torch.softmax(layer.logits, 1)[0]
    assert p.argmax() == FUNCTIONS.index("a") and p.max() > 0.5
    assert layer.eval()(PAIRS)[:, 0].tolist() == [0, 0, 1, 1]


def test_wiring_reads_every_input_and_keeps_blocks_apart():
    index = wiring(3, 9, 8, torch.Generator().manual_seed(0))
    assert index.shape == (2, 24)
    for block in range(3):
        mine = index[:, block * 8:(block + 1) * 8]
        assert set(mine.flatten().tolist()) == set(range(block * 9, block * 9 + 9))  # all 9, only its own
        assert (mine[0] != mine[1]).all()
    with pytest.raises(ValueError, match="multiples of the 2 blocks"):
        GateNetwork(9, (8, 3), torch.Generator(), blocks=2)


def test_active_gates_follow_what_the_outputs_read():
    net = GateNetwork(4, (4, 2, 1), torch.Generator().manual_seed(0), pass_through=30.0)
    assert net.active_gates() == 0  # all pass-through
    with torch.no_grad():
        last = net.layers[-1]
        last.logits.zero_()
        last.logits[0, FUNCTIONS.index("xor")] = 30.0  # reads both gates of layer 1
    masks, read = net.dependencies()
    assert net.active_gates() == 1 and masks[1].all() and masks[0].sum() == 2 and read.sum() == 2
    with torch.no_grad():
        last.logits[0, FUNCTIONS.index("true")] = 60.0  # a constant reads nothing
    assert net.active_gates() == 1 and not net.dependencies()[1].any()


def test_life_reference_and_configurations():
    x, target = configurations()
    assert x.shape == (512, 1, 3, 3) and int(target.sum()) == 140  # 140 of 512 neighbourhoods live on
    blinker = np.zeros((5, 5), bool)
    blinker[2, 1:4] = True
    assert np.array_equal(life_step(life_step(blinker)), blinker)
    assert np.array_equal(life_step(blinker), blinker.T)


def random_rule(channels: int, seed: int) -> torch.nn.Module:
    nca = build_logic(LogicConfig(channels=channels, kernels=4, update_layers=(64, 32, 16, 8),
                                  pass_through=0.0, wiring_seed=seed))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in nca.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 3)
    return nca.eval()


@pytest.mark.parametrize("channels", [1, 3])
def test_the_bit_parallel_runner_is_the_hard_circuit(channels):
    mixed = 0
    for seed in range(6):
        nca = random_rule(channels, seed)
        runners = [BitParallelCA(nca), BitParallelCA(nca, native=False)]  # C++ where it builds; numpy
        for k in range(3):  # fresh random grids: random circuits soon settle to a constant
            g = torch.Generator().manual_seed(10 * seed + k)
            grid = torch.rand(1, channels, 12, 128, generator=g) < 0.5
            with torch.no_grad():
                want = nca.step(grid.float(), torch.ones(1, 1, 12, 128, dtype=torch.bool))
            for runner in runners:
                assert np.array_equal(runner.run(grid[0].numpy(), 1), want[0].bool().numpy())
            mixed += bool(0.05 < want.mean() < 0.95)
    assert mixed >= 3  # the rules compared compute something
    assert compiled_gates() is not None or shutil.which("c++") is None  # the C++ runner was tested here
    assert np.array_equal(unpack(pack(grid[0].numpy())), grid[0].numpy())
    with pytest.raises(ValueError, match="multiple of 64"):
        pack(np.zeros((1, 4, 100), bool))


@pytest.mark.parametrize("channels", [1, 3])
def test_next_states_are_a_steps_centre_cells(channels):
    nca = random_rule(channels, 1)
    x = (torch.rand(64, channels, 3, 3, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    fire = torch.ones(64, 1, 3, 3, dtype=torch.bool)
    for mode in (nca.eval(), nca.train()):  # hard and relaxed
        with torch.no_grad():
            centre = mode.step(x, fire)[:, :, 1, 1]
            # a 3x3 torus: the centre's neighbourhood is the grid, neighbour-major, channels last
            assert torch.allclose(next_states(mode, x.permute(0, 2, 3, 1).flatten(1)), centre)


def test_checkerboard_noise_is_drawn_in_training_only():
    from ncaforge.families.logic.objective import CheckerboardObjective
    from ncaforge.families.logic.task import LogicTask

    nca = build_logic(LogicConfig(channels=2, kernels=2, update_layers=(8,)))
    losses = []
    for noise in (0.0, 0.0, 0.1):
        objective = CheckerboardObjective(nca, LogicTask(task="checkerboard", grid=(8, 8), steps=(3, 4),
                                                         noise=noise), batch=1)
        losses.append(objective.loss(torch.Generator().manual_seed(0))[0].item())
        assert nca.noise == 0.0  # the model that is saved and evaluated runs without it
    assert losses[0] == losses[1] != losses[2]


def test_states_are_read_as_bits_clipped_to_0_1_with_gradients_passed_straight():
    from ncaforge.families.logic.gates import as_bits

    x = torch.tensor([-0.5, 0.25, 1.5, 0.0, 1.0], requires_grad=True)
    y = as_bits(x)
    y.sum().backward()
    assert y.tolist() == [0.0, 0.25, 1.0, 0.0, 1.0] and x.grad.tolist() == [1.0] * 5
    nca = build_logic(LogicConfig(channels=2, kernels=2, update_layers=(8,)))
    nca.noise = 0.5  # a noisy cell's next state is the circuit's, read from clipped bits, plus one draw
    x = torch.full((1, 2, 4, 4), 5.0)
    assert nca(x, 1, torch.Generator().manual_seed(0)).abs().max() < 1 + 0.5 * 6
    nca = build_logic(LogicConfig(channels=2, kernels=2, update_layers=(8,), clip_bits=False))
    assert nca(x, 1, torch.Generator().manual_seed(0)).abs().max() > 4  # read as they are

def test_the_circuit_exports_as_json_with_its_counts():
    nca = random_rule(1, 0)
    doc = json.loads(json.dumps(circuit_json(nca)))
    layers = doc["perception"]["layers"] + doc["update"]["layers"]
    assert sum(map(len, layers)) == doc["gates"] == gate_count(nca)
    assert doc["active_gates"] == active_gates(nca) > 0
    assert {g["op"] for layer in layers for g in layer} <= set(FUNCTIONS)


def test_training_on_life_raises_the_hard_accuracy():
    import ncaforge as nf
    from ncaforge.families.logic.evaluate import hard_accuracy

    small = {"kernels": 8, "update_layers": (64, 32, 16, 8, 4, 2)}
    before = hard_accuracy(nf.build("logic", **small))
    model = nf.train("logic", iterations=200, lr=0.1, progress=False, **small)
    assert hard_accuracy(model) > max(372 / 512 + 0.03, before + 0.2)  # beyond "all die" (372 of 512)


def test_life_needs_one_channel_and_eval_a_word_multiple(tmp_path):
    import ncaforge as nf

    with pytest.raises(ValueError, match="Game of Life has one channel"):
        nf.train("logic", iterations=1, progress=False, channels=2)
    model = nf.build("logic")
    with pytest.raises(ValueError, match="multiple of 64"):
        nf.evaluate(model, size=100)
    with pytest.raises(ValueError, match="Game of Life has one channel"):
        nf.evaluate(nf.build("logic", channels=2))
    with pytest.raises(TypeError, match="no option task"):
        nf.build("logic", task="life")


def test_checkerboard_trains_and_evaluates_on_a_larger_grid(tmp_path):
    import ncaforge as nf
    from ncaforge.families.logic.task import LogicTask, checkerboard

    board = checkerboard(LogicTask(grid=(8, 8), square=2))
    assert board[4, 4] == 1 and board[4, 6] == 0 and board[6, 6] == 1 and board.mean() == 0.5
    model = nf.train("logic", iterations=3, progress=False, task=LogicTask(task="checkerboard", grid=(8, 8),
                     steps=(4, 5), batch=2), channels=4, kernels=2, update_layers=(16, 8))
    figures = nf.evaluate(model, scale=2)
    assert figures["large_grid"] == [16, 16] and figures["large_steps"] == 8
    assert 0.0 <= figures["large_accuracy"] <= 1.0 and math.isfinite(figures["hard_loss"])
    # a rule that clears every cell: its figures are those of an empty grid, however cells fire
    clearer = nf.build("logic", channels=2, kernels=2, update_layers=(8,))
    clearer.task = LogicTask(task="checkerboard", grid=(8, 8), steps=(4, 5))
    with torch.no_grad():
        clearer.update.circuit.layers[-1].logits[:, FUNCTIONS.index("false")] = 30.0
    cleared = nf.evaluate(clearer, until=12)
    assert cleared["accuracy"] == cleared["healed_accuracy"] == cleared["async_accuracy"] == 0.5
    assert cleared["large_first_exact"] is None and cleared["large_exact_steps"] == 0


def test_straight_through_gates_compute_hard_and_learn_through_the_relaxation():
    layer = GateLayer(torch.tensor([[0, 0], [1, 1]]), pass_through=1.0)
    with torch.no_grad():
        layer.logits[1, FUNCTIONS.index("xor")] = 1.5  # a gate that leans to xor, not confidently
    layer.straight_through = True
    out = layer.train()(PAIRS)
    assert torch.equal(out, layer.eval()(PAIRS))  # forward: the hard circuit exactly
    layer.train()(PAIRS).sum().backward()
    assert layer.logits.grad.abs().sum() > 0  # backward: the relaxation's gradients
    nca = build_logic(LogicConfig(straight_through=True, update_layers=(8, 4)))
    assert all(g.straight_through for g in nca.modules() if isinstance(g, GateLayer))


def test_train_init_starts_from_a_checkpoints_weights_and_refuses_other_shapes(tmp_path):
    from click.testing import CliRunner

    from ncaforge import zoo
    from ncaforge.cli import main

    small = ["--kernels", "2", "--update-layers", "8,4,2", "--iterations", "2"]
    first = CliRunner().invoke(main, ["train", "logic", *small, "--out", str(tmp_path / "a")])
    assert first.exit_code == 0, first.output
    init = ["--init", str(tmp_path / "a" / "checkpoint")]
    tuned = CliRunner().invoke(main, ["train", "logic", *small[:-1], "1", "--lr", "1e-9",
                                      "--straight-through", *init, "--out", str(tmp_path / "b")])
    assert tuned.exit_code == 0, tuned.output
    a, b = zoo.load(str(tmp_path / "a" / "checkpoint")), zoo.load(str(tmp_path / "b" / "checkpoint"))
    assert all(torch.allclose(p, q, atol=1e-6) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert b.config.straight_through and b.provenance["init"] == str(tmp_path / "a" / "checkpoint")
    assert b.provenance["init_provenance"]["command"] == a.provenance["command"]  # the chain is kept
    assert "--update-layers 8,4,2 " in a.provenance["command"]  # the recorded command runs again as it is
    bad = CliRunner().invoke(main, ["train", "logic", "--kernels", "3", "--iterations", "1", *init,
                                    "--out", str(tmp_path / "c")])
    assert bad.exit_code != 0 and "do not fit this model" in bad.output


@pytest.mark.zoo
def test_the_zoo_life_circuit_is_game_of_life():
    import ncaforge as nf
    from ncaforge.families.logic.evaluate import hard_accuracy, life_exact_steps

    model = nf.load("logic-life")
    assert hard_accuracy(model) == 1.0
    assert life_exact_steps(model, 64, 100, seed=3) == 100


@pytest.mark.zoo
def test_the_zoo_checkerboard_grows_exactly():
    import ncaforge as nf

    figures = nf.evaluate(nf.load("logic-checkerboard"), scale=2)
    assert figures["hard_loss"] == 0.0 and figures["accuracy"] == 1.0
    assert figures["healed_accuracy"] == 1.0


@pytest.mark.zoo
def test_the_zoo_asynchronous_checkerboard_grows_and_heals_whatever_order_its_cells_fire_in():
    import ncaforge as nf

    figures = nf.evaluate(nf.load("logic-async-checkerboard"), scale=1, runs=16, seed=3)
    assert figures["runs"] == 16 and figures["exact_runs"] >= 14 / 16
    assert figures["healed_exact_runs"] >= 14 / 16
    assert nf.evaluate(nf.load("logic-checkerboard"), scale=1, fire_rate=0.6)["async_exact_runs"] == 0.0
