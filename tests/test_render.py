"""Captioned tiles, legends, plots whose lines and legends stay visible, and numbers in a fitting format."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from ncaforge.render import plots
from ncaforge.render.frames import batch_image, legend, tile
from ncaforge.render.text import number, table

DARK = 100  # a pixel whose channels are all below this is text (the test images avoid such colours)


def images(n: int = 3, h: int = 40, w: int = 50) -> list[np.ndarray]:
    """``n`` flat, light, distinct (h, w, 3) images."""
    return [np.full((h, w, 3), (150 + 30 * i, 200, 250 - 30 * i), np.uint8) for i in range(n)]


def dark(region: np.ndarray) -> int:
    """How many pixels of ``region`` are dark enough to be text."""
    return int((region < DARK).all(-1).sum())


# ----------------------------------------------------------------------------- tile
def test_tile_without_labels_is_the_images_and_white_gaps():
    a, b, c = images(3, 4, 5)
    white = np.full((4, 2, 3), 255, np.uint8)
    assert np.array_equal(tile([a, b, c]), np.hstack([a, white, b, white, c]))
    gap_row = np.full((2, 12, 3), 255, np.uint8)
    blank = np.full((4, 5, 3), 255, np.uint8)
    expected = np.vstack([np.hstack([a, white, b]), gap_row, np.hstack([c, white, blank])])
    assert np.array_equal(tile([a, b, c], columns=2), expected)


def test_captions_go_in_a_band_under_each_image():
    plain_images = images()
    plain = tile(plain_images)
    captioned = tile(plain_images, labels=["step 0", "step 50", "step 100"])
    h, w = 40, 50
    assert captioned.shape[1] == plain.shape[1] and captioned.shape[0] > plain.shape[0] + 8
    assert captioned.dtype == np.uint8 and captioned.shape[2] == 3
    assert np.array_equal(captioned[:h], plain)  # the pictures themselves are untouched
    band = captioned[h:]
    for i in range(3):
        assert dark(band[:, i * (w + 2): i * (w + 2) + w]) > 10  # each image has its caption
    assert dark(band[:, w: w + 2]) == 0 and dark(band[:, 2 * w + 2: 2 * w + 4]) == 0  # gaps stay white
    assert not np.array_equal(captioned, tile(plain_images, labels=["step 0", "step 50", "step 200"]))


def test_a_caption_wider_than_its_image_is_shrunk_to_stay_under_it():
    small = images(2, 20, 24)
    captioned = tile(small, labels=["a rather long caption indeed", "k = 1"])
    assert dark(captioned[20:, :24]) > 0 and dark(captioned[20:, 24:26]) == 0


def test_frames_captioned_differently_keep_one_size_for_an_animation():
    small = images(2, 20, 24)
    assert tile(small, labels=["PDE, step 0", "NCA, step 0"]).shape == tile(small, labels=["x", "y"]).shape


def test_row_labels_go_left_of_each_row_and_shift_the_images():
    pictures = images(4)
    plain = tile(pictures, columns=2)
    labelled = tile(pictures, columns=2, row_labels=["PDE", "NCA"])
    left = labelled.shape[1] - plain.shape[1]
    assert left > 10 and labelled.shape[0] == plain.shape[0]
    assert np.array_equal(labelled[:, left:], plain)
    assert dark(labelled[:40, :left]) > 10 and dark(labelled[42:, :left]) > 10


def test_rows_with_captions_and_labels_keep_every_image():
    pictures = images(4)
    both = tile(pictures, columns=2, labels=list("abcd"), row_labels=["top", "bottom"])
    colours = {tuple(p[0, 0]) for p in pictures}
    found = {tuple(c) for c in both.reshape(-1, 3)}
    assert colours <= found


@pytest.mark.parametrize("kwargs", [{"labels": ["one"]}, {"columns": 2, "row_labels": ["one"]}])
def test_tile_refuses_a_wrong_number_of_labels(kwargs):
    with pytest.raises(ValueError, match="label"):
        tile(images(3), **kwargs)


def test_batch_image_passes_labels_on():
    rgba = torch.zeros(2, 4, 10, 10)
    rgba[:, 3] = 1.0
    rgba[:, 1] = 1.0  # opaque green
    plain = batch_image(rgba, 3)
    captioned = batch_image(rgba, 3, labels=["lizard", "tailless"])
    assert captioned.shape[0] > plain.shape[0] and np.array_equal(captioned[:30], plain)
    assert batch_image(rgba, 3, columns=1).shape[:2] == (62, 30)


# ----------------------------------------------------------------------------- legend
def test_legend_draws_each_swatch_with_its_name():
    from ncaforge.core.view import CLASS_COLOURS

    scale = 24
    image = legend(CLASS_COLOURS, range(10), scale=scale)
    gap = scale // 3
    assert image.shape[1] == 10 * scale + 9 * gap and image.shape[0] > scale + 8
    for i, colour in enumerate(CLASS_COLOURS):
        x = i * (scale + gap)
        assert tuple(image[scale // 2, x + scale // 2]) == colour  # the swatch, in its colour
        assert tuple(image[0, x]) == (128, 128, 128)  # outlined, so pale colours show on white
        assert dark(image[scale:, x: x + scale]) > 3  # the digit under it
    assert not np.array_equal(image, legend(CLASS_COLOURS, [9 - d for d in range(10)], scale=scale))


def test_legend_wants_a_name_per_colour():
    with pytest.raises(ValueError):
        legend([(0, 0, 0), (255, 0, 0)], ["black"])


# ----------------------------------------------------------------------------- plots
@pytest.fixture
def figures(monkeypatch) -> list:
    """The figures the plot functions would save, kept open for inspection."""
    kept: list = []

    def keep(fig, path):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig).draw()  # plots make figures without pyplot: give them a canvas to measure
        kept.append(fig)
        return Path(path)

    monkeypatch.setattr(plots, "_save", keep)
    return kept


def test_plot_phases_keeps_equal_curves_apart_and_the_legend_off_the_data(figures, tmp_path):
    steps = list(range(0, 200, 5))
    line = np.linspace(1.0, 0.1, len(steps))
    plots.plot_phases(steps, {"mse_variant": line, "host mse_variant": line, "mse_original": 2 * line},
                      [100], tmp_path / "p.png")
    ax = figures[0].axes[0]
    lines = [ln for ln in ax.get_lines() if ln.get_label() in ("mse variant", "host mse variant",
                                                             "mse original")]
    assert len(lines) == 3
    looks = {(ln.get_color(), ln.get_linestyle(), ln.get_marker()) for ln in lines}
    assert len(looks) == 3
    under, over = lines[0], lines[1]  # equal values: the one beneath is wider, so both show
    assert under.get_linewidth() > over.get_linewidth() and under.get_zorder() < over.get_zorder()
    renderer = figures[0].canvas.get_renderer()
    assert not ax.get_legend().get_window_extent(renderer).overlaps(ax.get_window_extent(renderer))


def test_plot_perturbation_has_no_overlapping_axes(figures, tmp_path):
    a = np.eye(6) + 0.1 * np.ones((6, 6))
    values, vectors = np.linalg.eigh(a)
    plots.plot_perturbation(a, values, vectors, tmp_path / "p.png")
    fig = figures[0]
    renderer = fig.canvas.get_renderer()
    boxes = [ax.get_tightbbox(renderer) for ax in fig.axes]
    assert len(boxes) == 5  # three plots, two colour bars
    for i, box in enumerate(boxes):
        for other in boxes[i + 1:]:
            assert not box.overlaps(other)


def test_plots_are_written(tmp_path):
    path = plots.plot_curves({"a": ([0, 1, 2], [1.0, 0.5, 0.2]), "b": ([0, 1, 2], [1.0, 0.5, 0.2])},
                             tmp_path / "c.png", "step", "mse")
    assert path.stat().st_size > 0


# ----------------------------------------------------------------------------- text
@pytest.mark.parametrize("value, text", [
    (0.8335, "0.8335"), (4.41e-05, "4.41e-05"), (2.1e-7, "2.1e-07"), (1234.5, "1234.5"),
    (12.34567, "12.35"), (0.5, "0.5"), (0.00027237, "0.0002724"), (1e35, "1e+35"), (-2.5e-9, "-2.5e-09"),
    (0.0, "0"), (float("nan"), "nan"), (float("inf"), "inf"), (-math.inf, "-inf"),
    (3, "3"), (10**20, "100000000000000000000"), (True, "True"), (np.float32(0.25), "0.25"),
    (np.int64(7), "7"), ("text", "text"),
])
def test_number_fits_the_magnitude(value, text):
    assert number(value) == text


def test_number_digits_sets_the_significant_digits():
    assert number(0.123456, digits=2) == "0.12" and number(0.123456, digits=6) == "0.123456"


def test_table_aligns_numbers_right_and_text_left():
    out = table([("lizard", 0.00027, 8000), ("adversary-eight", 0.99, 12)],
                header=("name", "mse", "iterations"))
    lines = out.splitlines()
    assert lines[0].split() == ["name", "mse", "iterations"] and set(lines[1]) <= {"-", " "}
    assert lines[2].startswith("lizard ") and lines[3].startswith("adversary-eight")
    assert len(lines[2]) == len(lines[3]) == len(lines[0])  # numbers end at the column's right edge
    assert lines[2].endswith(" 8000") and lines[3].endswith("   12")
    assert lines[2].index("0.00027") + len("0.00027") == lines[3].index("0.99") + len("0.99")


def test_table_shortens_text_to_fit_a_width():
    description = "a long description of a model that would never fit in a narrow terminal window"
    out = table([("lizard", description, 1.5)], header=("name", "description", "x"), max_width=40)
    assert all(len(line) <= 40 for line in out.splitlines())
    assert "..." in out and out.splitlines()[-1].endswith("1.5")
    assert table([("a", "b")]) == "a  b"
