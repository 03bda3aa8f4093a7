"""The playground: its JS step equals the Python step, and the export writes a site that loads."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from ncaforge import zoo
from ncaforge.interventions.intervened import Intervened
from ncaforge.interventions.perturbation import Perturbation
from ncaforge.models.classifier import digit_state
from ncaforge.web import export

NODE = shutil.which("node")
STEP_JS = Path(__file__).parent / "web" / "step.js"
needs_node = pytest.mark.skipif(NODE is None, reason="the parity test runs the page's JS under Node")


def channels_last(x: torch.Tensor) -> str:
    return export.floats(x[0].permute(1, 2, 0))


def js_step(case: dict, shape: tuple[int, int, int, int]) -> torch.Tensor:
    """The page's step (engine.js under Node) on ``case``; returns (1, C, H, W)."""
    done = subprocess.run([NODE, str(STEP_JS), str(export.SITE_FILES)], input=json.dumps(case),
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    values = np.frombuffer(base64.b64decode(done.stdout), dtype="<f4")
    _, c, h, w = shape
    return torch.from_numpy(values.copy()).reshape(1, h, w, c).permute(0, 3, 1, 2)


def case_for(nca, name: str, x: torch.Tensor, fire: torch.Tensor, **extra) -> dict:
    h, w = x.shape[-2:]
    return {"model": export.model_spec(nca, name), "H": h, "W": w, "state": channels_last(x),
            "fire": export.floats(fire[0, 0].float()), **extra}


@pytest.fixture(scope="module")
def lizard_state() -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """The zoo lizard half grown (edges, dying and growing cells), and a fixed fire mask."""
    lizard = zoo.load("lizard")
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        x = lizard.rollout(lizard.seed(1, 48, 48), 40, g)
    fire = torch.rand(1, 1, 48, 48, generator=g) < 0.5
    return lizard, x, fire


@needs_node
def test_js_step_equals_python_for_the_growing_model(lizard_state) -> None:
    lizard, x, fire = lizard_state
    with torch.no_grad():
        want = lizard.step(x, fire)
    got = js_step(case_for(lizard, "lizard", x, fire), tuple(x.shape))
    assert (want[:, 3] > 0.1).sum() > 100  # a real pattern, not an empty grid
    assert torch.allclose(got, want, atol=1e-4), float((got - want).abs().max())
    assert not torch.equal(want, x)


@needs_node
def test_js_step_equals_python_under_composed_perturbations_and_adversaries(lizard_state) -> None:
    lizard, x, fire = lizard_state
    red, tailless = zoo.load("perturb-red"), zoo.load("perturb-tailless")
    ks = [0.7, -0.4]
    mixed = Perturbation.compose([(red, ks[0]), (tailless, ks[1])])
    adversary = zoo.load("adversary-red")
    mask = torch.rand(1, 1, 48, 48, generator=torch.Generator().manual_seed(1)) < 0.2
    with torch.no_grad():
        want = Intervened(lizard, mixed, adversary).step(x, fire, mask=mask)
        plain = lizard.step(x, fire)
    case = case_for(lizard, "lizard", x, fire, ks=ks,
                    perturbations=[export.perturbation_spec(p, n) for p, n in ((red, "r"), (tailless, "t"))],
                    adversary=export.model_spec(adversary, "adversary-red"),
                    mask=export.floats(mask[0, 0].float()))
    got = js_step(case, tuple(x.shape))
    assert (want - plain).abs().max() > 0.05  # the interventions change the step
    assert torch.allclose(got, want, atol=1e-4), float((got - want).abs().max())


@needs_node
def test_js_step_equals_python_for_the_classifier() -> None:
    mnist = zoo.load("mnist")
    g = torch.Generator().manual_seed(0)
    image = torch.zeros(1, 28, 28)
    image[0, 6:22, 10:18] = torch.rand(16, 8, generator=g)  # a blob of ink, some of it below 0.1
    with torch.no_grad():
        x = mnist.rollout(digit_state(mnist, image), 20, g)
    fire = torch.rand(1, 1, 28, 28, generator=g) < 0.5
    noise = torch.randn(1, 19, 28, 28, generator=g) * mnist.noise
    with torch.no_grad():
        want = mnist.step(x, fire, noise=noise)
    case = case_for(mnist, "mnist", x, fire, noise=export.floats(noise[0].permute(1, 2, 0)))
    got = js_step(case, tuple(x.shape))
    assert (want[:, -10:] - x[:, -10:]).abs().max() > 0.01
    assert torch.allclose(got, want, atol=1e-4), float((got - want).abs().max())


def test_site_export_attaches_interventions_to_their_hosts(tmp_path) -> None:
    site = export.build_site(["lizard", "mnist"], ["perturb-red", "perturb-tailless"],
                             ["adversary-eight", "adversary-red"], size=(64, 64))
    lizard, mnist = site["models"]
    assert lizard["grid"] == [64, 64] and mnist["grid"] == [28, 28]
    assert [p["name"] for p in lizard["perturbations"]] == ["perturb-red", "perturb-tailless"]
    assert [a["name"] for a in lizard["adversaries"]] == ["adversary-red"]
    assert [a["name"] for a in mnist["adversaries"]] == ["adversary-eight"] and not mnist["perturbations"]
    assert sorted(d["label"] for d in mnist["digits"]) == list(range(10))
    out = export.write_site(tmp_path / "site", site)
    assert {"index.html", "engine.js", "app.js", "models.js"} <= {f.name for f in out.iterdir()}
    text = (out / "models.js").read_text()
    assert text.startswith("window.NCAFORGE_SITE = ") and json.loads(text[23:-2]) == site


def test_site_export_says_what_does_not_fit(tmp_path) -> None:
    from ncaforge.io.checkpoint import save
    from ncaforge.models.pde import build_pde

    with pytest.raises(ValueError, match="the playground shows growing models and classifiers"):
        export.build_site([str(save(tmp_path / "pde", build_pde()))])
    with pytest.raises(ValueError, match="is a perturbation"):
        export.build_site(["perturb-red"])
    with pytest.raises(ValueError, match="fits no exported model"):
        export.build_site(["mnist"], adversaries=["adversary-red"])
    with pytest.raises(ValueError, match="at least one model"):
        export.build_site([])


def test_cli_export_web_writes_the_site_and_says_what_is_wrong(tmp_path) -> None:
    from click.testing import CliRunner

    from ncaforge.cli import main

    runner = CliRunner()
    out = tmp_path / "site"
    done = runner.invoke(main, ["export", "web", "--model", "lizard", "--perturbations",
                                "perturb-red,perturb-blue", "--size", "48", "48", "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert "lizard (+2 perturbations, +0 adversaries)" in done.output
    site = json.loads((out / "models.js").read_text()[23:-2])
    assert site["models"][0]["grid"] == [48, 48]
    done = runner.invoke(main, ["export", "web", "--model", "no-such-model", "--out", str(tmp_path / "x")])
    assert done.exit_code == 1 and "neither a zoo model" in done.output
    assert not (tmp_path / "x").exists()


def test_play_defaults_to_the_zoo_models_and_what_was_made_for_them() -> None:
    from ncaforge.cli.web import PLAY_MODELS, _zoo_extras

    perturbations, adversaries = _zoo_extras(list(PLAY_MODELS))
    assert {"perturb-red", "perturb-tailless"} <= set(perturbations)
    assert {"adversary-eight", "adversary-red"} <= set(adversaries)
