"""The texture family: the model of the article, its 8-bit fake quantisation, `nca eval texture`, and the
importer of the authors' PNG-packed export (tested on files written here in exactly that format)."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import ncaforge as nf
from ncaforge.cli import main
from ncaforge.data.targets import TargetError
from ncaforge.data.textures import TEXTURES, TextureTask, load_exemplar
from ncaforge.families.texture.evaluate import TextureEvaluation, run_evaluation
from ncaforge.families.texture.model import TextureConfig, build_texture, fake_quantize
from ncaforge.io import checkpoint as ckpt
from ncaforge.io.distill import ImportFormatError
from ncaforge.io.distill_texture import import_texture, model_names


def random_texture(quantize: bool = False, scale: float = 0.1) -> torch.nn.Module:
    model = build_texture(TextureConfig(quantize=quantize))
    with torch.no_grad():
        for p in model.update.parameters():
            p.normal_(0.0, scale)
    return model


def test_the_articles_architecture():
    model = build_texture()
    assert sum(p.numel() for p in model.parameters()) == 48 * 96 + 96 + 96 * 12  # no last bias
    assert model.update.net[2].bias is None and not model.update.net[2].weight.any()
    assert model.perception.filters == ("identity", "sobel_x", "sobel_y", "laplacian_8")
    x = torch.rand(2, 12, 9, 9) - 0.5
    assert torch.equal(model.rollout(x, 5), x)  # untrained: the identity map, no cell dies


def test_the_torus_has_no_edges_and_half_the_cells_fire():
    model = random_texture()
    x = torch.rand(1, 12, 12, 12) - 0.5
    shifted = torch.roll(x, (5, 7), dims=(2, 3))
    fire = torch.ones(1, 1, 12, 12, dtype=torch.bool)
    assert torch.allclose(torch.roll(model.step(x, fire), (5, 7), dims=(2, 3)), model.step(shifted, fire),
                          atol=1e-6)
    changed = (model.rollout(x, 1, torch.Generator().manual_seed(1)) != x).any(1).float().mean()
    assert 0.4 < changed < 0.6


def test_fake_quantisation_rounds_to_256_levels_and_passes_gradients():
    v = torch.linspace(-3, 3, 1001, requires_grad=True)
    q = fake_quantize(v, 4.0, 127 / 255)
    levels = (q.detach() / 4.0 + 127 / 255) * 255
    assert torch.allclose(levels, levels.round(), atol=1e-4) and levels.min() >= 0 and levels.max() <= 255
    inside = v.detach().abs() < 1.9
    assert (q.detach() - v.detach())[inside].abs().max() <= 4.0 / 255 / 2 + 1e-6
    q.sum().backward()
    assert torch.equal(v.grad, torch.ones_like(v))  # straight through


def test_a_quantised_model_keeps_its_state_on_8_bits_and_trains():
    model = random_texture(quantize=True)
    x = model.rollout(torch.zeros(1, 12, 8, 8), 3, torch.Generator().manual_seed(0))
    levels = (x / 4.0 + 127 / 255) * 255
    assert torch.allclose(levels, levels.round(), atol=1e-3) and x.abs().sum() > 0
    loss = model.rollout(torch.rand(1, 12, 8, 8) - 0.5, 2).pow(2).mean()
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.update.parameters())


def test_bundled_exemplars_and_the_held_out_strip():
    for name in TEXTURES:
        e = load_exemplar(name, 64)
        assert e.shape == (3, 64, 64) and e.min() >= 0 and e.max() <= 1 and e.std() > 0.02
    task = TextureTask(target="brick", exemplar_size=64, holdout=0.25, levels=2)
    train, held = task.exemplar(), task.held_out()
    assert train.shape == (3, 64, 48) and held.shape == (3, 64, 16)
    assert torch.equal(torch.cat([train, held], dim=2), task.full_exemplar())
    with pytest.raises(TargetError, match="under 20 cells"):
        TextureTask(target="brick", exemplar_size=64, holdout=0.25).exemplar()


def test_eval_texture_reports_the_issue_keys(tmp_path):
    model = random_texture(scale=0.05)
    model.task = TextureTask(target="grass", exemplar_size=32, levels=1, grid=(16, 16))
    options = TextureEvaluation(size=16, samples=1, steps=4, until=10, every=3, regen_steps=2, projections=8)
    report = run_evaluation(model, options)
    keys = ("swd", "swd_baseline_other", "swd_noise", "stability_max_swd", "regen_swd")
    assert all(np.isfinite(report.figures[k]) and report.figures[k] >= 0 for k in keys)
    assert set(report.figures["swd_other_exemplars"]) == set(TEXTURES) - {"grass"}
    assert report.figures["stability_max_swd"] >= report.figures["swd"]
    assert list(report.figures["stability_curve"]) == ["4", "7", "10"]
    # the same ruler: evaluating twice gives the same figures
    assert run_evaluation(model, options).figures["swd"] == report.figures["swd"]
    model.task = None
    with pytest.raises(ValueError, match="records no texture task"):
        run_evaluation(model, options)


def test_texture_eval_cli_writes_json(tmp_path):
    model = random_texture(scale=0.05)
    task = TextureTask(target="gravel", exemplar_size=32, levels=1, grid=(16, 16))
    ckpt.save(tmp_path / "m", model, task=task)
    out = tmp_path / "eval.json"
    result = CliRunner().invoke(main, ["eval", "texture", "--model", str(tmp_path / "m"), "--size", "16",
                                       "--samples", "1", "--steps", "3", "--until", "6", "--every", "3",
                                       "--regen-steps", "2", "--json", str(out)])
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert {"swd", "swd_baseline_other", "swd_noise", "stability_max_swd", "regen_swd"} <= set(figures)


# --- the authors' export format -------------------------------------------------------------------------

def png_data_url(pixels: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(pixels, "RGBA").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def write_export(path, models: dict[str, tuple[np.ndarray, np.ndarray]], per_row: int = 2) -> list[float]:
    """Write models {name: (w1 (49, 96) interleaved rows + bias, w2 (97, 12))} as the authors' exporter did:
    first-layer rows made filter-major, columns padded to a multiple of 4, bytes (v / scale + 127/255) * 255,
    RGBA pixels tiled ``per_row`` models a row. Returns the two scales."""
    names = list(models)
    per_col = -(-len(names) // per_row)
    layers, scales = [], []
    for i in range(2):
        mats = []
        for w1, w2 in models.values():
            m = w1.copy() if i == 0 else w2
            if i == 0:
                channels, filters = 12, 4
                order = [c * filters + f for f in range(filters) for c in range(channels)]  # -> filter-major
                m = np.concatenate([w1[:-1][order], w1[-1:]])
            mats.append(m)
        rows, cols = mats[0].shape
        scale = float(max(np.abs(m).max() for m in mats)) * 2.0
        scales.append(scale)
        width = -(-cols // 4)
        image = np.zeros((per_col * rows, per_row * width, 4), np.uint8)
        for k, m in enumerate(mats):
            padded = np.zeros((rows, width * 4), np.float32)
            padded[:, :cols] = m
            q = np.clip(np.round((padded / scale + 127 / 255) * 255), 0, 255).astype(np.uint8)
            y, x = (k // per_row) * rows, (k % per_row) * width
            image[y : y + rows, x : x + width] = q.reshape(rows, width, 4)
        layers.append({"scale": scale, "data": png_data_url(image), "shape": [rows, cols],
                       "quant_scale_zero": [2.0, 0.0] if i == 0 else [4.0, 127 / 255],
                       "layout": [per_row, per_col]})
    path.write_text(json.dumps({"model_names": names, "layers": layers}))
    return scales


def random_models(n: int, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = {}
    for k in range(n):
        w2 = rng.normal(0, 0.05, (97, 12)).astype(np.float32)
        w2[-1] = 0.0  # no bias on the last layer
        out[f"model_{k}"] = (rng.normal(0, 0.2, (49, 96)).astype(np.float32), w2)
    return out


def test_import_equals_the_files_float_weights_within_half_a_step(tmp_path):
    models = random_models(3)
    scales = write_export(tmp_path / "models.json", models)
    assert model_names(tmp_path / "models.json") == ["model_0", "model_1", "model_2"]
    for name, (w1, w2) in models.items():
        nca, _ = import_texture(tmp_path / "models.json", name)
        first = nca.update.net[0]
        got1 = torch.cat([first.weight[:, :, 0, 0].T, first.bias[None]]).detach().numpy()
        got2 = nca.update.net[2].weight[:, :, 0, 0].T.detach().numpy()
        assert np.abs(got1 - w1).max() <= scales[0] / 255 / 2 + 1e-6
        assert np.abs(got2 - w2[:-1]).max() <= scales[1] / 255 / 2 + 1e-6
        assert nca.config.quantize and not nca.config.quantize_weights and nca.config.rgb_scale == 0.5


def test_import_cli_one_or_all(tmp_path):
    write_export(tmp_path / "models.json", random_models(3), per_row=3)
    result = CliRunner().invoke(main, ["import", "distill-texture", str(tmp_path / "models.json"), "--all",
                                       "--out", str(tmp_path / "all")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == ["model_0", "model_1", "model_2"]
    result = CliRunner().invoke(main, ["import", "distill-texture", str(tmp_path / "models.json"), "--name",
                                       "model_2", "--out", str(tmp_path / "one")])
    assert result.exit_code == 0, result.output
    one, direct = nf.load(tmp_path / "one"), import_texture(tmp_path / "models.json", "model_2")[0]
    assert torch.equal(one.update.net[0].weight, direct.update.net[0].weight)
    x = one.rollout(torch.zeros(1, 12, 16, 16), 4, torch.Generator().manual_seed(0))
    assert torch.isfinite(x).all()
    result = CliRunner().invoke(main, ["import", "distill-texture", str(tmp_path / "models.json"), "--name",
                                       "nope", "--out", str(tmp_path / "x")])
    assert result.exit_code != 0 and "no model 'nope'" in result.output


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d.pop("layers"), "expected"),
    (lambda d: d["layers"][0].update(data="data:image/png;base64,AAAA"), "not a readable PNG"),
    (lambda d: d["layers"][0].update(data="http://x"), "PNG data URL"),
    (lambda d: d["layers"][1].update(layout=[1, 1]), "holds fewer than"),
    (lambda d: d["layers"][0].update(shape=[50, 96]), "pixels; layout"),
    (lambda d: d["layers"][1].update(quant_scale_zero=[1.0, 0.0]), "quant_scale_zero"),
])
def test_a_malformed_export_is_one_clear_error(tmp_path, edit, message):
    write_export(tmp_path / "models.json", random_models(2))
    doc = json.loads((tmp_path / "models.json").read_text())
    edit(doc)
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(ImportFormatError, match=message):
        import_texture(tmp_path / "bad.json", "model_0")


def test_graft_runs_each_rule_where_the_mask_says(tmp_path):
    a, b = random_texture(scale=0.05), random_texture(scale=0.05)
    task = TextureTask(target="grass", exemplar_size=32, levels=1, grid=(16, 16))
    ckpt.save(tmp_path / "a", a, task=task)
    ckpt.save(tmp_path / "b", b, task=task)
    mask = np.zeros((16, 16), np.uint8)
    mask[:, 8:] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    args = ["texture", "graft", "--model", str(tmp_path / "a"), "--model", str(tmp_path / "b"), "--mask",
            str(tmp_path / "mask.png"), "--size", "16", "16", "--steps", "6", "--every", "3", "--out",
            str(tmp_path / "out")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "50% of the cells follow" in result.output
    assert (tmp_path / "out" / "graft.png").exists() and (tmp_path / "out" / "mask.png").exists()
    # the grafted step: B's update on the bright half, A's on the dark half
    from ncaforge.interventions.intervened import Intervened

    x = torch.rand(1, 12, 16, 16) - 0.5
    fire = torch.ones(1, 1, 16, 16, dtype=torch.bool)
    cells = torch.zeros(1, 1, 16, 16, dtype=torch.bool)
    cells[..., 8:] = True
    mixed = Intervened(a, adversary=b).step(x, fire, mask=cells)
    assert torch.allclose(mixed[..., :8], a.step(x, fire)[..., :8], atol=1e-6)
    assert torch.allclose(mixed[..., 8:], b.step(x, fire)[..., 8:], atol=1e-6)
    result = CliRunner().invoke(main, args[:4] + args[6:])
    assert result.exit_code != 0 and "exactly two" in result.output
    result = CliRunner().invoke(main, [*args[:5], "lizard", *args[6:]])
    assert result.exit_code != 0 and "not a texture NCA" in result.output


def test_the_vgg_loss_reads_only_a_given_file(tmp_path):
    from safetensors.torch import save_file

    from ncaforge.objectives.vgg import VGGError, gram_loss, gram_matrices, load_vgg16, vgg16_features

    with pytest.raises(VGGError, match="never downloads"):
        load_vgg16(tmp_path / "vgg16.safetensors")
    torch.manual_seed(0)
    weights = {f"features.{k}": v for k, v in vgg16_features().state_dict().items()}
    save_file(weights, str(tmp_path / "vgg16.safetensors"))
    net = load_vgg16(tmp_path / "vgg16.safetensors")
    assert torch.equal(net[0].weight, weights["features.0.weight"])
    image = torch.rand(1, 3, 32, 32)
    grams = gram_matrices(net, image)
    assert [g.shape[1] for g in grams] == [64, 128, 256, 512, 512]
    assert gram_loss(net, image, grams).item() == 0
    assert gram_loss(net, torch.rand(1, 3, 32, 32), grams).item() > 0
    partial = {k: v for k, v in weights.items() if k != "features.24.weight"}
    save_file(partial, str(tmp_path / "part.safetensors"))
    with pytest.raises(VGGError, match=r"lacks features\.24\.weight"):
        load_vgg16(tmp_path / "part.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(VGGError, match="not a readable"):
        load_vgg16(tmp_path / "junk.safetensors")
    args = ["train", "texture", "--target", "grass", "--vgg", str(tmp_path / "vgg16.safetensors"),
            "--exemplar-size", "40", "--holdout", "0", "--levels", "1", "--size", "16", "--pool", "4",
            "--steps", "2", "3", "--iterations", "2", "--out", str(tmp_path / "run")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert nf.load(tmp_path / "run" / "checkpoint").task.vgg == str(tmp_path / "vgg16.safetensors")


def test_the_three_families_store_one_task_kind(tmp_path):
    for family in ("texture", "munca", "reaction-diffusion"):
        ckpt.save(tmp_path / family, nf.build(family), task=TextureTask(target="brick"))
        section = json.loads((tmp_path / family / "config.json").read_text())["task"]
        assert section["kind"] == "texture"
        assert nf.load(tmp_path / family).task == TextureTask(target="brick")


def test_regeneration_samples_lose_a_wrapped_quarter():
    from ncaforge.objectives.texture import erase_quarter

    x, fresh = torch.zeros(1, 1, 8, 8), torch.ones(1, 1, 8, 8)
    top_left = erase_quarter(x, fresh)
    assert top_left[0, 0, :4, :4].all() and top_left.sum() == 16
    wrapped = erase_quarter(x, fresh, (6, 7))  # rows 6, 7, 0, 1 and columns 7, 0, 1, 2
    rows, cols = torch.nonzero(wrapped[0, 0], as_tuple=True)
    assert set(rows.tolist()) == {6, 7, 0, 1} and set(cols.tolist()) == {7, 0, 1, 2} and wrapped.sum() == 16


def test_damage_trains_and_may_change_on_resume(tmp_path):
    run = tmp_path / "run"
    base = ["train", "texture", "--target", "gravel", "--hidden", "8", "--exemplar-size", "40",
            "--levels", "1", "--size", "16", "--pool", "8", "--steps", "2", "3", "--checkpoint-every", "1",
            "--out", str(run)]
    result = CliRunner().invoke(main, [*base, "--iterations", "2"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["train", "texture", "--resume", "--iterations", "4", "--damage", "2",
                                       "--out", str(run)])
    assert result.exit_code == 0, result.output
    assert nf.load(run / "checkpoint").task.damage == 2
