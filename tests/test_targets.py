import numpy as np
import pytest
from PIL import Image

from ncaforge.data import targets
from ncaforge.data.targets import TargetError, load_target


def test_bundled_lizard_is_premultiplied_and_padded():
    t = load_target("lizard")
    assert t.shape == (4, 72, 72)
    assert (t[:3] <= t[3:4] + 1e-6).all()
    assert t[:, :16].abs().sum() == 0 and t[:, -16:].abs().sum() == 0
    assert 0.05 < (t[3] > 0.1).float().mean() < 0.3


def test_image_files_with_and_without_alpha(tmp_path, disc_png):
    t = load_target(disc_png, size=10, pad=3)
    assert t.shape == (4, 16, 16)
    rgb = np.full((20, 30, 3), 200, np.uint8)
    Image.fromarray(rgb).save(tmp_path / "flat.jpg")
    Image.fromarray(rgb).save(tmp_path / "flat.webp")
    for name in ("flat.jpg", "flat.webp"):
        t = load_target(str(tmp_path / name), size=12, pad=2)
        assert t.shape == (4, 8 + 4, 12 + 4)  # aspect kept: 20x30 -> 8x12
        assert t[3, 2:-2, 2:-2].min() == 1.0  # no alpha channel: opaque


def test_bad_targets_are_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(TargetError, match="does not exist"):
        load_target(str(tmp_path / "missing.png"))
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(TargetError, match="not an image"):
        load_target(str(tmp_path / "notes.png"))
    monkeypatch.setattr(targets, "NOTO_FONT_PATHS", ("/nonexistent/font.ttf",))
    with pytest.raises(TargetError, match="fonts-noto-color-emoji"):
        load_target("emoji:🦎")


@pytest.mark.skipif(not any(__import__("os").path.exists(p) for p in targets.NOTO_FONT_PATHS),
                    reason="the Noto Color Emoji font (Debian fonts-noto-color-emoji) is not installed")
def test_emoji_target_renders_like_the_bundled_lizard():
    assert (load_target("emoji:🦎") - load_target("lizard")).abs().max() < 1e-6
