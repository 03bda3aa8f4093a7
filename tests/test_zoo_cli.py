"""`nca zoo list` as a table that fits a terminal, `nca zoo show NAME` with every figure of one model."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from ncaforge import zoo
from ncaforge.cli import main
from ncaforge.render.text import number


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


@pytest.mark.parametrize("columns", [100, 80])
def test_zoo_list_is_one_row_per_model_within_the_terminal(runner, columns):
    result = runner.invoke(main, ["zoo", "list"], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert all(len(line) <= columns for line in lines)
    first_words = [line.split()[0] for line in lines if line.strip()]
    for entry in zoo.index():
        assert first_words.count(entry["name"]) == 1
        row = next(line for line in lines if line.split()[0] == entry["name"])
        assert entry["family"] in row.split()
    assert len(lines) <= len(zoo.index()) + 4  # a header, its rule and a hint: no metric dump


def test_zoo_show_gives_metrics_and_provenance(runner):
    result = runner.invoke(main, ["zoo", "show", "lizard"])
    assert result.exit_code == 0, result.output
    entry = next(e for e in zoo.index() if e["name"] == "lizard")
    out = result.output
    assert entry["description"] in out and entry["sha256"] in out and "PROVENANCE.md" in out
    for key, value in entry["metrics"].items():
        assert any(line.split() == [key, number(value)] for line in out.splitlines()), key
    assert "nca train growing" in out and "train_seconds" in out and "machine" in out


def test_zoo_show_of_an_unknown_name_is_a_one_line_error(runner):
    result = runner.invoke(main, ["zoo", "show", "nope"])
    assert result.exit_code != 0
    message = result.output.strip()
    assert "\n" not in message and "nope" in message and "lizard" in message and "Traceback" not in message
