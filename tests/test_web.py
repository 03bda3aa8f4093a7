"""The playground: its JS step equals the Python step, and the export writes a site that loads."""

from __future__ import annotations

import base64
import json
import math
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from ncaforge import zoo
from ncaforge.core import family as registry
from ncaforge.core.layout import Layout
from ncaforge.core.nca import NCA
from ncaforge.core.perception import FixedPerception
from ncaforge.core.update import UpdateMLP
from ncaforge.core.view import ClassView, FieldView, RGBAView, RGBView
from ncaforge.families.classifier.model import digit_state
from ncaforge.families.nca import describe
from ncaforge.interventions.intervened import Intervened
from ncaforge.interventions.perturbation import Perturbation
from ncaforge.io.checkpoint import save
from ncaforge.render.views import draw
from ncaforge.web import export

NODE = shutil.which("node")
STEP_JS = Path(__file__).parent / "web" / "step.js"
DRAW_JS = Path(__file__).parent / "web" / "draw.js"
needs_node = pytest.mark.skipif(NODE is None, reason="the parity test runs the page's JS under Node")


def channels_last(x: torch.Tensor) -> str:
    return export.floats(x[0].permute(1, 2, 0))


def node(script: Path, payload: object) -> str:
    """What ``script`` prints for ``payload`` (JSON on stdin), with the site's folder as its argument."""
    done = subprocess.run([NODE, str(script), str(export.SITE_FILES)], input=json.dumps(payload),
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def from_channels_last(b64: str, dtype: str, shape: tuple[int, int, int]) -> torch.Tensor:
    """(1, C, H, W) of base64 values laid out (H, W, C)."""
    c, h, w = shape
    values = np.frombuffer(base64.b64decode(b64), dtype=dtype).astype(np.float32)
    return torch.from_numpy(values.copy()).reshape(1, h, w, c).permute(0, 3, 1, 2)


def js_step(case: dict, shape: tuple[int, int, int, int]) -> torch.Tensor:
    """The page's step (engine.js under Node) on ``case``; returns (1, C, H, W)."""
    return from_channels_last(node(STEP_JS, case), "<f4", shape[1:])


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
def test_js_step_equals_python_for_a_grafted_texture() -> None:
    """A texture model on a torus (no alpha: every cell alive), another grafted into it by the adversary
    brush: each cell follows the rule its mask names."""
    from ncaforge.families.texture.model import build_texture

    a, b = build_texture(), build_texture()
    torch.manual_seed(3)
    for model in (a, b):
        with torch.no_grad():
            for p in model.update.parameters():
                p.normal_(0.0, 0.1)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 12, 20, 24, generator=g) - 0.5
    fire = torch.rand(1, 1, 20, 24, generator=g) < 0.5
    mask = torch.zeros(1, 1, 20, 24, dtype=torch.bool)
    mask[..., :, 12:] = True
    with torch.no_grad():
        want = Intervened(a, adversary=b).step(x, fire, mask=mask)
    plain = js_step(case_for(a, "a", x, fire), tuple(x.shape))
    with torch.no_grad():
        assert torch.allclose(plain, a.step(x, fire), atol=1e-4)
    got = js_step(case_for(a, "a", x, fire, adversary=export.model_spec(b, "b"),
                           mask=export.floats(mask[0, 0].float())), tuple(x.shape))
    assert torch.allclose(got, want, atol=1e-4), float((got - want).abs().max())
    assert (got[..., 12:] - plain[..., 12:]).abs().max() > 0.01  # the grafted half runs B's rule


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


def seed_cells(spec: dict) -> list[int]:
    """The flat positions of a spec's seed cells."""
    return np.frombuffer(base64.b64decode(spec["seed"]["cells"]), "<f4").astype(int).tolist()


def test_site_export_attaches_interventions_to_their_hosts(tmp_path) -> None:
    site = export.build_site(["lizard", "mnist"], ["perturb-red", "perturb-tailless"],
                             ["adversary-eight", "adversary-red"], size=(64, 64))
    lizard, mnist = site["models"]
    assert lizard["grid"] == [64, 64] and mnist["grid"] == [28, 28]
    assert [p["name"] for p in lizard["perturbations"]] == ["perturb-red", "perturb-tailless"]
    assert [a["name"] for a in lizard["adversaries"]] == ["adversary-red"]
    assert [a["name"] for a in mnist["adversaries"]] == ["adversary-eight"] and not mnist["perturbations"]
    assert sorted(d["label"] for d in mnist["digits"]) == list(range(10))
    assert lizard["view"] == {"kind": "rgba", "rgb": [0, 1, 2], "alpha": 3}
    assert mnist["view"] == {"kind": "classes", "living": 0, "classes": 10, "threshold": 0.1}
    assert seed_cells(lizard) == [32 * 64 + 32]  # the growing family's seed: one cell at the centre
    assert mnist["seed"] is None  # a classifier starts empty: a digit is drawn or loaded
    assert export.mnist_digits((30, 30)) == []  # MNIST's digits fit only a 28x28 grid
    out = export.write_site(tmp_path / "site", site)
    assert {"index.html", "engine.js", "app.js", "models.js"} <= {f.name for f in out.iterdir()}
    text = (out / "models.js").read_text()
    assert text.startswith("window.NCAFORGE_SITE = ") and json.loads(text[23:-2]) == site


def test_site_export_says_what_does_not_fit(tmp_path) -> None:
    from ncaforge.families.pde.model import build_pde

    with pytest.raises(ValueError, match=r"of the pde family; the playground runs models of the .*growing"):
        export.build_site([str(save(tmp_path / "pde", build_pde()))])
    with pytest.raises(ValueError, match="is a perturbation"):
        export.build_site(["perturb-red"])
    with pytest.raises(ValueError, match="'adversary-red' is not a perturbation"):
        export.build_site(["lizard"], perturbations=["adversary-red"])
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
    perturbations, adversaries = export.zoo_extras(["lizard", "mnist"])  # what `nca play` shows by default
    assert {"perturb-red", "perturb-tailless"} <= set(perturbations)
    assert {"adversary-eight", "adversary-red"} <= set(adversaries)


VIEWS = (RGBAView(), RGBView((2, 0, 5), -1.0, 2.0), FieldView(4, -0.5, 1.5), ClassView(0, 10, 0.1))


@needs_node
def test_js_pictures_equal_python_for_every_view_kind(lizard_state) -> None:
    grown = lizard_state[1]
    noisy = torch.randn(grown.shape, generator=torch.Generator().manual_seed(3)) * 0.8 + 0.5  # beyond ranges
    cases = [(view, x) for view in VIEWS for x in (grown, noisy)]
    jobs = [{"picture": {"view": export.view_spec(view), "C": x.shape[1], "H": x.shape[2], "W": x.shape[3],
                         "state": channels_last(x)}} for view, x in cases]
    for (view, x), b64 in zip(cases, json.loads(node(DRAW_JS, jobs)), strict=True):
        got, want = from_channels_last(b64, "u1", (4, *x.shape[2:])) / 255, draw(view, x)
        assert want.std() > 0.02, view  # a picture, not a blank
        assert torch.equal(got[:, 3], torch.ones_like(got[:, 3])), view  # opaque
        error = float((got[:, :3] - want).abs().max())
        assert error <= 1 / 255 + 1e-6, (view, error)


def scattered(model: NCA, task: object, batch: int, grid: tuple[int, int]) -> torch.Tensor:
    """A seed of a family's own: a twentieth of the cells, anywhere, with any values."""
    g = torch.Generator().manual_seed(4)
    x = torch.randn(batch, model.layout.channels, *grid, generator=g)
    return x * (torch.rand(batch, 1, *grid, generator=g) < 0.05)


@needs_node
def test_js_seed_is_the_familys_seed_sent_sparse(lizard_state, monkeypatch) -> None:
    lizard = lizard_state[0]
    centre = export.model_spec(lizard, "lizard", grid=(40, 50))
    monkeypatch.setitem(registry._FAMILIES, "growing", replace(registry.get("growing"), seed=scattered))
    own = export.model_spec(lizard, "own", grid=(40, 50))
    jobs = [{"seed": {"model": spec, "H": 40, "W": 50}} for spec in (centre, own)]
    got = [from_channels_last(b64, "<f4", (16, 40, 50)) for b64 in json.loads(node(DRAW_JS, jobs))]
    want = scattered(lizard, None, 1, (40, 50))
    assert torch.equal(got[0], lizard.seed(1, 40, 50))
    assert torch.equal(got[1], want)
    assert seed_cells(own) == torch.nonzero(want[0].ne(0).any(0).flatten()).flatten().tolist()
    assert len(own["seed"]["values"]) < 0.1 * len(export.floats(want))  # only the seeded cells travel


def cross(model: NCA, task: object, batch: int, grid: tuple[int, int]) -> torch.Tensor:
    """Five cells at the centre, every channel at 0.5."""
    h, w = grid
    x = torch.zeros(batch, model.layout.channels, h, w)
    for dy, dx in ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)):
        x[:, :, h // 2 + dy, w // 2 + dx] = 0.5
    return x


@needs_node
def test_any_web_family_exports_and_steps_as_the_registry_says(monkeypatch, tmp_path) -> None:
    monkeypatch.setitem(registry._FAMILIES, "nca", replace(
        registry.get("nca"), web=True, view=lambda model: RGBView((0, 1, 2)), seed=cross))
    layout = Layout(8, rgb=None, alpha=None)  # no alpha, no living channel: every cell updates
    perception = FixedPerception(8, ("identity", "laplacian"), padding="circular")
    nca = NCA(layout, perception, UpdateMLP(perception.out_features, 8, (16,)))
    with torch.no_grad():
        for p in nca.update.parameters():
            p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())) * 0.3)
    (spec,) = export.build_site([str(save(tmp_path / "hand", nca))], size=(20, 30))["models"]
    assert spec["family"] == "nca" and spec["grid"] == [20, 30] and "digits" not in spec  # no class view
    assert spec["view"] == {"kind": "rgb", "channels": [0, 1, 2], "low": 0.0, "high": 1.0}
    assert seed_cells(spec) == [9 * 30 + 15, 10 * 30 + 14, 10 * 30 + 15, 10 * 30 + 16, 11 * 30 + 15]

    g = torch.Generator().manual_seed(5)
    x = torch.rand(1, 8, 20, 30, generator=g)
    fire = torch.rand(1, 1, 20, 30, generator=g) < 0.5
    with torch.no_grad():
        want = nca.step(x, fire)
    got = js_step(case_for(nca, "hand", x, fire), tuple(x.shape))
    assert (want - x).abs().max() > 0.05
    assert torch.allclose(got, want, atol=1e-5), float((got - want).abs().max())

    odd = NCA(layout, perception, torch.nn.Sequential(torch.nn.Conv2d(16, 8, 1), torch.nn.Tanh()))
    odd.config = describe(nca)
    with pytest.raises(ValueError, match="'odd' \\(nca family\\) updates with Sequential, not an UpdateMLP"):
        export.model_spec(odd, "odd")


@needs_node
def test_js_alive_masking_keeps_read_only_inputs(monkeypatch) -> None:
    """A dead cell is cleared but keeps its inputs (``Layout.keep_inputs``): a class one-hot, say."""
    monkeypatch.setitem(registry._FAMILIES, "nca", replace(
        registry.get("nca"), web=True, view=lambda model: RGBAView((0, 1, 2), 3), seed=cross))
    layout = Layout(8, readonly=(6, 7))  # RGBA, two hidden channels, two inputs
    perception = FixedPerception(8, ("identity", "sobel_x", "sobel_y"))
    nca = NCA(layout, perception, UpdateMLP(perception.out_features, 6, (16,)))
    with torch.no_grad():
        for p in nca.update.parameters():
            p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())) * 0.3)
    g = torch.Generator().manual_seed(2)
    x = torch.rand(1, 8, 12, 16, generator=g)
    x[:, 3] *= (torch.rand(12, 16, generator=g) < 0.2).float()  # most cells dead or dying
    fire = torch.rand(1, 1, 12, 16, generator=g) < 0.5
    with torch.no_grad():
        want = nca.step(x, fire)
    cleared = want[0, :6].abs().sum(0) == 0
    assert cleared.sum() > 20 and torch.equal(want[0, 6:], x[0, 6:])  # cleared cells, inputs kept
    got = js_step(case_for(nca, "hand", x, fire), tuple(x.shape))
    assert torch.allclose(got, want, atol=1e-5), float((got - want).abs().max())


def symmetric_model(perception: str) -> NCA:
    """An isotropic (or steerable) model with random weights and its task, as a checkpoint has them."""
    from ncaforge.families.isotropic.model import IsotropicConfig, build_symmetric
    from ncaforge.families.isotropic.task import SymmetryTask
    from ncaforge.families.steerable import SteerableConfig

    steerable = perception == "steerable"
    nca = build_symmetric(SteerableConfig() if steerable else IsotropicConfig(perception=perception),
                          perception)
    with torch.no_grad():
        for p in nca.update.parameters():
            p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())) * 0.2)
    nca.task = SymmetryTask()
    return nca


@needs_node
@pytest.mark.parametrize("perception", ["laplacian", "lap_gradnorm", "gradient", "steerable"])
def test_js_step_equals_python_for_symmetric_models(perception) -> None:
    nca = symmetric_model(perception)
    g = torch.Generator().manual_seed(6)
    x = torch.rand(1, 16, 18, 22, generator=g)
    x[:, 3] = (x[:, 3] > 0.7).float()  # living islands and dead cells, which must keep their values
    if perception == "steerable":
        x[:, -1] = torch.rand(18, 22, generator=g) * 2 * math.pi
    fire = torch.rand(1, 1, 18, 22, generator=g) < 0.5
    with torch.no_grad():
        want = nca.step(x, fire)
    got = js_step(case_for(nca, perception, x, fire), tuple(x.shape))
    assert (want - x).abs().max() > 0.05 and (want == x).any()  # some cells changed, dead ones did not
    if perception == "steerable":  # angles as directions: 0 and 2 pi are one
        assert torch.allclose(torch.cos(got[:, -1] - want[:, -1]), torch.ones(1, 18, 22), atol=1e-6)
        got, want = got[:, :-1], want[:, :-1]
    assert torch.allclose(got, want, atol=1e-4), float((got - want).abs().max())


@needs_node
def test_js_turns_and_mirrors_seeds_as_the_family_does() -> None:
    from ncaforge.families.isotropic.task import seed_states

    turns = [(0, False), (45, False), (90, False), (135, True), (345, True)]
    jobs, want = [], []
    for perception in ("laplacian", "steerable"):
        nca = symmetric_model(perception)
        spec = export.model_spec(nca, perception, grid=(40, 50))
        assert len(spec["turned_seeds"]) == 48  # every 15 degrees, mirrored or not
        for angle, mirror in turns:
            jobs.append({"seed": {"model": spec, "H": 40, "W": 50, "angle": angle, "mirror": mirror}})
            want.append(seed_states(nca, nca.task, 1, (40, 50), angle=angle, mirror=mirror))
    got = [from_channels_last(b64, "<f4", (16, 40, 50)) for b64 in json.loads(node(DRAW_JS, jobs))]
    for g, w in zip(got, want, strict=True):
        assert torch.equal(g, w)
    assert not torch.equal(got[1], got[0]) and not torch.equal(got[6], got[5])  # the turns moved something


def test_the_playground_refuses_a_step_it_does_not_know() -> None:
    from ncaforge.families.texture.model import QuantizedNCA

    nca = symmetric_model("laplacian")
    quantized = QuantizedNCA(nca.layout, nca.perception, nca.update)  # redefines step, declares no masking
    quantized.config = nca.config
    assert export.model_spec(nca, "iso")["masking"] == "pre"
    with pytest.raises(ValueError, match="'q' \\(isotropic family\\) steps unlike ncaforge's NCA"):
        export.model_spec(quantized, "q")


@needs_node
@pytest.mark.parametrize("name", ["random", "logic-async-checkerboard"])
def test_js_step_equals_python_for_logic_circuits(name) -> None:
    from ncaforge.families.logic.model import LogicConfig, build_logic

    if name == "random":  # every gate a random one of the 16 functions, asynchronous
        nca = build_logic(LogicConfig(channels=3, kernels=2, kernel_layers=(4, 2), update_layers=(16, 8),
                                      fire_rate=0.6))
        g = torch.Generator().manual_seed(2)  # a circuit whose every output channel varies over cells
        with torch.no_grad():
            for p in nca.parameters():
                p.copy_(torch.randn(p.shape, generator=g))
    else:
        nca = zoo.load(name)
    nca.eval()  # the hard circuit
    c = nca.layout.channels
    g = torch.Generator().manual_seed(8)
    x = (torch.rand(1, c, 12, 14, generator=g) < 0.5).float()
    fire = torch.rand(1, 1, 12, 14, generator=g) < nca.fire_rate
    with torch.no_grad():
        want = nca.step(x, fire)
    spec = export.model_spec(nca, name)
    assert (spec["perception"]["kind"], spec["update"]["kind"], "layers" in spec) == ("logic", "gates", False)
    got = js_step(case_for(nca, name, x, fire), tuple(x.shape))
    assert not torch.equal(want, x) and torch.equal(want[~fire.expand_as(x)], x[~fire.expand_as(x)])
    assert all(0 < float(plane.sum()) < plane.numel() for plane in want[0])  # no channel constant
    assert torch.equal(got, want), float((got - want).abs().max())


def test_a_logic_zoo_model_goes_to_the_playground_with_its_seed(tmp_path) -> None:
    (spec,) = export.build_site(["logic-checkerboard"], size=(24, 24))["models"]
    assert spec["family"] == "logic" and spec["view"]["kind"] == "field" and spec["padding"] == "circular"
    assert seed_cells(spec) == [12 * 24 + 12]  # one cell, every channel on, at the centre
