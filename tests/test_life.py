import torch

from ncaforge.core.layout import Layout
from ncaforge.core.life import alive_mask, fire_mask
from ncaforge.core.seeds import single_seed


def test_alive_is_any_neighbour_above_threshold():
    x = torch.zeros(1, 4, 5, 5)
    x[0, 3, 0, 0] = 0.5  # corner cell alive
    x[0, 3, 4, 4] = 0.1  # exactly at threshold: not alive
    m = alive_mask(x, alpha=3)
    expected = torch.zeros(5, 5, dtype=torch.bool)
    expected[:2, :2] = True
    assert m.shape == (1, 1, 5, 5)
    assert torch.equal(m[0, 0], expected)


def test_alive_wraps_when_circular():
    x = torch.zeros(1, 4, 5, 5)
    x[0, 3, 0, 0] = 1.0
    m = alive_mask(x, alpha=3, circular=True)[0, 0]
    assert m[4, 4] and m[0, 4] and m[4, 0]
    assert not m[2, 2]


def test_fire_rate_statistics_and_shape():
    g = torch.Generator().manual_seed(1)
    f = fire_mask((8, 100, 100), 0.5, generator=g)
    assert f.shape == (8, 1, 100, 100) and f.dtype == torch.bool
    assert abs(f.float().mean().item() - 0.5) < 0.01  # 80k cells: std of the mean is 0.0018
    assert abs(fire_mask((8, 100, 100), 0.25, generator=g).float().mean().item() - 0.25) < 0.01
    assert fire_mask((1, 3, 3), 1.0).all()


def test_seed_is_one_cell_with_alpha_and_hidden_set():
    x = single_seed(Layout(16), 2, 7, 8)
    assert x.sum() == 2 * 13
    assert torch.equal(x[:, 3:, 3, 4], torch.ones(2, 13))
    assert torch.equal(x[:, :3, 3, 4], torch.zeros(2, 3))
