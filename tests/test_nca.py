import torch

from conftest import CPU_PATHS, assert_paths_agree, random_growing
from ncaforge.families.growing.model import build_growing
from ncaforge.kernels.active_cells import ActiveCellStepper


def test_parameter_count_matches_the_reference():
    assert sum(p.numel() for p in build_growing().parameters()) == 8336


def test_untrained_model_step_is_the_identity():
    nca = build_growing()
    x = nca.seed(2, 16, 16)
    assert torch.equal(nca.step(x), x)
    assert torch.equal(nca.rollout(x, 5), x)


def test_step_applies_fire_then_pre_and_post_alive_masks():
    nca = build_growing()
    nca.fire_rate = 1.0
    with torch.no_grad():
        nca.update.net[-1].bias[3] = 1.0  # every cell's alpha grows by 1
    x = nca.seed(1, 9, 9)
    y = nca.step(x)
    alive = torch.zeros(9, 9, dtype=torch.bool)
    alive[3:6, 3:6] = True  # pre-alive: the seed's neighbourhood only
    assert torch.equal(y[0, 3] != 0, alive)
    assert y[0, 3, 4, 4] == 2.0 and y[0, 3, 3, 3] == 1.0


def test_unfired_cells_do_not_change():
    nca = random_growing()
    x = torch.rand(1, 16, 8, 8)
    assert torch.allclose(nca.step(x, fire=torch.zeros(1, 1, 8, 8)), x * nca.alive(x))


def _state(b=3, h=20, w=24):
    x = torch.zeros(b, 16, h, w)
    x[:, :, 5:14, 6:17] = torch.rand(b, 16, 9, 11)
    return x


def test_active_cell_path_equals_the_reference_step():
    for padding in ("zeros", "circular"):
        nca = random_growing(scale=0.2)
        nca.perception.padding = padding
        x, fire = _state(), (torch.rand(3, 1, 20, 24) < 0.5).float()
        ref = nca.step(x, fire)
        fast = ActiveCellStepper(nca).step(x.permute(0, 2, 3, 1), fire[:, 0]).permute(0, 3, 1, 2)
        assert torch.allclose(fast, ref, atol=1e-6), padding


def test_rollouts_and_gradients_agree_across_implementations():
    nca = random_growing(scale=0.1)
    x = _state()
    results = {}
    for impl in ("reference", *CPU_PATHS):
        nca.zero_grad()
        y = nca.rollout(x, 12, torch.Generator().manual_seed(3), impl=impl)
        y[:, :4].pow(2).mean().backward()
        results[impl] = (y.detach(), [p.grad.clone() for p in nca.parameters()])
    assert_paths_agree(results)


def test_checkpointed_rollout_gives_the_same_result_and_gradients():
    nca = random_growing(scale=0.1)
    x = _state()
    outs = []
    for every in (0, 4, 3):  # 3: ten steps > 3*3 nest blocks of 3 in segments of 9
        nca.zero_grad()
        y = nca.rollout(x, 10, torch.Generator().manual_seed(5), checkpoint_every=every)
        y.pow(2).mean().backward()
        outs.append((y.detach(), nca.update.net[0].weight.grad.clone()))
    for y, grad in outs[1:]:
        assert torch.allclose(outs[0][0], y, atol=1e-6)
        assert torch.allclose(outs[0][1], grad, rtol=1e-5, atol=1e-7)


def test_split_rollouts_continue_the_same_random_stream():
    nca = random_growing(scale=0.1)
    x = _state()
    g = torch.Generator().manual_seed(2)
    once = nca.rollout(x, 6, torch.Generator().manual_seed(2))
    twice = nca.rollout(nca.rollout(x, 4, g), 2, g)
    assert torch.allclose(once, twice, atol=1e-6)


def test_trajectory_holds_every_state():
    nca = random_growing()
    x = nca.seed(2, 12, 12)
    y, traj = nca.rollout(x, 6, torch.Generator().manual_seed(0), trajectory=True)
    assert traj.shape == (7, 2, 16, 12, 12)
    assert torch.equal(traj[0], x) and torch.equal(traj[-1], y)


def test_a_dead_grid_stays_dead_in_every_implementation():
    nca = random_growing(scale=0.2)
    x = torch.zeros(2, 16, 8, 8)
    for impl in ("reference", *CPU_PATHS):
        assert torch.equal(nca.rollout(x, 3, impl=impl), x)
