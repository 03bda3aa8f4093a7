import torch

from ncaforge.interventions.damage import disc_mask, random_disc_damage


def test_disc_mask_hand_values():
    m = disc_mask(5, 5, torch.tensor([[0.0, 0.0]]), torch.tensor([0.6]))[0, 0]
    # grid points at -1, -0.5, 0, 0.5, 1: the centre and its 4 neighbours at distance 0.5
    expected = torch.zeros(5, 5, dtype=torch.bool)
    expected[2, 1:4] = True
    expected[1:4, 2] = True
    assert torch.equal(m, expected)


def test_random_damage_only_removes():
    x = torch.ones(4, 16, 32, 32)
    y = random_disc_damage(x, torch.Generator().manual_seed(0))
    holes = (y == 0).all(1)
    assert ((y == 0) | (y == 1)).all()
    frac = holes.float().mean((1, 2))
    assert (frac > 0).all() and (frac < 0.15).all()  # radius <= 0.4 of the half-width
