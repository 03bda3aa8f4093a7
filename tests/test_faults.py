"""Faults while writing: one writer per run directory, a killed writer's leftovers swept, a full or
read-only disk failing cleanly with the previous checkpoint intact, Ctrl-C and kill -9 mid-run."""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ncaforge.core.atomic import atomic_dir, atomic_file, recover_dir, uninterrupted
from ncaforge.core.lock import LOCK_FILE, LockedError, locked
from ncaforge.io import checkpoint as ckpt

NCA = [sys.executable, "-m", "ncaforge.cli"]


def dead_pid() -> int:
    """The pid of a process that has ended."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    return int(done.stdout)


def test_a_killed_writers_leftovers_are_swept_and_a_live_ones_kept(tmp_path):
    path = tmp_path / "checkpoint"
    dead = tmp_path / f".checkpoint.tmp-{dead_pid()}-abcd"
    dead.mkdir()
    (dead / "model.safetensors").write_bytes(b"half")
    live = tmp_path / f".checkpoint.tmp-{os.getppid()}-efgh"  # the test runner's parent: alive
    live.mkdir()
    with atomic_dir(path) as tmp:
        assert str(os.getpid()) in tmp.name  # a name of this process's own
        (tmp / "x").write_text("new")
    assert not dead.exists() and live.exists() and (path / "x").read_text() == "new"
    stale_file = tmp_path / f".loss.png.tmp-{dead_pid()}-zz.png"
    stale_file.write_bytes(b"half")
    with atomic_file(tmp_path / "loss.png") as tmp:
        assert tmp.suffix == ".png"
        tmp.write_bytes(b"png")
    assert not stale_file.exists()


def test_a_second_writer_is_refused_and_a_stale_lock_taken_over(tmp_path):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / LOCK_FILE).write_text(json.dumps({"pid": other.pid, "host": os.uname().nodename}))
        with pytest.raises(LockedError, match=f"process {other.pid}"), locked(tmp_path):
            pass
    finally:
        other.kill()
        other.wait()
    with locked(tmp_path) as lock:  # its process is gone: taken over
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert not (tmp_path / LOCK_FILE).exists()


TRAIN = ["train", "growing", "--target-size", "8", "--pad", "2", "--batch", "4", "--pool", "8",
         "--damage-count", "1", "--steps", "4", "6", "--hidden", "8", "--seed", "3", "--threads", "1"]


def nca(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*NCA, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, **kwargs)


def weights(run: Path) -> dict[str, torch.Tensor]:
    return ckpt.load(run / "checkpoint").state_dict()


def saved_iteration(run: Path) -> int:
    """The iteration of the run's checkpoint (0 if none yet; -1 while a writer replaces it)."""
    try:
        return json.loads((run / "checkpoint" / "train_state.json").read_text())["iteration"]
    except FileNotFoundError:
        return 0 if not (run / "checkpoint.old").exists() else -1


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_a_full_or_read_only_disk_fails_cleanly_and_keeps_the_checkpoint(tmp_path, code, monkeypatch):
    from click.testing import CliRunner

    from ncaforge.cli import main

    run = tmp_path / "run"
    assert CliRunner().invoke(main, [*TRAIN, "--iterations", "2", "--checkpoint-every", "1",
                                     "--out", str(run)]).exit_code == 0
    before = weights(run)

    def no_room(*args, **kwargs):
        raise OSError(code, os.strerror(code), str(run / "checkpoint" / "model.safetensors"))

    monkeypatch.setattr(ckpt, "save_file", no_room)
    result = CliRunner().invoke(main, ["train", "growing", "--out", str(run), "--resume",
                                       "--iterations", "4"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert os.strerror(code) in result.output and "Traceback" not in result.output
    assert saved_iteration(run) == 2
    assert all(torch.equal(before[k], v) for k, v in weights(run).items())
    assert not [p for p in run.iterdir() if ".tmp" in p.name] and not (run / LOCK_FILE).exists()


def test_a_signal_during_a_save_is_delivered_after_it():
    """Ctrl-C or SIGTERM inside `uninterrupted()` waits for the block, then reaches its own handler."""
    done = []
    with pytest.raises(KeyboardInterrupt), uninterrupted():
        signal.raise_signal(signal.SIGINT)
        done.append("saved")
    assert done == ["saved"]
    terms = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: terms.append(signum))
    try:
        with uninterrupted():
            signal.raise_signal(signal.SIGTERM)
            assert not terms  # held
        assert terms == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers are given back


def wait_for(predicate, seconds: float = 60) -> None:
    end = time.time() + seconds
    while not predicate():
        assert time.time() < end, "timed out"
        time.sleep(0.05)


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_the_run_resumes(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen([*NCA, *TRAIN, "--iterations", "100000", "--checkpoint-every", "2",
                             "--out", str(run)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"},
                            # a shell's background job inherits SIGINT ignored; a terminal's does not
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    wait_for(lambda: (run / "checkpoint" / "train_state.json").exists())
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted at iteration" in err and "Traceback" not in err
    kept = saved_iteration(run)
    assert kept >= 2 and not (run / LOCK_FILE).exists()
    done = nca("train", "growing", "--out", str(run), "--resume", "--iterations", str(kept + 2))
    assert done.returncode == 0, done.stderr
    assert saved_iteration(run) == kept + 2


@pytest.mark.slow
def test_sigterm_stops_a_run_as_ctrl_c_does(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen([*NCA, *TRAIN, "--iterations", "100000", "--checkpoint-every", "2",
                             "--out", str(run)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    wait_for(lambda: (run / "checkpoint" / "train_state.json").exists())
    proc.terminate()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "interrupted at iteration" in err and "terminated" in err and "Traceback" not in err
    assert saved_iteration(run) >= 2 and not (run / LOCK_FILE).exists()


@pytest.mark.slow
def test_five_kills_and_resumes_end_where_an_uninterrupted_run_ends(tmp_path):
    """kill -9 at random moments (mid-iteration, mid-checkpoint-write); each resume continues from the
    last complete checkpoint, and the final weights equal those of a run never killed."""
    iterations = 24
    whole = tmp_path / "whole"
    assert nca(*TRAIN, "--iterations", str(iterations), "--checkpoint-every", "1",
               "--out", str(whole)).returncode == 0
    run, rng, kills = tmp_path / "killed", random.Random(0), 0
    while kills < 5:
        args = (["train", "growing", "--out", str(run), "--resume", "--iterations", str(iterations)]
                if saved_iteration(run) > 0 else
                [*TRAIN, "--iterations", str(iterations), "--checkpoint-every", "1", "--out", str(run)])
        proc = subprocess.Popen([*NCA, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={**os.environ, "OMP_NUM_THREADS": "1"})
        start = saved_iteration(run)
        wait_for(lambda s=start: saved_iteration(run) > s, 120)
        time.sleep(rng.uniform(0.0, 0.3))
        proc.kill()
        proc.wait()
        kills += 1
        recover_dir(run / "checkpoint")
        assert saved_iteration(run) < iterations, "the run ended before its kill: kill sooner"
    done = nca("train", "growing", "--out", str(run), "--resume", "--iterations", str(iterations))
    assert done.returncode == 0, done.stderr
    assert saved_iteration(run) == iterations
    expected = weights(whole)
    assert all(torch.equal(expected[k], v) for k, v in weights(run).items())
    assert not [p for p in run.iterdir() if ".tmp" in p.name]
