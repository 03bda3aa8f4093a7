import json

import pytest
import torch

from conftest import bars, random_growing
from ncaforge.analysis.simulate import Damage, simulate
from ncaforge.data.targets import load_target
from ncaforge.web.demo import run_demo

pytestmark = pytest.mark.slow


def test_simulate_applies_damage_after_the_named_step():
    nca = random_growing(scale=0.0)  # the identity rule: only damage changes the state
    x = torch.ones(1, 16, 21, 21)
    rec = simulate(nca, x, 4, [Damage(2, (0.0, 0.0), 3.0)], frame_every=1)
    assert rec.frame_steps == [0, 1, 2, 3, 4]
    assert torch.equal(rec.frames[2], x[:, :4])
    assert rec.frames[3][0, 3, 10, 10] == 0 and rec.frames[3][0, 3, 0, 0] == 1


def test_demo_writes_a_report_with_media_and_figures(tmp_path, disc_png):
    nca = random_growing(hidden=16, scale=0.02)
    target = load_target(disc_png, size=10, pad=3)
    index = run_demo(nca, target, tmp_path, seed=0, name="test", playground="playground/index.html")
    html = index.read_text()
    for name in ("grow_damage_regrow.gif", "strip.png", "mse.png", "regen_mse",
                 'href="playground/index.html"'):
        assert name in html
    assert (tmp_path / "grow_damage_regrow.gif").stat().st_size > 0
    figures = json.loads((tmp_path / "eval.json").read_text())
    assert set(figures) >= {"mse_100", "mse_200", "persistence_max_mse", "regen_mse"}


def test_demo_adds_the_mnist_section_when_given_a_classifier(tmp_path, disc_png):
    from ncaforge.families.classifier.model import ClassifierConfig, build_classifier

    nca = random_growing(hidden=16, scale=0.02)
    classifier = build_classifier(ClassifierConfig(channels=12, classes=2, features=16, hidden=16))
    images, labels = bars(20)
    adversary = build_classifier(ClassifierConfig(channels=12, classes=2, features=16, hidden=16))
    adversary.provenance = {"target": "class:1"}
    index = run_demo(nca, load_target(disc_png, size=10, pad=3), tmp_path, mnist=(classifier, images, labels),
                     mnist_adversary=adversary)
    html = index.read_text()
    assert "Self-classifying MNIST digits" in html and "mnist_classify.gif" in html
    figures = json.loads((tmp_path / "mnist_eval.json").read_text())
    assert 0 <= figures["total_agreement_200"] <= 1
    assert "make the digits say 1" in html and "mnist_hijack.gif" in html
    hijack = json.loads((tmp_path / "mnist_hijack.json").read_text())
    assert 0 <= hijack["target_majority_100"] <= 1 and 0 <= hijack["recovered_200_after_removal"] <= 1


def test_demo_adds_a_perturbation_section_when_given_perturbations(tmp_path, disc_png):
    from ncaforge.interventions.perturbation import Perturbation

    nca = random_growing(hidden=16, scale=0.02)
    target = load_target(disc_png, size=10, pad=3)
    red = torch.eye(16)
    red[1, 1] = red[2, 2] = 0.5  # less green and blue
    variant = target.clone()
    variant[1:3] *= 0.5
    perturbations = {"red": (Perturbation.from_matrix(red), variant),
                     "dim": (Perturbation.from_matrix(0.9 * torch.eye(16)), target)}
    index = run_demo(nca, target, tmp_path, perturbations=perturbations)
    html = index.read_text()
    assert "A global perturbation: red" in html
    for name in ("perturb_on_off.gif", "perturb_phases.png", "perturb_scaled.png", "perturb_sum.png"):
        assert name in html and (tmp_path / name).stat().st_size > 0
    figures = json.loads((tmp_path / "perturb_eval.json").read_text())
    assert set(figures) >= {"mse_variant_on", "mse_original_off", "host_mse_original_off"}


def test_demo_adds_the_pde_section_when_given_a_pde_model(tmp_path, disc_png):
    from ncaforge.data.pde import PRESETS
    from ncaforge.families.pde.model import build_pde
    from ncaforge.families.pde.task import PDETask

    pde_model = build_pde()
    pde_model.task = PDETask(data=("data",), every=8, horizon=16, grid=(12, 12),
                             data_meta={"pde": "gray-scott", "params": PRESETS["paper"].to_dict()})
    pde_model.provenance = {"command": "nca train pde"}
    index = run_demo(random_growing(hidden=16, scale=0.02), load_target(disc_png, size=10, pad=3), tmp_path,
                     pde_model=pde_model)
    html = index.read_text()
    assert "Learning a PDE" in html and "pde_12x12" in html and "pde_24x24" in html
    assert (tmp_path / "pde_24x24.gif").stat().st_size > 0
