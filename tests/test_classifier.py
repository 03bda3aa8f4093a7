"""The self-classifying MNIST model: shapes, the read-only digit, living cells, fast path."""

from __future__ import annotations

import torch

from conftest import bars
from ncaforge.families.classifier.model import ClassifierConfig, build_classifier, digit_state, logits


def _model():
    nca = build_classifier(ClassifierConfig(features=16, hidden=16))
    with torch.no_grad():
        nca.update.net[-1].weight.normal_(0, 0.1)
        nca.update.net[-1].bias.normal_(0, 0.1)
    return nca


def _digits(b=2, h=9, w=8):
    images = torch.zeros(b, h, w)
    images[:, 2:7, 3:6] = torch.rand(b, 5, 3) * 0.9 + 0.1
    return images


def test_the_original_architecture_and_channels():
    nca = build_classifier()
    assert sum(p.numel() for p in nca.parameters()) == 22_499
    assert nca.layout.mutable == list(range(1, 20))
    x = digit_state(nca, _digits())
    assert x.shape == (2, 20, 9, 8) and logits(nca, x).shape == (2, 10, 9, 8)


def test_the_digit_is_read_only_and_only_its_cells_change():
    nca = _model()
    images = _digits()
    x = digit_state(nca, images)
    y = nca.rollout(x, 6, torch.Generator().manual_seed(0))
    assert torch.equal(y[:, 0], images)
    off = (images == 0).unsqueeze(1)  # grey 0 <= 0.1: never updated
    assert torch.equal(torch.where(off, y, 0.0), torch.where(off, x, 0.0))
    assert (y[:, 1:].abs().sum(1)[~off[:, 0]] > 0).all()


def test_residual_noise_moves_an_untrained_model():
    nca = build_classifier(ClassifierConfig(features=16, hidden=16))  # zero last layer
    x = digit_state(nca, _digits())
    y = nca.rollout(x, 2, torch.Generator().manual_seed(0))
    changed = (y - x)[:, 1:].abs()
    assert 0.005 < changed[changed > 0].std() < 0.05  # N(0, 0.02) on fired digit cells


def test_active_path_equals_the_reference_with_noise_and_gradients():
    nca = _model()
    assert nca.resolve_impl("auto", "cpu") == "active"  # learned perception, living channel, noise
    x = digit_state(nca, _digits())
    results = []
    for impl in ("reference", "active"):
        nca.zero_grad()
        y = nca.rollout(x, 5, torch.Generator().manual_seed(4), impl=impl)
        logits(nca, y).pow(2).mean().backward()
        results.append((y.detach(), [p.grad.clone() for p in nca.parameters()]))
    assert torch.allclose(results[0][0], results[1][0], atol=1e-5)
    for a, b in zip(results[0][1], results[1][1], strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6)


def test_mutation_keeps_states_on_the_new_digits_pixels_only():
    from ncaforge.families.classifier.objective import mutate

    nca = _model()
    old = torch.rand(1, 20, 6, 6)
    images = torch.zeros(1, 6, 6)
    images[0, 1:3, 1:4] = 0.5
    images[0, 4, 4] = 0.05  # below the 0.1 threshold: not a digit pixel
    x = mutate(nca, old, images)
    assert torch.equal(x[:, 0], images)
    pixels = images > 0.1
    assert torch.equal(x[0, 1:, pixels[0]], old[0, 1:, pixels[0]])
    assert (x[0, 1:, ~pixels[0]] == 0).all()


def test_l2_targets_and_the_loss_on_hand_made_states():
    from ncaforge.families.classifier.objective import ClassifierObjective, targets

    nca = _model()
    images = torch.zeros(3, 5, 5, dtype=torch.uint8)
    images[:, 1:4, 2] = 200
    objective = ClassifierObjective(nca, images, torch.tensor([7, 1, 3]), pool_size=4, batch_size=2,
                                    fresh=1, mutated=1)
    x = digit_state(nca, images[:1].float() / 255)
    t = targets(nca, x, torch.tensor([7]))
    assert t.sum() == 3 and torch.equal(t[0, 7, 1:4, 2], torch.ones(3))
    logits(nca, x)[:] = t  # perfect logits: zero loss; one wrong cell costs (1 + 1) / 2
    assert objective.per_sample_loss(x, torch.tensor([7])).item() == 0
    x[0, -10 + 7, 1, 2], x[0, -10 + 2, 1, 2] = 0.0, 1.0
    assert objective.per_sample_loss(x, torch.tensor([7])).item() == 1.0


def test_metrics_on_hand_made_curves():
    import numpy as np

    from ncaforge.families.classifier.evaluate import Curves

    steps = 200
    correct = np.zeros((2 * steps + 1, 3), dtype=np.int64)
    cells = np.full_like(correct, 10)
    correct[200] = [10, 9, 0]  # digit 0 all right, digit 1 one cell wrong, digit 2 all wrong
    correct[400] = [10, 10, 10]
    curves = Curves(correct, cells, np.array([1, 1, 2]), np.array([2, 0, 1]), np.array([1, 1, 0]), steps)
    m = curves.metrics()
    assert m["cell_accuracy_200"] == 19 / 30 and m["total_agreement_200"] == 1 / 3
    assert m["total_agreement_mutated_200"] == 1.0 and m["cell_accuracy_20"] == 0.0
    per_class = {r["class"]: r for r in curves.per_class()}
    assert per_class[1]["cell_accuracy"] == 19 / 20 and per_class[2]["total_agreement"] == 0.0
    assert curves.confusion(3).tolist() == [[0, 0, 0], [0, 2, 0], [1, 0, 0]]



def test_a_tiny_training_run_improves_cell_accuracy(tmp_path):
    from ncaforge.families.classifier.evaluate import classify
    from ncaforge.families.classifier.objective import ClassifierObjective
    from ncaforge.training.trainer import TrainConfig, Trainer

    torch.manual_seed(0)
    nca = build_classifier(ClassifierConfig(channels=12, classes=2, features=16, hidden=16, noise=0.0))
    images, labels = bars(16)
    before = classify(nca, images, labels, steps=8, progress=False).cell_accuracy()[8]
    objective = ClassifierObjective(nca, images, labels, pool_size=8, batch_size=4, steps=8, fresh=1,
                                    mutated=1)
    Trainer(objective, tmp_path, TrainConfig(iterations=60, lr=3e-3, lr_drops=(), checkpoint_every=60)
            ).fit(progress=False)
    after = classify(nca, images, labels, steps=8, progress=False).cell_accuracy()[8]
    assert before == 0.5  # untrained logits are all zero: argmax says class 0 everywhere
    assert after > 0.9


def test_eval_mnist_writes_the_json_keys_and_plots(tmp_path):
    import json

    from click.testing import CliRunner

    from ncaforge.cli import main
    from ncaforge.io import checkpoint as ckpt
    from test_mnist_data import _idx_dir

    _idx_dir(tmp_path, n_train=2, n_test=4)
    ckpt.save(tmp_path / "model", build_classifier(ClassifierConfig(features=16, hidden=16)))
    out = tmp_path / "eval.json"
    result = CliRunner().invoke(main, ["eval", "mnist", "--model", str(tmp_path / "model"), "--mnist-dir",
                                       str(tmp_path), "--limit", "3", "--json", str(out)])
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert figures["digits"] == 3
    for key in ("cell_accuracy_20", "cell_accuracy_100", "cell_accuracy_200", "total_agreement_20",
                "total_agreement_100", "total_agreement_200", "total_agreement_mutated_200"):
        assert 0.0 <= figures[key] <= 1.0
    assert (tmp_path / "eval.png").exists() and (tmp_path / "eval-confusion.png").exists()


def _keras_base64(nca):
    """The published format written from our weights: what a Distill MNIST file holds."""
    import base64

    first, last = nca.update.net[0], nca.update.net[-1]
    arrays = [nca.perception.conv.weight.permute(2, 3, 1, 0), nca.perception.conv.bias,
              first.weight.permute(2, 3, 1, 0), first.bias, last.weight.permute(2, 3, 1, 0), last.bias]
    return [base64.b64encode(a.detach().contiguous().numpy().astype("<f4").tobytes()).decode()
            for a in arrays]


def test_import_distill_mnist_reproduces_the_model(tmp_path):
    import json

    import pytest

    from ncaforge.io.distill import ImportFormatError, import_mnist

    nca = _model()
    with torch.no_grad():
        nca.perception.conv.weight.normal_(0, 0.2)
    path = tmp_path / "mnist.json"
    path.write_text(json.dumps(_keras_base64(nca)))
    imported, fmt = import_mnist(path)
    assert fmt == "base64-arrays" and imported.config.features == 16 and imported.config.channels == 20
    x = digit_state(nca, _digits())
    ours, theirs = (m.rollout(x, 4, torch.Generator().manual_seed(2)) for m in (nca, imported))
    assert torch.equal(ours, theirs)
    # the same arrays as a TF.js graph model's Const nodes, in a shuffled order, among other nodes
    shapes = [(3, 3, 20, 16), (16,), (1, 1, 16, 16), (16,), (1, 1, 16, 19), (19,)]
    nodes = [{"name": "x", "op": "Placeholder"}]
    for i in (4, 0, 5, 2, 1, 3):
        nodes.append({"name": f"c{i}", "op": "Const", "attr": {"value": {"tensor": {
            "dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": str(d)} for d in shapes[i]]},
            "tensorContent": _keras_base64(nca)[i]}}}})
    path.write_text(json.dumps({"format": "graph-model", "modelTopology": {"node": nodes}}))
    imported, fmt = import_mnist(path)
    assert fmt == "tfjs-graph-model"
    assert torch.equal(imported.rollout(x, 4, torch.Generator().manual_seed(2)), ours)
    path.write_text(json.dumps(_keras_base64(nca)[:5]))
    with pytest.raises(ImportFormatError, match="6 base64 strings"):
        import_mnist(path)
    bad = _keras_base64(nca)
    bad[4] = bad[5]
    path.write_text(json.dumps(bad))
    with pytest.raises(ImportFormatError, match="do not fit"):
        import_mnist(path)


def test_classify_writes_both_animations(tmp_path):
    from click.testing import CliRunner

    from ncaforge.cli import main
    from ncaforge.io import checkpoint as ckpt
    from test_mnist_data import _idx_dir

    _idx_dir(tmp_path, n_train=2, n_test=5)
    ckpt.save(tmp_path / "model", _model())
    result = CliRunner().invoke(main, ["classify", "--model", str(tmp_path / "model"), "--mnist-dir",
                                       str(tmp_path), "--digits", "2", "--steps", "6", "--out",
                                       str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    for name in ("classify.gif", "reclassify.gif", "legend.png"):
        assert (tmp_path / "out" / name).exists()


def test_class_colours_follow_the_votes():
    from ncaforge.core.view import CLASS_COLOURS
    from ncaforge.families.classifier.picture import class_rgb

    nca = _model()
    x = digit_state(nca, torch.ones(1, 2, 2))
    logits(nca, x)[0, 3] = 1.0  # every cell votes 3
    logits(nca, x)[0, 7, 0, 0] = 2.0  # but the top-left one votes 7
    rgb = class_rgb(nca, x)
    assert torch.allclose(rgb[0, :, 0, 0], torch.tensor(CLASS_COLOURS[7]) / 255)
    assert torch.allclose(rgb[0, :, 1, 1], torch.tensor(CLASS_COLOURS[3]) / 255)
