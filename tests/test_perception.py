import math

import pytest
import torch

from ncaforge.core.perception import FILTERS, FixedPerception, LearnedPerception, filter_bank


def test_sobel_values_are_the_reference_ones():
    sx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8
    assert torch.equal(FILTERS["sobel_x"], sx)
    assert torch.equal(FILTERS["sobel_y"], sx.T)


def test_features_are_interleaved_per_channel_and_match_hand_values():
    # channel 1 is a horizontal ramp x = column index; channel 0 a vertical ramp
    h, w = 5, 6
    x = torch.zeros(1, 2, h, w)
    x[0, 0] = torch.arange(h, dtype=torch.float32)[:, None]
    x[0, 1] = torch.arange(w, dtype=torch.float32)[None, :]
    y = FixedPerception(2)(x)
    assert y.shape == (1, 6, h, w)
    inner = (slice(None), slice(1, -1), slice(1, -1))
    # [c0_id, c0_sx, c0_sy, c1_id, c1_sx, c1_sy]
    assert torch.equal(y[0, 0], x[0, 0])
    assert torch.allclose(y[0, 1][inner[1:]], torch.zeros(h - 2, w - 2))
    assert torch.allclose(y[0, 2][inner[1:]], torch.ones(h - 2, w - 2))  # (1+2+1)*2/8
    assert torch.equal(y[0, 3], x[0, 1])
    assert torch.allclose(y[0, 4][inner[1:]], torch.ones(h - 2, w - 2))
    assert torch.allclose(y[0, 5][inner[1:]], torch.zeros(h - 2, w - 2))


def test_zero_padding_at_the_border():
    x = torch.ones(1, 1, 3, 3)
    y = FixedPerception(1)(x)
    # left column sees zeros on its left: sobel_x = (0*-1 + ... + 1+2+1)/8 = 0.5
    assert torch.allclose(y[0, 1, :, 0], torch.tensor([3 / 8, 0.5, 3 / 8]))


def test_circular_padding_wraps_around():
    x = torch.ones(1, 1, 4, 4)
    y = FixedPerception(1, padding="circular")(x)
    assert torch.allclose(y[0, 1:], torch.zeros(2, 4, 4))


def test_rotation_by_a_right_angle_swaps_the_gradients():
    bank = filter_bank(["identity", "sobel_x", "sobel_y"], angle=math.pi / 2)
    assert torch.allclose(bank[1], -FILTERS["sobel_y"], atol=1e-6)
    assert torch.allclose(bank[2], FILTERS["sobel_x"], atol=1e-6)


def test_unknown_filter_and_padding_are_rejected():
    with pytest.raises(ValueError, match="unknown perception filter"):
        FixedPerception(4, ("identity", "blur"))
    with pytest.raises(ValueError, match="padding"):
        FixedPerception(4, padding="reflect")


def test_learned_perception_shape_and_relu():
    p = LearnedPerception(20, 80)
    y = p(torch.randn(2, 20, 7, 9))
    assert y.shape == (2, 80, 7, 9)
    assert (y >= 0).all()
