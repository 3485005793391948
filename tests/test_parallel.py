"""Parallel jobs give the numbers of a serial run, in the jobs' order."""

import pytest
import torch

from newsstudy import parallel


def train_tiny(seed: int, steps: int) -> list[float]:
    """A seeded small MLP trained by SGD on seeded data: its final weights, flattened."""
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))
    optimiser = torch.optim.SGD(model.parameters(), lr=0.05)
    x, y = torch.randn(256, 16), torch.randn(256, 1)
    for _ in range(steps):
        optimiser.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        optimiser.step()
    return torch.cat([p.detach().flatten() for p in model.parameters()]).tolist()


def test_two_workers_match_a_serial_run_exactly():
    jobs = [(seed, 30) for seed in (3, 1, 2)]
    serial = parallel.map_jobs(train_tiny, jobs, workers=1)
    pooled = parallel.map_jobs(train_tiny, jobs, workers=2)
    assert pooled == serial  # bit for bit, in job order
    assert serial[0] != serial[1]  # the seeds differ, so the comparison can fail


def test_serial_run_restores_the_thread_count():
    before = torch.get_num_threads()
    parallel.map_jobs(train_tiny, [(0, 1)], workers=1)
    assert torch.get_num_threads() == before


def test_bad_worker_counts_are_named(monkeypatch):
    with pytest.raises(ValueError, match="workers must be at least 1"):
        parallel.map_jobs(train_tiny, [(0, 1)], workers=0)
    monkeypatch.setenv("NEWSSTUDY_WORKERS", "two")
    with pytest.raises(ValueError, match="NEWSSTUDY_WORKERS"):
        parallel.default_workers()
    monkeypatch.setenv("NEWSSTUDY_WORKERS", "3")
    assert parallel.default_workers() == 3


def stamp(name: str, folder: str, seconds: float) -> tuple[str, list[str]]:
    """Sleep, then write a file named ``name`` into ``folder``; the files there before."""
    import time
    from pathlib import Path

    before = sorted(path.name for path in Path(folder).iterdir())
    time.sleep(seconds)
    (Path(folder) / name).write_text("done")
    return name, before


def test_tasks_start_after_their_needs_and_match_a_serial_run(tmp_path):
    def tasks(folder):
        folder.mkdir()
        return {
            "train": parallel.Task(stamp, ("train", str(folder), 1.0)),
            "small": parallel.Task(stamp, ("small", str(folder), 0.0)),
            "eval a": parallel.Task(stamp, ("eval a", str(folder), 0.0), needs=("train",)),
            "eval b": parallel.Task(stamp, ("eval b", str(folder), 0.0), needs=("train",)),
            "seeded": parallel.Task(train_tiny, (3, 20)),
        }

    pooled = parallel.run_tasks(tasks(tmp_path / "pooled"), workers=2)
    serial = parallel.run_tasks(tasks(tmp_path / "serial"), workers=1)
    assert list(pooled) == list(serial) == ["train", "small", "eval a", "eval b", "seeded"]
    for results in (pooled, serial):
        assert "train" in results["eval a"][1] and "train" in results["eval b"][1]
    assert "train" not in pooled["small"][1]  # it ran beside the training, not after it
    assert pooled["seeded"] == serial["seeded"] == train_tiny(3, 20)


def test_a_task_whose_needs_finish_goes_before_tasks_later_in_the_mapping(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    tasks = {  # two workers: train beside fill 1 and fill 2; eval is ready before fill 3
        "train": parallel.Task(stamp, ("train", str(folder), 2.0)),
        "eval": parallel.Task(stamp, ("eval", str(folder), 0.0), needs=("train",)),
        "fill 1": parallel.Task(stamp, ("fill 1", str(folder), 0.5)),
        "fill 2": parallel.Task(stamp, ("fill 2", str(folder), 3.0)),
        "fill 3": parallel.Task(stamp, ("fill 3", str(folder), 1.0)),
    }
    results = parallel.run_tasks(tasks, workers=2)
    assert list(results) == list(tasks)
    assert "train" in results["eval"][1]
    assert "fill 3" not in results["eval"][1]  # it had waited longer, but comes later


def test_bad_task_graphs_are_named_before_anything_runs():
    with pytest.raises(ValueError, match="needs \\['missing'\\], which are not tasks"):
        parallel.run_tasks({"a": parallel.Task(train_tiny, (0, 1), needs=("missing",))})
    with pytest.raises(ValueError, match="cycle"):
        parallel.run_tasks({"a": parallel.Task(train_tiny, (0, 1), needs=("b",)),
                            "b": parallel.Task(train_tiny, (0, 1), needs=("a",))})


def fail_if(flag: bool) -> str:
    if flag:
        raise RuntimeError("task failed on purpose")
    return "ok"


def test_a_failed_task_raises_and_what_needs_it_never_runs(tmp_path):
    tasks = {"bad": parallel.Task(fail_if, (True,)), "good": parallel.Task(fail_if, (False,)),
             "after": parallel.Task(stamp, ("after", str(tmp_path), 0.0), needs=("bad",))}
    for workers in (1, 2):
        with pytest.raises(RuntimeError, match="on purpose"):
            parallel.run_tasks(tasks, workers=workers)
        assert not (tmp_path / "after").exists()


BUILDS = []


def memo_job(key: str) -> tuple[int, int]:
    """(this process id, how many times this process built ``key``'s value so far)."""
    import os

    parallel.worker_memo(key, lambda: BUILDS.append(key))
    return os.getpid(), BUILDS.count(key)


def test_a_worker_builds_what_its_jobs_share_once():
    results = parallel.map_jobs(memo_job, [("world a",)] * 4, workers=2)
    for _pid, builds in results:
        assert builds == 1, "a worker rebuilt what it had kept"
    # outside a worker, every call builds
    BUILDS.clear()
    memo_job("world a")
    memo_job("world a")
    assert BUILDS == ["world a", "world a"]
