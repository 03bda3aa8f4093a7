"""Every `nca ...` example a user can read is run: README.md's bash blocks and every command's --help.

The lines run in order, in one working directory (a run a line makes is there for the lines after
it), in-process with click's CliRunner, with small budgets (iterations, batch, steps, samples)
swapped in so the whole file takes about a minute on two CPU cores. A line is skipped only for a
reason listed in SKIPPED; an import of a published Distill file, which the repository does not
ship, must fail with a clean error that names the missing file.
"""

from __future__ import annotations

import re
import shlex
import time
import traceback
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ncaforge.cli import main

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]

# Lines that are not run, and why (asserted to be exactly these, so a new skip is a visible change).
SKIP_REASONS = {
    "demo": "covered by tests/test_demo.py and CI's `make demo`",
    "play": "serves the playground until stopped; covered by tests/test_web_browser.py",
}
SKIPPED = [
    ("nca play", SKIP_REASONS["play"]),
    ("nca demo", SKIP_REASONS["demo"]),
    ("nca play --model logic-async-checkerboard --size 48 48", SKIP_REASONS["play"]),
    ("nca play --model runs/lizard/checkpoint --port 8080", SKIP_REASONS["play"]),
]
# Imports of the files the Distill authors published (not in the repository): each must fail cleanly.
MISSING_INPUTS = [
    "nca import distill-growing ex3_lizard.json --out models/distill-lizard",
    "nca import distill-mnist mnist.json --out models/distill-mnist",
    "nca import distill-perturbation tail.npy --out models/distill-tail",
    "nca import distill-texture models.json --all --out imported",
]

# Budgets, by command path: option -> value(s), replacing the line's own value or appended.
TRAINING = {"--iterations": 2, "--checkpoint-every": 1}
BUDGETS: dict[tuple[str, ...], dict[str, object]] = {
    ("train", "growing"): {**TRAINING, "--batch": 8, "--pool": 8, "--steps": (4, 6), "--damage-count": 1},
    ("train", "mnist"): {**TRAINING, "--batch": 8, "--pool": 16, "--steps": 10},
    ("train", "pde"): {**TRAINING, "--batch": 2, "--pool": 4},
    # a growing host's batch holds its start states (seed, grown) and --damage-count (3) damaged samples
    ("attack", "perturb"): {**TRAINING, "--batch": 6, "--pool": 8, "--steps": (4, 6), "--grow-steps": 10},
    ("eval", "growing"): {"--samples": 1, "--persistence-steps": 500},
    ("eval", "mnist"): {"--limit": 20},
    ("eval", "attack", "perturb"): {"--samples": 1, "--phase-steps": 20},
    ("eval", "pde"): {"--test": 1, "--large": 0},
    ("data", "pde"): {"--size": (16, 16), "--steps": 64, "--every": 8, "--train": 2, "--test": 1},
    ("grow",): {"--steps": 20},
    ("bench",): {"--size": (12, 12), "--batch": 1, "--steps": 2, "--repeats": 1},
    ("classify",): {"--digits": 2, "--steps": 20},
    **{("train", name): {**TRAINING, "--pool": 8, "--size": 24, "--steps": (4, 6)}
       for name in ("texture", "munca", "rd")},
    ("eval", "texture"): {"--samples": 1, "--size": 32, "--steps": 20, "--until": 40, "--every": 20,
                          "--regen-steps": 10},
    ("texture", "graft"): {"--steps": 20, "--size": (32, 32)},
    **{("train", name): {**TRAINING, "--batch": 4, "--pool": 8, "--steps": (4, 6), "--damage-count": 1,
                         "--target-size": 12, "--pad": 4} for name in ("isotropic", "steerable")},
    ("eval", "symmetry"): {"--samples": 1, "--steps": 10, "--regrow-steps": 5},
    ("train", "logic"): {**TRAINING, "--steps": (4, 5), "--lr-drop": 1},
    ("eval", "logic"): {"--size": 64, "--steps": 5, "--scale": 1, "--runs": 2},
    ("train", "arc"): {**TRAINING, "--steps": (4, 6), "--supervised": 2, "--predict-steps": 6},
    ("arc", "solve"): {"--limit": 1, "--iterations": 2, "--workers": 1},
    ("train", "conditional"): {**TRAINING, "--batch": 4, "--pool": 8, "--steps": (4, 6), "--fresh": 1,
                               "--damage-count": 1},
    ("eval", "conditional"): {"--samples": 2, "--steps": 10, "--repair-steps": 5},
    ("train", "judge"): {**TRAINING, "--batch": 8},
    ("analyse", "landscape"): {"--runs": 2, "--steps": 12, "--perturb-at": 6, "--every": 3, "--components": 3,
                               "--cells": 100, "--ae-iterations": 5},
    ("eval", "stability"): {"--grid": (24, 40), "--steps": 4, "--distances": 10, "--offsets": 0,
                            "--delays": 0},
    ("robustness",): {"--samples": 1, "--budget": 1, "--attack-steps": 2, "--recovery-steps": 2,
                      "--directions": 1, "--rollout": (2, 3)},
}
# Commands whose budget depends on the host: a classifier host (--target class:N) or a growing one.
BY_HOST = {
    ("attack", "inject"): ({**TRAINING, "--batch": 8, "--pool": 16, "--mnist-steps": 10},
                           {**TRAINING, "--batch": 6, "--pool": 8, "--steps": (4, 6), "--grow-steps": 10}),
    ("eval", "attack", "inject"): ({"--limit": 20}, {"--samples": 1}),
}
RESUMED = {"--iterations": 3}  # a resume may change only a few options (README, "Runs")
# Options that name steps of a run whose --steps a budget shortens: scaled with it (150 of 300 -> 10 of 20).
STEP_OPTIONS = {("grow",): ("--damage-at", "--save-steps", "--attack-steps")}


def _commands(text: str) -> list[str]:
    """The `nca ...` lines of ``text``: continuation lines joined, trailing comments dropped."""
    out, pending = [], ""
    for raw in text.splitlines():
        line = pending + raw.strip()
        if line.endswith("\\"):
            pending = line[:-1].rstrip() + " "
            continue
        pending = ""
        if line.startswith("nca "):
            out.append(shlex.join(shlex.split(line, comments=True)))
    return out


def readme_lines() -> list[str]:
    blocks = re.findall(r"^```bash\n(.*?)^```", (ROOT / "README.md").read_text(), re.M | re.S)
    return [line for block in blocks for line in _commands(block)]


def _root_context() -> click.Context:
    return click.Context(main, info_name="nca", **main.context_settings)


def help_lines() -> list[str]:
    """The `nca ...` lines of every command's and subcommand's --help, walking the tree as click does
    (groups that make their subcommands on demand list them through list_commands/get_command)."""
    out = []

    def walk(cmd: click.Command, ctx: click.Context) -> None:
        out.extend(_commands(cmd.get_help(ctx)))
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None, f"{ctx.command_path} lists {name!r} but has no such command"
                walk(sub, click.Context(sub, info_name=name, parent=ctx))

    walk(main, _root_context())
    return out


def resolve(args: list[str]) -> tuple[tuple[str, ...], click.Command]:
    """The command path (e.g. ("eval", "attack", "inject")) that ``args`` name, and its command."""
    ctx, cmd, path = _root_context(), main, []
    while isinstance(cmd, click.Group) and len(path) < len(args):
        sub = cmd.get_command(ctx, args[len(path)])
        if sub is None:
            break
        path.append(args[len(path)])
        ctx, cmd = click.Context(sub, info_name=path[-1], parent=ctx), sub
    return tuple(path), cmd


def with_option(args: list[str], flag: str, value: object) -> list[str]:
    """``args`` with ``flag`` set to ``value`` (a tuple for a multi-value option): replaced if there."""
    values = [str(v) for v in (value if isinstance(value, tuple) else (value,))]
    if flag in args:
        i = args.index(flag)
        return [*args[:i + 1], *values, *args[i + 1 + len(values):]]
    return [*args, flag, *values]


def budgeted(line: str) -> list[str]:
    """The arguments (after `nca`) to run ``line`` with, at a test's budget."""
    args = shlex.split(line)[1:]
    path, cmd = resolve(args)
    takes = {opt for p in cmd.params for opt in p.opts}
    if "--resume" in args:
        rules = RESUMED
    elif path in BY_HOST:
        classifier = any(a.startswith("class:") for a in args)
        rules = BY_HOST[path][0 if classifier else 1]
    else:
        rules = BUDGETS.get(path, TRAINING if "--iterations" in takes else {})
    scale = None
    if path in STEP_OPTIONS and "--steps" in rules:
        default = next(p.default for p in cmd.params if "--steps" in p.opts)
        scale = rules["--steps"] / int(args[args.index("--steps") + 1] if "--steps" in args else default)
    for flag, value in rules.items():
        assert flag in takes, f"`nca {' '.join(path)}` has no {flag} (the test's budget for it is stale)"
        args = with_option(args, flag, value)
    if scale is not None:
        args = scaled_steps(args, STEP_OPTIONS[path], scale, {o: p.nargs for p in cmd.params for o in p.opts})
    return args


def scaled_steps(args: list[str], flags: tuple[str, ...], scale: float, nargs: dict[str, int]) -> list[str]:
    """``args`` with the values of ``flags`` (every occurrence) multiplied by ``scale``, rounded down."""
    args = list(args)
    for i, a in enumerate(args):
        if a in flags:
            for j in range(i + 1, i + 1 + nargs[a]):
                args[j] = str(int(int(args[j]) * scale))
    return args


def skip_reason(line: str) -> str | None:
    path, _ = resolve(shlex.split(line)[1:])
    return SKIP_REASONS.get(path[0]) if path else None


def _missing_input(line: str) -> str | None:
    """For `nca import KIND FILE ...`: FILE, if neither the working directory nor the repository has it."""
    args = shlex.split(line)[1:]
    if args[0] != "import" or len(args) < 3:
        return None
    file = args[2]
    return None if Path(file).exists() or (ROOT / file).exists() else file


def _report(line: str, args: list[str], result) -> str:
    text = f"$ {line}\n  ran as: nca {shlex.join(args)}\n  exit code {result.exit_code}\n{result.output}"
    if result.exc_info and not isinstance(result.exception, SystemExit):
        text += "".join(traceback.format_exception(*result.exc_info))
    return text


def test_the_examples_are_found():
    lines = readme_lines()
    assert "nca zoo list" in lines and len(lines) > 20
    assert not [line for line in lines if "#" in line or "\\" in line]
    # the --help walk reaches the subcommands made from the family registry
    path, _ = resolve(["train", "growing"])
    assert path == ("train", "growing")
    assert any(line.startswith("nca export web ") for line in help_lines())


def test_with_option_replaces_values_and_appends_missing_ones():
    assert with_option(["grow", "--steps", "300", "--out", "o"], "--steps", 20) == [
        "grow", "--steps", "20", "--out", "o"]
    assert with_option(["train", "--steps", "64", "96"], "--steps", (4, 6)) == ["train", "--steps", "4", "6"]
    assert with_option(["train"], "--pool", 8) == ["train", "--pool", "8"]


def test_a_shorter_run_keeps_its_events_inside_it():
    assert budgeted("nca grow --steps 300 --damage-at 150 --damage-at 200 --attack-steps 0 300") == [
        "grow", "--steps", "20", "--damage-at", "10", "--damage-at", "13", "--attack-steps", "0", "20"]
    assert budgeted("nca grow --damage-at 100")[-4:] == ["--damage-at", "10", "--steps", "20"]  # default 200


def test_every_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lines = list(dict.fromkeys(readme_lines() + help_lines()))  # in order, each once
    runner = CliRunner()
    skipped, missing, failures, timings = [], [], [], []
    start = time.perf_counter()
    for line in lines:
        reason = skip_reason(line)
        if reason is not None:
            skipped.append((line, reason))
            continue
        args = budgeted(line)
        t = time.perf_counter()
        result = runner.invoke(main, args)
        timings.append((time.perf_counter() - t, line))
        file = _missing_input(line)
        if file is not None:  # a published file the repository does not ship: a clean, one-line error
            missing.append(line)
            errors = [o for o in result.output.splitlines() if o.startswith("Error")]
            clean = (result.exit_code != 0 and isinstance(result.exception, SystemExit)
                     and "Traceback" not in result.output and len(errors) == 1 and file in errors[0])
            if not clean:
                failures.append("expected a one-line error naming the missing file\n"
                                + _report(line, args, result))
        elif result.exit_code != 0:
            failures.append(_report(line, args, result))
    total = time.perf_counter() - start
    print(f"\n{len(timings)} examples in {total:.0f}s; slowest:")
    for seconds, line in sorted(timings, reverse=True)[:8]:
        print(f"  {seconds:6.1f}s  {line}")
    assert not failures, f"{len(failures)} of {len(timings)} examples failed:\n\n" + "\n\n".join(failures)
    assert skipped == SKIPPED
    assert missing == MISSING_INPUTS
