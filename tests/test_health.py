"""Long runs of every zoo model stay finite and bounded, and patterns meant to persist neither die nor
fill the grid (2,000 steps here; benchmarks/long_run_health.py prints the 10,000-step table)."""

from __future__ import annotations

import pytest

from ncaforge import zoo
from ncaforge.analysis.health import alone_warning, model_health

pytestmark = [pytest.mark.slow, pytest.mark.zoo]


# The zoo's cellular automata and the attacks on them; the judge (a plain CNN classifier) does not run.
RUNNABLE = [entry["name"] for entry in zoo.index() if entry["family"] != "judge"]


@pytest.mark.parametrize("name", RUNNABLE)
def test_a_zoo_model_stays_healthy_for_2000_steps(name):
    health = model_health(name, zoo.load(name), 2000, batch=1)
    assert health.diverged_at is None, health
    assert health.max_abs < 100, health  # measured: 1.4 (gray-scott) to 14.1 (lizard)
    assert health.persists in (True, None), health  # alive cells within 2x of step 200's


def test_an_adversary_alone_is_said_to_diverge_instead_of_overflowing():
    adversary = zoo.load("adversary-eight")
    health = model_health("adversary-eight", adversary, 2000, batch=4, alone=True)  # diverges at 714
    assert health.diverged_at is not None and "not meant to run" in health.note
    assert "--host mnist --adversary adversary-eight" in alone_warning(adversary, "adversary-eight")
    assert alone_warning(zoo.load("lizard"), "lizard") is None
