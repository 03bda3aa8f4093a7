"""The example notebooks run end to end with small budgets, each checked on the figures of its last cell.

Each notebook has a code cell tagged ``parameters`` whose defaults are what a user would
run; the test appends smaller values to that cell and executes the notebook with
nbclient in a kernel that runs this interpreter (a kernel spec written for the test, so
a user's own ``python3`` kernel spec cannot send it to another Python).
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
kernelspec = pytest.importorskip("jupyter_client.kernelspec")
manager = pytest.importorskip("jupyter_client.manager")

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
KERNEL = "ncaforge-test"
PROBE = "import sys; print('KERNEL-PYTHON', sys.executable)"


def run_notebook(name: str, overrides: dict[str, object], tmp_path: Path) -> tuple[dict, list, float]:
    """Execute ``examples/name`` with ``overrides`` appended to its parameters cell; returns (the
    JSON that its last cell prints, the executed cells, seconds)."""
    nb = nbformat.read(EXAMPLES / name, as_version=4)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, f"{name}: one cell tagged 'parameters' expected, found {len(params)}"
    cell = params[0]
    for key in overrides:
        assert f"\n{key} = " in f"\n{cell.source}", f"{name}: the parameters cell sets no {key}"
    cell.source += "\n# the test's budgets\n" + "".join(f"{k} = {v!r}\n" for k, v in overrides.items())
    nb.cells.insert(0, nbformat.v4.new_code_cell(PROBE))

    spec_dir = tmp_path / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "ncaforge tests", "language": "python"}))
    specs = kernelspec.KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")])
    km = manager.KernelManager(kernel_name=KERNEL, kernel_spec_manager=specs)
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "TMPDIR": str(work)}  # the notebooks' temporary folders land in tmp_path
    env.pop("MPLBACKEND", None)  # the kernel's inline backend, so that figures become outputs
    client = nbclient.NotebookClient(nb, km=km, timeout=600, kernel_name=KERNEL,
                                     resources={"metadata": {"path": str(work)}})
    start = time.perf_counter()
    try:
        client.execute(env=env)  # raises CellExecutionError at the first cell that fails
    finally:
        if km.has_kernel:  # nbclient leaves a kernel manager it was given running
            km.shutdown_kernel(now=True)
    seconds = time.perf_counter() - start
    print(f"{name}: {seconds:.1f} s; cells: {', '.join(f'{t:.1f}' for t in cell_seconds(nb.cells))}")

    probe = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    assert f"KERNEL-PYTHON {sys.executable}" in probe, probe
    for c in nb.cells:
        errors = [o for o in c.get("outputs", []) if o.output_type == "error"]
        assert not errors, f"{name}: {errors}"
    last = nb.cells[-1]
    text = "".join(o.get("text", "") for o in last.outputs if o.output_type == "stream")
    figures = json.loads(text.strip().splitlines()[-1])
    print(f"{name}: {figures}")
    return figures, nb.cells, seconds


def cell_seconds(cells: list) -> list[float]:
    """The seconds each code cell took (nbclient records the times in the cells' metadata)."""
    out = []
    for c in cells:
        times = c.metadata.get("execution", {})
        if "iopub.execute_input" in times and "shell.execute_reply" in times:
            start, end = (datetime.fromisoformat(times[k].replace("Z", "+00:00"))
                          for k in ("iopub.execute_input", "shell.execute_reply"))
            out.append((end - start).total_seconds())
    return out


def images(cells: list) -> int:
    """How many pictures (PNG outputs, the matplotlib figures) the executed cells show."""
    return sum("image/png" in o.get("data", {}) for c in cells for o in c.get("outputs", []))


def test_grow_and_damage(tmp_path):
    figures, cells, _ = run_notebook("01_grow_and_damage.ipynb", {"STEPS": 120, "REGROW_STEPS": 100},
                                     tmp_path)
    assert figures["grown_mse"] < 0.005, figures  # the zoo lizard grows
    assert figures["damaged_mse"] > 2 * figures["grown_mse"], figures  # the cut shows
    assert figures["regrown_mse"] < figures["damaged_mse"] / 2, figures  # and grows back
    assert images(cells) >= 3
    assert any("image/gif" in o.get("data", {}) for c in cells for o in c.get("outputs", []))


def test_train_on_your_image(tmp_path):
    figures, cells, _ = run_notebook(
        "02_train_on_your_image.ipynb",
        {"ITERATIONS": 40, "BATCH": 4, "POOL": 32, "STEPS": (16, 24), "HIDDEN": 32, "MODE": "growing",
         "GROW_STEPS": 40}, tmp_path)
    assert figures["iterations"] == 40, figures
    assert figures["last_loss"] < figures["first_loss"], figures
    assert figures["reloaded_same"] is True, figures
    assert images(cells) >= 3


def test_attack_with_a_perturbation(tmp_path):
    figures, cells, _ = run_notebook(
        "03_attack_with_a_perturbation.ipynb",
        {"ITERATIONS": 3, "POOL": 16, "STEPS": (8, 12), "GROW_STEPS": 60, "PHASE_STEPS": 60,
         "SCALES": (0.0, 1.0)}, tmp_path)
    assert figures["iterations"] == 3, figures
    assert figures["difference_on"] > 1e-3, figures  # the perturbation changes the picture
    # k = 0 is the identity: the host alone, from the same state with the same random stream
    assert figures["scaled_variant_mse"]["0.0"] == pytest.approx(figures["variant_mse"]["plain host"],
                                                                 rel=1e-4, abs=1e-7), figures
    assert figures["scaled_variant_mse"]["1.0"] == pytest.approx(figures["variant_mse"]["perturbation on"],
                                                                 rel=1e-4, abs=1e-7), figures
    assert images(cells) >= 5
