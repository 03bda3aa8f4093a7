"""Attacks end to end: variant targets, tiny adversary and perturbation training runs, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from conftest import bars, random_growing
from ncaforge.cli import main
from ncaforge.data.targets import load_target
from ncaforge.data.variants import VARIANTS, erase, load_variant, polygon_mask, recolour
from ncaforge.families.classifier.model import ClassifierConfig, build_classifier
from ncaforge.families.growing.task import GrowingTask
from ncaforge.interventions.intervened import Intervened
from ncaforge.interventions.perturbation import Perturbation
from ncaforge.io import checkpoint as ckpt
from ncaforge.training.trainer import TrainConfig, Trainer


def test_polygon_erase_and_hue_rotation():
    square = polygon_mask([(2, 1), (5, 1), (5, 4), (2, 4)], 8, 8)
    assert square.sum() == 9 and square[1:4, 2:5].all()
    target = load_target("lizard")
    cut = erase(target, polygon_mask([(0, 0), (72, 0), (72, 36), (0, 36)], 72, 72))
    assert cut[:, :36].abs().sum() == 0 and torch.equal(cut[:, 36:], target[:, 36:])
    assert torch.allclose(recolour(target, 360.0), target, atol=1e-5)
    red = recolour(target, -140.0)
    assert torch.equal(red[3], target[3])
    visible = target[3] > 0.5
    assert red[0][visible].mean() > 2 * red[1][visible].mean()  # mostly red where the lizard was green


def test_bundled_variants_change_what_they_say():
    lizard = load_target("lizard")
    area = (lizard[3] > 0.1).sum()
    for name in ("tailless", "no_leg", "no_arm", "headless"):
        v = load_variant(name)
        assert 0.6 * area < (v[3] > 0.1).sum() < 0.97 * area, name
    assert set(VARIANTS) == {"tailless", "no_leg", "no_arm", "headless", "red", "blue"}
    blue = load_variant("blue")
    assert blue[2][lizard[3] > 0.5].mean() > blue[1][lizard[3] > 0.5].mean()


def test_variants_join_with_plus_into_both_edits():
    both = load_variant("red+tailless")
    assert torch.allclose(both, VARIANTS["red"].apply(load_variant("tailless")))
    assert torch.equal(both[3], load_variant("tailless")[3])
    assert not torch.allclose(both, load_variant("tailless"))


def test_adversaries_go_where_the_host_grows_tail_included():
    from ncaforge import zoo
    from ncaforge.families.growing.attack import host_shape, variant_target

    host = zoo.load("lizard")
    shape, tailless = host_shape(host), variant_target(host, "tailless")
    assert shape.shape == tailless.shape[1:]
    assert (shape & (tailless[3] < 0.1)).sum() > 20  # the tail, where a tailless attack must act


def test_a_tiny_adversary_training_run_hijacks_a_classifier(tmp_path):
    from ncaforge.families.classifier.attack_measures import classifier_injection
    from ncaforge.families.classifier.objective import ClassifierObjective

    torch.manual_seed(0)
    config = ClassifierConfig(channels=12, classes=2, features=16, hidden=16, noise=0.0)
    host, adversary = build_classifier(config), build_classifier(config)
    images, labels = bars(16)
    Trainer(ClassifierObjective(host, images, labels, pool_size=8, batch_size=4, steps=8, fresh=1, mutated=1),
            tmp_path / "host", TrainConfig(iterations=60, lr=3e-3, lr_drops=(), checkpoint_every=60)
            ).fit(progress=False)  # a host that tells bars apart
    before, _ = classifier_injection(host, adversary, images, labels, 0.3, 1, attack_steps=8, removed_steps=8,
                                     every=4)
    objective = ClassifierObjective(host, images, labels, pool_size=8, batch_size=4, steps=8, fresh=1,
                                    mutated=1, attack=Intervened(host, adversary=adversary), fraction=0.3,
                                    target_class=1)
    host_weights = [p.clone() for p in host.parameters()]
    Trainer(objective, tmp_path / "adversary", TrainConfig(iterations=40, lr=3e-3, lr_drops=(),
                                                           checkpoint_every=40)).fit(progress=False)
    after, curves = classifier_injection(host, adversary, images, labels, 0.3, 1, attack_steps=8,
                                         removed_steps=8, every=4)
    assert all(torch.equal(a, b) for a, b in zip(host_weights, host.parameters(), strict=True))
    assert before["target_cells_8"] < 0.5 < after["target_cells_8"]
    assert list(curves["step"]) == [0, 4, 8, 12, 16]
    saved = ckpt.load(tmp_path / "adversary" / "checkpoint", family="classifier")  # not the host
    assert torch.equal(saved.update.net[-1].bias, adversary.update.net[-1].bias)


def test_a_tiny_perturbation_training_run_moves_towards_the_variant(tmp_path):
    from ncaforge.families.growing.objective import GrowingObjective

    torch.manual_seed(0)
    host = random_growing(hidden=16, scale=0.05)
    target = torch.zeros(4, 12, 12)
    target[:, 3:9, 3:9] = 0.5
    variant = target.clone()
    variant[0] = 0.0  # no red
    starts = torch.cat([host.seed(1, 12, 12), host.rollout(host.seed(1, 12, 12), 10)]).detach()
    perturbation = Perturbation.identity(16)
    run = Intervened(host, perturbation=perturbation)
    objective = GrowingObjective(host, variant, "regenerating", pool_size=8, batch_size=4, steps=(8, 10),
                                 damage_count=1, attack=run, starts=starts)
    first = objective.per_sample_loss(run(starts, 9, torch.Generator().manual_seed(1))).mean()
    Trainer(objective, tmp_path, TrainConfig(iterations=30, lr=2e-2, lr_drops=(), checkpoint_every=30)
            ).fit(progress=False)
    last = objective.per_sample_loss(run(starts, 9, torch.Generator().manual_seed(1))).mean()
    assert last < 0.8 * first
    assert all(p.grad is None for p in host.parameters())
    saved = ckpt.load(tmp_path / "checkpoint", family="perturbation")
    assert torch.allclose(saved.matrix, perturbation.matrix)


def test_recovery_adds_the_lifted_host_rollout_to_the_loss():
    from ncaforge.families.growing.objective import GrowingObjective, Recovery, rgba_mse

    torch.manual_seed(0)
    host = random_growing(hidden=16, scale=0.05)
    variant, original = torch.zeros(4, 12, 12), torch.full((4, 12, 12), 0.3)
    starts = torch.cat([host.seed(1, 12, 12), host.rollout(host.seed(1, 12, 12), 10)]).detach()

    def objective(recovery: Recovery | None) -> GrowingObjective:
        run = Intervened(host, perturbation=Perturbation.identity(16))
        return GrowingObjective(host, variant, "regenerating", pool_size=8, batch_size=4, steps=(8, 10),
                                damage_count=1, attack=run, starts=starts, recovery=recovery)

    g = torch.Generator().manual_seed(5)
    plain, x = objective(None).loss(g)
    lifted = host(x, int(torch.randint(20, 30, (1,), generator=g)), g)
    expected = plain + 0.5 * rgba_mse(lifted, original, host.layout.rgba).mean()
    with_recovery = objective(Recovery(original, 0.5, (20, 30)))
    loss, _ = with_recovery.loss(torch.Generator().manual_seed(5))
    assert torch.allclose(loss, expected) and loss > plain + 1e-4
    loss.backward()
    assert next(with_recovery.model.parameters()).grad is not None
    assert all(p.grad is None for p in host.parameters())
    with pytest.raises(ValueError, match="recovery needs"):
        objective(Recovery(torch.zeros(4, 6, 6)))


def test_attack_and_eval_commands_on_a_growing_host(tmp_path, small_model, disc_png):
    runner = CliRunner()
    common = ["--host", small_model, "--target", disc_png, "--iterations", "2", "--steps", "4", "6",
              "--grow-steps", "5", "--pool", "8", "--checkpoint-every", "1"]
    for kind in ("perturb", "inject"):
        result = runner.invoke(main, ["attack", kind, *common, "--out", str(tmp_path / kind)])
        assert result.exit_code == 0, result.output
        assert (tmp_path / kind / "attack.gif").stat().st_size > 0
    result = runner.invoke(main, ["attack", "perturb", *common, "--clip", "0.01", "--recover-weight", "0.5",
                                  "--recover-steps", "3", "5", "--out", str(tmp_path / "c")])
    assert result.exit_code == 0 and "beyond --clip 0.01" in result.output, result.output
    assert ckpt.load(tmp_path / "c" / "checkpoint", family="perturbation").config.clip == 0.01
    task = ckpt.load(tmp_path / "c" / "checkpoint").task
    assert task.recover_weight == 0.5 and task.recover_steps == (3, 5) and task.clip == 0.01
    task = ckpt.load(tmp_path / "inject" / "checkpoint").task
    assert task.attack == "adversary" and task.host == small_model and task.fraction == 0.1
    assert task.grid == (16, 16)
    first = ckpt.load(tmp_path / "inject" / "checkpoint").state_dict()
    result = runner.invoke(main, ["attack", "inject", *common, "--lr", "1e-12", "--init",
                                  str(tmp_path / "inject" / "checkpoint"), "--out", str(tmp_path / "again")])
    assert result.exit_code == 0, result.output  # trained on from the first adversary: (almost) unmoved
    again = ckpt.load(tmp_path / "again" / "checkpoint").state_dict()
    assert all(torch.allclose(first[k], again[k], atol=1e-6) for k in first)
    made = ckpt.load(tmp_path / "again" / "checkpoint").provenance["init_provenance"]  # the chain is kept
    assert made["command"] == ckpt.load(tmp_path / "inject" / "checkpoint").provenance["command"]
    result = runner.invoke(main, ["attack", "inject", *common, "--init", str(tmp_path / "c" / "checkpoint"),
                                  "--out", str(tmp_path / "wrong")])
    assert result.exit_code != 0 and "--init" in result.output  # a perturbation is no adversary
    result = runner.invoke(main, ["attack", "inject", "--out", str(tmp_path / "inject"), "--resume",
                                  "--iterations", "3"])
    assert result.exit_code == 0, result.output  # the run keeps its host and target
    assert ckpt.load(tmp_path / "inject" / "checkpoint").task.host == small_model
    result = runner.invoke(main, ["attack", "inject", "--target", "red", "--out", str(tmp_path / "z")])
    assert result.exit_code != 0 and "give --host" in result.output
    out = tmp_path / "perturb.json"
    result = runner.invoke(main, ["eval", "attack", "perturb", "--host", small_model, "--perturbation",
                                  str(tmp_path / "perturb" / "checkpoint") + ":0.5", "--target", disc_png,
                                  "--phase-steps", "6", "--samples", "2", "--json", str(out),
                                  "--with", str(tmp_path / "c" / "checkpoint") + "=" + disc_png,
                                  "--plot", str(tmp_path / "perturb.png")])
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    for key in ("mse_variant_on", "mse_original_off", "host_mse_original_off", "mse_variant_on_again",
                "aligned_mse_original_off"):
        assert np.isfinite(figures[key])
    assert figures["aligned_mse_original_off"] <= figures["mse_original_off"]
    assert 0 <= figures["recovered_off"] <= figures["aligned_recovered_off"] <= 1
    assert set(figures["scaled"]) == {"1.0", "0.5", "0.0", "-0.5", "-1.0"}
    (pair,) = figures["pairs"].values()
    assert set(pair) == {"mse_variant", "mse_original", "mse_other"}  # no "both": not named variants
    assert (tmp_path / "perturb.png").exists()
    out = tmp_path / "inject.json"
    result = runner.invoke(main, ["eval", "attack", "inject", "--host", small_model, "--adversary",
                                  str(tmp_path / "inject" / "checkpoint"), "--target", disc_png, "--samples",
                                  "2", "--json", str(out)])
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    for key in ("mse_variant_attack", "mse_original_removed", "host_mse_original",
                "aligned_mse_original_removed"):
        assert np.isfinite(figures[key])
    assert 0 <= figures["recovered_removed"] <= figures["aligned_recovered_removed"] <= 1
    assert figures["variant_reached"] in (0.0, 0.5, 1.0)  # of 2 samples


def test_a_variant_is_reached_only_where_it_is_much_nearer_than_the_original():
    from ncaforge.families.growing.attack_measures import injection_schedule
    from ncaforge.families.growing.model import GrowingConfig, build_growing

    host, adversary = build_growing(GrowingConfig(hidden=16)), build_growing(GrowingConfig(hidden=16))
    original = torch.zeros(4, 16, 16)
    original[3, 4:12, 4:12] = 1.0
    kwargs = {"fraction": 0.1, "samples": 2, "grow_steps": 2, "attack_steps": 2, "removed_steps": 2}
    same, _ = injection_schedule(host, adversary, original, original, **kwargs)
    assert same["variant_reached"] == 0.0  # as near the variant as the original: not reached
    empty = torch.zeros_like(original)  # an untrained host keeps nothing alive: its picture is empty
    near, _ = injection_schedule(host, adversary, empty, original, **kwargs)
    assert near["mse_variant_attack"] <= 0.5 * near["mse_original_attack"] and near["variant_reached"] == 1.0


def test_aligned_mse_forgives_a_small_shift_and_nothing_else():
    from ncaforge.families.growing.attack_measures import aligned_mse, recovered_fraction
    from ncaforge.objectives.losses import rgba_mse

    target = torch.zeros(4, 12, 12)
    target[:, 4:8, 3:7] = 1.0
    x = torch.stack([target, torch.roll(target, (1, -2), (1, 2)), torch.roll(target, 3, 2),
                     target * 0.5]).repeat(1, 2, 1, 1)  # 8 channels, RGBA first
    plain = rgba_mse(x, target, [0, 1, 2, 3])
    aligned = aligned_mse(x, target, [0, 1, 2, 3], shift=2)
    assert float(aligned[0]) == 0 and float(aligned[1]) == 0 < float(plain[1])  # within 2 pixels: forgiven
    assert 0 < float(aligned[2]) < float(plain[2])  # 3 pixels off: closer, not forgiven
    assert float(aligned[3]) == float(plain[3]) > 0  # a wrong pattern in place stays wrong
    assert recovered_fraction(np.array([0.1, 0.2, 0.3, 0.5]), 0.1) == 0.5


def test_compose_writes_the_sum_of_directions(tmp_path):
    runner = CliRunner()
    for name, seed in (("a", 1), ("b", 2)):
        m = torch.randn(16, 16, generator=torch.Generator().manual_seed(seed)) * 0.1
        ckpt.save(tmp_path / name, Perturbation.from_matrix(torch.eye(16) + (m + m.T) / 2))
    result = runner.invoke(main, ["perturb", "compose", f"{tmp_path / 'a'}:0.5", f"{tmp_path / 'b'}:-1",
                                  "--out", str(tmp_path / "ab")])
    assert result.exit_code == 0, result.output
    a, b, ab = (ckpt.load(tmp_path / n, family="perturbation") for n in ("a", "b", "ab"))
    assert torch.allclose(ab.matrix, torch.eye(16) + 0.5 * a.direction - b.direction, atol=1e-6)
    result = runner.invoke(main, ["perturb", "inspect", str(tmp_path / "ab"),
                                  "--plot", str(tmp_path / "e.png")])
    assert result.exit_code == 0 and "eigenvalues" in result.output and (tmp_path / "e.png").exists()


def test_attack_commands_refuse_bad_input(tmp_path, small_model):
    runner = CliRunner()
    result = runner.invoke(main, ["attack", "perturb", "--host", small_model, "--target", "nonsense.png",
                                  "--out", str(tmp_path / "x")])
    assert result.exit_code != 0 and "nonsense.png" in result.output
    result = runner.invoke(main, ["attack", "perturb", "--host", small_model, "--target", "tailless",
                                  "--recover-weight", "1", "--recover-steps", "9", "4",
                                  "--out", str(tmp_path / "x")])
    assert result.exit_code != 0 and "--recover-steps" in result.output
    odd = tmp_path / "odd"  # a host whose grid is not its target's size plus padding
    ckpt.save(odd, random_growing(hidden=16), {},
              GrowingTask(target="lizard", target_size=10, pad=3, grid=(20, 20)))
    result = runner.invoke(main, ["attack", "perturb", "--host", str(odd), "--target", "tailless",
                                  "--out", str(tmp_path / "x")])
    assert result.exit_code != 0 and "grows on" in result.output  # a 16x16 variant on a 20x20 host
    classifier = tmp_path / "classifier"
    ckpt.save(classifier, build_classifier(ClassifierConfig(features=16, hidden=16)))
    result = runner.invoke(main, ["attack", "inject", "--host", str(classifier), "--target", "red",
                                  "--out", str(tmp_path / "y")])
    assert result.exit_code != 0 and "class:N" in result.output
    result = runner.invoke(main, ["attack", "inject", "--host", str(classifier), "--target", "class:8",
                                  "--recover-weight", "1", "--out", str(tmp_path / "y")])
    assert result.exit_code != 0 and "growing hosts" in result.output


def test_grow_runs_perturbed_and_infiltrated_within_the_attack_window(tmp_path, small_model):
    runner = CliRunner()
    adversary = tmp_path / "adversary"
    ckpt.save(adversary, random_growing(hidden=16, scale=0.2))
    m = torch.randn(16, 16, generator=torch.Generator().manual_seed(3)) * 0.3
    ckpt.save(tmp_path / "p", Perturbation.from_matrix(torch.eye(16) + (m + m.T) / 2))

    def grow(name, *extra):
        result = runner.invoke(main, ["grow", "--model", small_model, "--steps", "12", "--batch", "2",
                                      "--save-steps", "6", "--save-steps", "12",
                                      "--out", str(tmp_path / name), *extra])
        assert result.exit_code == 0, result.output
        return np.load(tmp_path / name / "states.npz")["rgba"]

    plain = grow("plain")
    same = grow("self", "--adversary", small_model, "--fraction", "0.5")  # the host's own rule
    assert np.allclose(same, plain, atol=1e-5)
    late = grow("late", "--adversary", str(adversary), "--fraction", "0.5", "--attack-steps", "6", "12")
    assert np.array_equal(late[0], plain[0]) and not np.allclose(late[1], plain[1], atol=1e-3)
    perturbed = grow("perturbed", "--perturbation", str(tmp_path / "p"))
    assert not np.allclose(perturbed[1], plain[1], atol=1e-3)
    nothing = grow("k0", "--perturbation", str(tmp_path / "p") + ":0", "--perturbation",
                   str(tmp_path / "p") + ":0")  # 0 * P + 0 * P: the identity, but the clip
    assert np.allclose(nothing, plain, atol=1e-5)
    from PIL import Image

    black = np.zeros((16, 16, 4), np.uint8)
    black[..., 3] = 255
    Image.fromarray(black).save(tmp_path / "none.png")
    none = grow("none", "--adversary", str(adversary), "--mask-image", str(tmp_path / "none.png"))
    assert np.array_equal(none, plain)  # no cell placed: the host alone
    black[6:10, 6:10, :3] = 255
    Image.fromarray(black).save(tmp_path / "square.png")
    placed = grow("placed", "--adversary", str(adversary), "--mask-image", str(tmp_path / "square.png"))
    assert not np.allclose(placed[1], plain[1], atol=1e-3)
    result = runner.invoke(main, ["grow", "--model", small_model, "--adversary", str(adversary),
                                  "--fraction", "1.5", "--out", str(tmp_path / "bad")])
    assert result.exit_code != 0 and "fraction" in result.output


def test_attack_and_eval_commands_on_a_classifier_host(tmp_path):
    from test_mnist_data import _idx_dir

    _idx_dir(tmp_path, n_train=20, n_test=6)
    host = tmp_path / "host"
    ckpt.save(host, build_classifier(ClassifierConfig(features=16, hidden=16)))
    runner = CliRunner()
    result = runner.invoke(main, ["attack", "inject", "--host", str(host), "--target", "class:8",
                                  "--mnist-dir", str(tmp_path), "--iterations", "2", "--mnist-steps", "3",
                                  "--batch", "4", "--pool", "8", "--out", str(tmp_path / "eight")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "eight" / "attack.gif").stat().st_size > 0
    out = tmp_path / "eight.json"
    result = runner.invoke(main, ["eval", "attack", "inject", "--host", str(host), "--adversary",
                                  str(tmp_path / "eight" / "checkpoint"), "--target", "class:8",
                                  "--sweep", "0.01", "--mnist-dir", str(tmp_path), "--limit", "4",
                                  "--json", str(out)])
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert figures["digits"] == 4 and set(figures["sweep"]) == {"0.01"}
    for key in ("target_majority_100", "target_cells_100", "recovered_200_after_removal"):
        assert 0.0 <= figures[key] <= 1.0
