"""Bad input, generated: every case ends with a non-zero exit and a short message, never a traceback,
and leaves no half-written file behind.

Cases are made from the things a user hands the `nca` command: checkpoints (each config and task field
given a value of the wrong type or out of range, each file damaged), numbers on the command line, and
data files (targets, trajectories, perturbations, MNIST folders).
"""

from __future__ import annotations

import base64
import json
import math
import types
import typing
import zlib
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from safetensors.torch import save_file

from conftest import random_growing
from ncaforge.cli import main
from ncaforge.families.growing.model import GrowingConfig
from ncaforge.families.growing.task import GrowingTask
from ncaforge.io import checkpoint as ckpt


def run(args: list[str]):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_clear_failure(result, where: Path | None = None) -> None:
    """A non-zero exit through click (not an uncaught exception), a message of a few lines, no
    traceback, and no temporary file left in ``where``."""
    assert result.exit_code != 0, f"accepted: {result.output}"
    assert isinstance(result.exception, SystemExit), f"uncaught {result.exception!r}\n{result.output}"
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 6, result.output
    if where is not None and where.exists():
        leftovers = [p.name for p in where.rglob("*") if ".tmp" in p.name]
        assert not leftovers, leftovers


# ----- checkpoints ---------------------------------------------------------------------------------

def wrong_values(cls: type) -> list[tuple[str, object]]:
    """(field, value) pairs that ``cls`` must refuse: a value of another type for every field, and
    values outside the bounds its metadata declares."""
    hints = typing.get_type_hints(cls)
    cases: list[tuple[str, object]] = []
    for f in fields(cls):
        hint = hints[f.name]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        kind = args[0] if typing.get_origin(hint) in (typing.Union, types.UnionType) else hint
        origin = typing.get_origin(kind)
        if kind is int:
            cases += [(f.name, "16"), (f.name, 1.5), (f.name, True), (f.name, [1])]
        elif kind is float:
            cases += [(f.name, "0.5"), (f.name, [0.5]), (f.name, math.nan), (f.name, math.inf)]
        elif kind is str:
            cases += [(f.name, 3), (f.name, ["x"])]
        elif origin is tuple:
            cases += [(f.name, "abc"), (f.name, 5), (f.name, {"a": 1})]
            if typing.get_args(kind)[-1] is not Ellipsis:
                cases.append((f.name, [1, 2, 3]))
        if "min" in f.metadata:
            low = f.metadata["min"] - 1
            cases.append((f.name, [low, low] if origin is tuple else low))
        if "max" in f.metadata:
            cases.append((f.name, f.metadata["max"] + 1))
        if "choices" in f.metadata:
            cases.append((f.name, "no-such-choice"))
        if f.metadata.get("interval"):
            cases.append((f.name, [9, 3]))
    return cases


@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("good") / "model"
    ckpt.save(path, random_growing(hidden=8), {"command": "a test"},
              GrowingTask(target="lizard", target_size=8, pad=2, grid=(12, 12)))
    return path


def damaged(good: Path, where: Path, change: Callable[[Path], None]) -> Path:
    """A copy of ``good`` with ``change`` applied to it."""
    import shutil

    shutil.copytree(good, where)
    change(where)
    return where


def edit_config(edit: Callable[[dict], object]) -> Callable[[Path], None]:
    def change(path: Path) -> None:
        config = json.loads((path / "config.json").read_text())
        config = edit(config) or config
        (path / "config.json").write_text(json.dumps(config))
    return change


def set_field(section: str, name: str, value: object) -> Callable[[Path], None]:
    return edit_config(lambda c: c[section].__setitem__(name, value))


def weights(change: Callable[[dict[str, torch.Tensor]], None]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        from safetensors.torch import load_file

        tensors = load_file(str(path / "model.safetensors"))
        change(tensors)
        save_file(tensors, str(path / "model.safetensors"))
    return write


def put(tensors: dict, name: str, value: float) -> None:
    tensors[name].view(-1)[0] = value


FILE_CASES: dict[str, Callable[[Path], None]] = {
    "config missing": lambda p: (p / "config.json").unlink(),
    "config not JSON": lambda p: (p / "config.json").write_text("{not json"),
    "config a list": lambda p: (p / "config.json").write_text("[1, 2]"),
    "config binary": lambda p: (p / "config.json").write_bytes(b"\xff\xfe\x00\x01"),
    "config section missing": edit_config(lambda c: c.pop("config")),
    "config section a string": edit_config(lambda c: c.__setitem__("config", "16 channels")),
    "provenance a list": edit_config(lambda c: c.__setitem__("provenance", [1, 2])),
    "task a string": edit_config(lambda c: c.__setitem__("task", "lizard")),
    "task of an unknown kind": set_field("task", "kind", "no-such-task"),
    "family unknown": edit_config(lambda c: c.__setitem__("family", "no-such-family")),
    "family missing": edit_config(lambda c: c.pop("family")),
    "format version 99": edit_config(lambda c: c.__setitem__("format_version", 99)),
    "format version a string": edit_config(lambda c: c.__setitem__("format_version", "2")),
    "feature order grouped": edit_config(lambda c: c.__setitem__("feature_order", "grouped")),
    "weights missing": lambda p: (p / "model.safetensors").unlink(),
    "weights empty": lambda p: (p / "model.safetensors").write_bytes(b""),
    "weights truncated": lambda p: (p / "model.safetensors").write_bytes(
        (p / "model.safetensors").read_bytes()[:500]),
    "weights a pickle": lambda p: (p / "model.safetensors").write_bytes(b"\x80\x04\x95" + b"\0" * 64),
    "weights a directory": lambda p: ((p / "model.safetensors").unlink(),
                                      (p / "model.safetensors").mkdir()),
    "a NaN weight": weights(lambda t: put(t, "update.net.2.weight", math.nan)),
    "an inf weight": weights(lambda t: put(t, "update.net.0.bias", math.inf)),
    "a tensor missing": weights(lambda t: t.pop("update.net.0.bias")),
    "a tensor of the wrong shape": weights(lambda t: t.__setitem__("update.net.0.bias", torch.zeros(3))),
    "hidden not the weights' width": set_field("config", "hidden", 16),
}
FIELD_CASES = {f"config.{n}={v!r}": set_field("config", n, v) for n, v in wrong_values(GrowingConfig)}
FIELD_CASES |= {f"task.{n}={v!r}": set_field("task", n, v) for n, v in wrong_values(GrowingTask)}
CHECKPOINT_CASES = FILE_CASES | FIELD_CASES


@pytest.mark.parametrize("case", sorted(CHECKPOINT_CASES))
def test_a_damaged_checkpoint_is_a_clear_error(case, good_checkpoint, tmp_path):
    model = damaged(good_checkpoint, tmp_path / "model", CHECKPOINT_CASES[case])
    result = run(["grow", "--model", model, "--steps", "2", "--out", tmp_path / "out"])
    assert_clear_failure(result, tmp_path)
    assert not (tmp_path / "out" / "states.npz").exists()


def test_the_good_checkpoint_grows(good_checkpoint, tmp_path):
    """The cases above fail for their damage, not because the checkpoint they start from is bad."""
    result = run(["grow", "--model", good_checkpoint, "--steps", "2", "--out", tmp_path / "out"])
    assert result.exit_code == 0, result.output


def test_there_are_many_generated_cases():
    cases = [CHECKPOINT_CASES, OPTION_CASES, DATA_CASES, IMPORT_CASES, TRAJECTORY_CASES, RUN_CASES]
    assert sum(map(len, cases)) >= 150


# ----- numbers on the command line -----------------------------------------------------------------

TRAIN = ["train", "growing", "--target-size", "8", "--pad", "2", "--iterations", "1", "--batch", "2",
         "--pool", "4", "--damage-count", "1", "--steps", "2", "3", "--hidden", "8"]
GROW = ["grow", "--model", "lizard", "--steps", "2"]
OPTION_CASES: dict[str, list[str]] = {}
for flag, values in {"--size": [["0", "0"], ["-4", "-4"], ["20000", "20000"], ["2", "x"]],
                     "--steps": [["0"], ["-5"], ["100000000"], ["x"]],
                     "--fps": [["0"], ["-1"]], "--scale": [["0"], ["-2"]],
                     "--damage-radius": [["-3"], ["0"]], "--damage-centre": [["50", "50"], ["-1", "2"]],
                     "--damage-at": [["-1"]], "--threads": [["-1"]], "--device": [["gpu"]]}.items():
    for v in values:
        OPTION_CASES[f"grow {flag} {' '.join(v)}"] = [*GROW, flag, *v]
for flag, values in {"--lr": ["nan", "inf", "-1", "0"], "--iterations": ["0", "-3"],
                     "--checkpoint-every": ["0", "-3"], "--hidden": ["0", "-1"], "--channels": ["0", "3"],
                     "--fire-rate": ["1.5", "-0.1", "nan"], "--target-size": ["0", "-1", "100000"],
                     "--pad": ["-1", "100000"], "--batch": ["0"], "--pool": ["0"], "--damage-count": ["-1"],
                     "--lr-drop": ["-5"], "--grad-checkpoint": ["-1"], "--threads": ["-2"],
                     "--device": ["gpu"], "--mode": ["sometimes"], "--padding": ["mirror"],
                     "--filters": ["", "identity,nosuch"], "--seed": ["x"]}.items():
    for v in values:
        OPTION_CASES[f"train {flag} {v}"] = [*TRAIN, flag, v]
OPTION_CASES["train --steps 9 3"] = [*TRAIN, "--steps", "9", "3"]
for args in (["eval", "mnist", "--limit", "0"], ["eval", "mnist", "--limit", "-3"],
             ["eval", "mnist", "--steps", "-1"], ["eval", "growing", "--samples", "0"],
             ["eval", "growing", "--persistence-steps", "-1"], ["eval", "pde", "--model", "gray-scott",
                                                               "--limit", "0"],
             ["data", "pde", "--every", "0"], ["data", "pde", "--every", "-4"],
             ["data", "pde", "--steps", "0"], ["data", "pde", "--train", "0"],
             ["data", "pde", "--test", "-1"], ["data", "pde", "--size", "0", "0"],
             ["perturb", "compose", "perturb-red:nan"], ["perturb", "compose", "perturb-red:inf"],
             ["perturb", "compose", "perturb-red:x"], ["zoo", "show", "no-such-model"],
             ["eval", "attack", "inject", "--host", "lizard", "--adversary", "adversary-red",
              "--target", "red", "--fraction", "1.5"],
             ["eval", "attack", "perturb", "--host", "lizard", "--perturbation", "perturb-red", "--target",
              "red", "--samples", "0"],
             ["attack", "perturb", "--host", "lizard", "--target", "red", "--clip", "-1"],
             ["attack", "inject", "--host", "lizard", "--target", "red", "--steps", "0", "5"],
             ["export", "web", "--size", "0", "0"], ["play", "--port", "70000"],
             ["bench", "--repeats", "0"], ["train", "pde", "--l1", "-1"],
             ["eval", "attack", "perturb", "--host", "lizard", "--perturbation", "perturb-red:nan",
              "--target", "red", "--samples", "1"]):
    OPTION_CASES[" ".join(args)] = args


@pytest.mark.parametrize("args", [GROW, TRAIN], ids=["grow", "train"])
def test_the_commands_the_bad_numbers_go_into_succeed_as_they_are(args, tmp_path):
    """Each case below fails for its one bad number, not for the command it changes."""
    result = run([*args, "--out", tmp_path / "out"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("case", sorted(OPTION_CASES))
def test_a_bad_number_is_a_clear_error(case, tmp_path):
    args = OPTION_CASES[case]
    if "--out" not in args and args[0] in ("grow", "train", "data", "perturb"):
        args = [*args, "--out", str(tmp_path / "out")]
    assert_clear_failure(run(args), tmp_path)
    assert not (tmp_path / "out" / "checkpoint").exists()


# ----- data files ----------------------------------------------------------------------------------

def image_cases(tmp: Path) -> dict[str, Path]:
    """Target files that are not usable images."""
    tmp.mkdir(parents=True, exist_ok=True)
    out = {"empty file": tmp / "empty.png", "text as png": tmp / "text.png", "truncated png": tmp / "cut.png",
           "a directory": tmp / "dir.png", "missing": tmp / "missing.png",
           "fully transparent": tmp / "clear.png", "huge": tmp / "huge.png"}
    out["empty file"].write_bytes(b"")
    out["text as png"].write_text("not an image")
    Image.fromarray(np.full((8, 8, 4), 200, np.uint8)).save(tmp / "ok.png")
    out["truncated png"].write_bytes((tmp / "ok.png").read_bytes()[:40])
    out["a directory"].mkdir()
    Image.fromarray(np.zeros((8, 8, 4), np.uint8), "RGBA").save(out["fully transparent"])
    png = bytearray((tmp / "ok.png").read_bytes())  # its header says 30000 x 30000 (a decompression bomb)
    png[16:24] = (30000).to_bytes(4, "big") * 2
    png[29:33] = zlib.crc32(bytes(png[12:29])).to_bytes(4, "big")
    out["huge"].write_bytes(bytes(png))
    return out


DATA_CASES = ["empty file", "text as png", "truncated png", "a directory", "missing", "fully transparent",
              "huge"]


@pytest.mark.parametrize("case", DATA_CASES)
def test_a_bad_target_image_is_a_clear_error(case, tmp_path):
    target = image_cases(tmp_path / "img")[case]
    result = run([*TRAIN, "--target", target, "--out", tmp_path / "run"])
    assert_clear_failure(result, tmp_path)
    assert str(target.name) in result.output or case == "huge"


# ----- imported models and trajectories ------------------------------------------------------------

def b64(a: np.ndarray) -> str:
    return base64.b64encode(np.asarray(a, "<f4").tobytes()).decode()


def layer(in_ch: object = 4, out_ch: object = 3, data: str | None = None) -> dict:
    return {"in_ch": in_ch, "out_ch": out_ch, "weight_scale": 1.0, "bias_scale": 1.0, "type": "uint8",
            "data_b64": data if data is not None else base64.b64encode(bytes(64)).decode()}


def tfjs(content: str, dims: list) -> dict:
    return {"modelTopology": {"node": [{"op": "Const", "name": "w", "attr": {"value": {"tensor": {
        "dtype": "DT_FLOAT", "tensorShape": {"dim": dims}, "tensorContent": content}}}}]}}


IMPORT_CASES: dict[str, tuple[str, str, object]] = {  # name: (importer, suffix, file content)
    "growing: a number": ("distill-growing", ".json", 3),
    "growing: modelTopology a list": ("distill-growing", ".json", {"modelTopology": [1, 2]}),
    "growing: a dimension 'abc'": ("distill-growing", ".json", tfjs(b64(np.zeros(4)), [{"size": "abc"}])),
    "growing: base64 without padding": ("distill-growing", ".json", tfjs("AAAAAAA", [{"size": 1}])),
    "growing: no Const nodes": ("distill-growing", ".json", {"modelTopology": {"node": []}}),
    "growing: a layer with in_ch 0": ("distill-growing", ".json", [layer(0), layer(8, 2)]),
    "growing: in_ch a word": ("distill-growing", ".json", [layer("four"), layer()]),
    "growing: one layer": ("distill-growing", ".json", [layer()]),
    "growing: layers of strings": ("distill-growing", ".json", ["a", "b"]),
    "growing: bad base64 data": ("distill-growing", ".json", [layer(data="!!!"), layer(data="!!!")]),
    "growing: not JSON": ("distill-growing", ".json", "{oops"),
    "mnist: 5 arrays": ("distill-mnist", ".json", [b64(np.zeros(2))] * 5),
    "mnist: NaN weights": ("distill-mnist", ".json", [b64(np.full(n, np.nan)) for n in
                                                       (3 * 3 * 3 * 4, 4, 4 * 5, 5, 5 * 2, 2)]),
    "mnist: sizes that do not fit": ("distill-mnist", ".json",
                                     [b64(np.zeros(n)) for n in (7, 4, 20, 5, 10, 2)]),
    "mnist: not base64": ("distill-mnist", ".json", ["***"] * 6),
    "perturbation: an .npz": ("distill-perturbation", ".npy", "npz"),
    "perturbation: an empty array": ("distill-perturbation", ".npy", np.zeros((0, 0), np.float32)),
    "perturbation: not square": ("distill-perturbation", ".npy", np.zeros((3, 4), np.float32)),
    "perturbation: NaN": ("distill-perturbation", ".npy", np.full((4, 4), np.nan, np.float32)),
    "perturbation: integers": ("distill-perturbation", ".npy", np.eye(4, dtype=np.int64)),
    "perturbation: text": ("distill-perturbation", ".npy", "not an array"),
}


def write_case(path: Path, content: object) -> Path:
    if isinstance(content, np.ndarray):
        np.save(path, content)
    elif content == "npz":
        with open(path, "wb") as f:
            np.savez(f, a=np.eye(4))
    elif isinstance(content, str):
        path.write_text(content)
    else:
        path.write_text(json.dumps(content))
    return path


@pytest.mark.parametrize("case", sorted(IMPORT_CASES))
def test_a_malformed_import_is_a_clear_error(case, tmp_path):
    importer, suffix, content = IMPORT_CASES[case]
    source = write_case(tmp_path / f"model{suffix}", content)
    result = run(["import", importer, source, "--out", tmp_path / "out"])
    assert_clear_failure(result, tmp_path)
    assert source.name in result.output
    assert not (tmp_path / "out").exists()


def frames_npz(path: Path, **arrays: object) -> Path:
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


TRAJECTORY_CASES: dict[str, Callable[[Path], Path]] = {
    "a broken .npz": lambda d: (d / "t.npz").write_bytes(b"PK\x03\x04broken") and d / "t.npz",
    "an .npz without frames": lambda d: frames_npz(d / "t.npz", a=np.zeros((3, 1, 4, 4)), b=np.zeros(2)),
    "an .npz of strings": lambda d: frames_npz(d / "t.npz", frames=np.array(["a", "b"])),
    "an .npz of one frame": lambda d: frames_npz(d / "t.npz", frames=np.zeros((1, 1, 4, 4))),
    "an .npz with every 0": lambda d: frames_npz(d / "t.npz", frames=np.zeros((3, 1, 4, 4)), every=0),
    "an .npz with every -4": lambda d: frames_npz(d / "t.npz", frames=np.zeros((3, 1, 4, 4)), every=-4),
    "an .npz of NaN": lambda d: frames_npz(d / "t.npz", frames=np.full((3, 1, 4, 4), np.nan)),
    "a GIF without frames": lambda d: (d / "t.gif").write_bytes(b"GIF89a") and d / "t.gif",
    "a folder of unreadable images": lambda d: [
        (d / "f" / f"{i}.png").write_text("no image") for i in range(3) if (d / "f").mkdir(exist_ok=True)
        or True] and d / "f",
    "a missing file": lambda d: d / "nowhere.npz",
    "a text file": lambda d: (d / "t.txt").write_text("frames") and d / "t.txt",
}


@pytest.mark.parametrize("case", sorted(TRAJECTORY_CASES))
def test_a_bad_trajectory_is_a_clear_error(case, tmp_path):
    data = TRAJECTORY_CASES[case](tmp_path)
    result = run(["train", "pde", "--data", data, "--iterations", "1", "--out", tmp_path / "run"])
    assert_clear_failure(result, tmp_path)
    assert data.name in result.output  # the message names what is wrong
    assert not (tmp_path / "run" / "checkpoint").exists()


def test_integer_frames_in_an_npz_are_scaled_as_images_are(tmp_path):
    from ncaforge.data.trajectories import load_trajectory

    raw = (np.arange(3 * 4 * 4).reshape(3, 1, 4, 4) * 5).astype(np.uint8)
    frames, _, _ = load_trajectory(frames_npz(tmp_path / "t.npz", frames=raw))
    assert np.allclose(frames, raw / 255.0)


# ----- a run directory to resume -------------------------------------------------------------------

@pytest.fixture(scope="module")
def good_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("run") / "run"
    assert CliRunner().invoke(main, [*TRAIN, "--iterations", "2", "--checkpoint-every", "1",
                                     "--out", str(run_dir)]).exit_code == 0
    return run_dir


def state_json(edit: Callable[[dict], object]) -> Callable[[Path], None]:
    def change(run_dir: Path) -> None:
        path = run_dir / "checkpoint" / "train_state.json"
        state = json.loads(path.read_text())
        path.write_text(json.dumps(edit(state) or state))
    return change


def cut(name: str, keep: int) -> Callable[[Path], None]:
    def change(run_dir: Path) -> None:
        path = run_dir / "checkpoint" / name
        path.write_bytes(path.read_bytes()[:keep])
    return change


RUN_CASES: dict[str, Callable[[Path], None]] = {
    "train state truncated": cut("train_state.safetensors", 300),
    "train state empty": cut("train_state.safetensors", 0),
    "train state missing": lambda r: (r / "checkpoint" / "train_state.safetensors").unlink(),
    "train state json not JSON": lambda r: (r / "checkpoint" / "train_state.json").write_text("{oops"),
    "train state json without config": state_json(lambda s: s.pop("config")),
    "train state json config a list": state_json(lambda s: s.__setitem__("config", [1])),
    "train state json iteration a word": state_json(lambda s: s.__setitem__("iteration", "two")),
    "model weights truncated": cut("model.safetensors", 100),
}


@pytest.mark.parametrize("case", sorted(RUN_CASES))
def test_a_damaged_run_is_a_clear_error_on_resume(case, good_run, tmp_path):
    run_dir = damaged(good_run, tmp_path / "run", RUN_CASES[case])
    result = run(["train", "growing", "--out", run_dir, "--resume", "--iterations", "4"])
    assert_clear_failure(result, tmp_path)


def test_the_good_run_resumes(good_run, tmp_path):
    run_dir = damaged(good_run, tmp_path / "run", lambda r: None)
    result = run(["train", "growing", "--out", run_dir, "--resume", "--iterations", "3"])
    assert result.exit_code == 0, result.output
