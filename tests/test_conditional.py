"""Conditional morphogenesis: the class one-hot in every cell, growth on request, the judge."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

import ncaforge as nf
from ncaforge.cli import main
from ncaforge.core.family import load_models
from ncaforge.core.layout import Layout
from ncaforge.core.nca import NCA
from ncaforge.core.perception import LearnedPerception
from ncaforge.core.update import UpdateMLP
from ncaforge.families.conditional.evaluate import ConditionalEvaluation, run_evaluation
from ncaforge.families.conditional.model import ConditionalConfig, build_conditional, classes_of, seed_states
from ncaforge.families.conditional.objective import ConditionalObjective
from ncaforge.families.conditional.task import ConditionalTask, digit_rgba, grey_of
from ncaforge.families.judge.model import JudgeConfig, build_judge
from ncaforge.families.judge.objective import JudgeObjective, shifted


def _digits(size=12):
    """Two toy classes: a filled square (class 0) and a bar (class 1), 6 samples each."""
    images = torch.zeros(12, size, size, dtype=torch.uint8)
    c = size // 2
    images[:6, c - 3:c + 3, c - 3:c + 3] = 255
    images[6:, c - 4:c + 4, c - 1:c + 1] = 200
    return images, torch.tensor([0] * 6 + [1] * 6)


def test_read_only_inputs_survive_alive_masking_on_every_path():
    """Cells cleared by the alive mask keep their read-only channels (a class, a digit) on the reference
    and the active-cell paths alike."""
    layout = Layout(channels=7, readonly=(5, 6))
    nca = NCA(layout, LearnedPerception(7, 8), UpdateMLP(8, 5, (8,)))
    with torch.no_grad():
        nca.update.net[-1].weight.normal_(0, 0.3)
    x = torch.zeros(2, 7, 9, 9)
    x[:, 3:5, 4, 4] = 1.0
    x[:, 5] = 0.7
    x[:, 6, :, :3] = -1.0
    outs = [nca.rollout(x, 6, torch.Generator().manual_seed(1), impl=impl)
            for impl in ("reference", "active")]
    torch.testing.assert_close(outs[0], outs[1])
    for y in outs:
        assert torch.equal(y[:, 5:], x[:, 5:])
        dead = ~nca.alive(y)[:, 0]
        assert dead.any() and not y[:, :5].permute(1, 0, 2, 3)[:, dead].any()


def test_the_active_cell_path_equals_the_reference_with_gradients():
    nca = build_conditional(ConditionalConfig(channels=6, classes=3, kernels=2, hidden=16))
    with torch.no_grad():
        nca.update.net[-1].weight.normal_(0, 0.2)
    assert nca.resolve_impl("auto", "cpu") == "active"
    x = seed_states(nca, None, 3, (10, 9), torch.tensor([0, 2, 1]))
    results = []
    for impl in ("reference", "active"):
        nca.zero_grad()
        y = nca.rollout(x, 8, torch.Generator().manual_seed(3), impl=impl)
        y[:, :4].pow(2).sum().backward()
        results.append((y.detach(), [p.grad.clone() for p in nca.parameters()]))
    torch.testing.assert_close(results[0][0], results[1][0])
    for a, b in zip(results[0][1], results[1][1], strict=True):
        torch.testing.assert_close(a, b)


def test_seeds_carry_their_class_everywhere_and_bad_classes_are_refused():
    nca = build_conditional(ConditionalConfig(channels=8, classes=3, hidden=16))
    assert nca.layout.channels == 11 and nca.layout.mutable == list(range(8))
    x = seed_states(nca, None, 3, (7, 9), torch.tensor([2, 0, 1]))
    assert classes_of(nca, x).tolist() == [2, 0, 1]
    assert x[:, 8:].sum(1).eq(1).all()  # a one-hot in every cell
    assert x[:, 3:8].sum(dim=(2, 3)).eq(1).all() and x[:, 3, 3, 4].eq(1).all()
    assert seed_states(nca, None, 2, (5, 5), 1)[:, 9].eq(1).all()
    with pytest.raises(ValueError, match=r"grows classes 0\.\.2"):
        seed_states(nca, None, 1, (5, 5), 3)


def test_the_rgba_target_of_a_digit_and_the_grey_the_judge_reads():
    grey = torch.tensor([[[0.05, 0.5, 1.0]]])
    rgba = digit_rgba(grey)
    assert rgba[0, :, 0].tolist() == [[0.0, 0.5, 1.0]] * 3 + [[0.0, 1.0, 1.0]]
    assert torch.equal(grey_of(rgba, (0, 1, 2))[:, 0], torch.tensor([[[0.0, 0.5, 1.0]]]))


def test_training_grows_a_different_pattern_for_each_class():
    torch.manual_seed(0)
    images, labels = _digits()
    nca = build_conditional(ConditionalConfig(channels=8, classes=2, hidden=32))
    task = ConditionalTask(mode="growing", batch=8, steps=(10, 14), grid=(12, 12))
    objective = ConditionalObjective(nca, images, labels, task)
    optimizer = torch.optim.Adam(nca.parameters(), 5e-3)
    generator = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(120):
        loss, _ = objective.loss(generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert sum(losses[-10:]) < 0.7 * sum(losses[:10])
    with torch.no_grad():
        grown = [nca.rollout(seed_states(nca, task, 4, (12, 12), k), 12, torch.Generator().manual_seed(2))
                 for k in (0, 1)]
    targets = [digit_rgba(images[i:i + 1].float() / 255) for i in (0, 6)]
    mse = [[float((g[:, :4] - t).pow(2).mean()) for t in targets] for g in grown]
    assert mse[0][0] < mse[0][1] and mse[1][1] < mse[1][0]  # each class nearer its own shape


class _AlwaysThree(torch.nn.Module):
    """A judge that names every image a 3."""

    def classify(self, images):
        return torch.full((len(images),), 3)


def test_the_evaluation_scores_each_class_by_its_judge():
    nca = build_conditional()
    nca.task = ConditionalTask(grid=(28, 28))
    options = ConditionalEvaluation(judge=_AlwaysThree(), samples=3, steps=2, repair_steps=2)
    report = run_evaluation(nca, options)
    assert report.figures["judged_accuracy"] == pytest.approx(0.1)
    assert report.figures["per_class"]["3"] == {"judged_accuracy": 1.0, "judged_accuracy_repair": 1.0}
    assert report.figures["per_class"]["4"]["judged_accuracy"] == 0.0
    with pytest.raises(ValueError, match="must be loaded"):
        run_evaluation(nca, ConditionalEvaluation(judge="mnist-judge", samples=1, steps=1))
    loaded = load_models(ConditionalEvaluation(judge="j"), lambda spec, family: (spec, family))
    assert loaded.judge == ("j", "judge")


def test_the_judge_learns_toy_digits_and_checks_its_input():
    torch.manual_seed(0)
    images, labels = _digits(28)
    judge = build_judge(JudgeConfig(width=8, hidden=16, dropout=0.0, classes=2))
    objective = JudgeObjective(judge, images, labels, batch=8, shift=2)
    optimizer = torch.optim.Adam(judge.parameters(), 3e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(60):
        loss, _ = objective.loss(generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert judge.classify(images[:, None].float() / 255).tolist() == labels.tolist()
    assert judge.training  # classify leaves the mode as it found it
    with pytest.raises(ValueError, match=r"\(B, 1, 28, 28\)"):
        judge(torch.zeros(2, 1, 12, 12))
    moved = shifted(torch.eye(5)[None, None].expand(3, 1, 5, 5), 1, torch.Generator().manual_seed(0))
    assert moved.shape == (3, 1, 5, 5) and all(m.sum() in (3.0, 4.0, 5.0) for m in moved)


def test_grow_on_request_and_eval_from_the_command_line(tmp_path):
    nca = build_conditional(ConditionalConfig(channels=8, hidden=16))
    with torch.no_grad():
        nca.update.net[-1].weight.normal_(0, 0.1)
    nf.save(nca, tmp_path / "cond", task=ConditionalTask(grid=(28, 28), steps=(4, 6)))
    nf.save(build_judge(JudgeConfig(width=2, hidden=8)), tmp_path / "judge")
    runner = CliRunner()
    out = tmp_path / "grow"
    r = runner.invoke(main, ["grow", "--model", str(tmp_path / "cond"), "--class", "7", "--steps", "3",
                             "--out", str(out)])
    assert r.exit_code == 0, r.output
    import numpy as np

    final = np.load(out / "states.npz")["final"]
    assert final[0, 8:].argmax(0).tolist() == [[7] * 28] * 28
    r = runner.invoke(main, ["grow", "--model", str(tmp_path / "cond"), "--class", "10", "--out", str(out)])
    assert r.exit_code != 0 and "grows classes 0..9" in r.output
    r = runner.invoke(main, ["eval", "conditional", "--model", str(tmp_path / "cond"), "--judge",
                             str(tmp_path / "judge"), "--samples", "2", "--json", str(tmp_path / "c.json")])
    assert r.exit_code == 0, r.output
    figures = json.loads((tmp_path / "c.json").read_text())
    assert figures["steps"] == 6 and set(figures["per_class"]) == {str(k) for k in range(10)}
    assert 0.0 <= figures["judged_accuracy"] <= 1.0
