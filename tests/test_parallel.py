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
