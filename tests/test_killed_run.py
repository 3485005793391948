"""A killed ``reproduce`` leaves no process behind.

Kernels start in sessions of their own, the early build too, and a kernel's training
workers are its children: a ``kill -9`` of ``reproduce``'s process group reaches none of
them. Each watches its parent instead (ipykernel's poller for a kernel,
:func:`newsstudy.parallel.exit_with_parent` for the pools' workers), so all of them end
within seconds and a re-run never races a stale writer.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow

MARKER = "NEWSSTUDY_KILL_TEST"


def parent_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return int(handle.read().rsplit(b")", 1)[-1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def marked(value: str) -> list[tuple[int, str]]:
    """(pid, command line) of the live processes whose environment holds the marker."""
    found = []
    needle = f"{MARKER}={value}".encode()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                if needle not in handle.read().split(b"\0"):
                    continue
            with open(f"/proc/{pid}/stat", "rb") as handle:
                if handle.read().rsplit(b")", 1)[-1].split()[0] == b"Z":
                    continue  # a zombie holds nothing and runs nothing
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                command = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found.append((int(pid), command[:160]))
    return found


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads processes from /proc")
def test_killing_reproduce_leaves_no_process_behind(tmp_path):
    value = str(os.getpid())
    env = {**os.environ, MARKER: value, "NEWSSTUDY_REPORTS": str(tmp_path / "reports"),
           "NEWSSTUDY_ARTIFACTS": str(tmp_path / "artifacts")}
    run = subprocess.Popen([sys.executable, "-m", "newsstudy.run.cli", "reproduce",
                            "--profile", "smoke"], env=env, start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # wait until a kernel runs a pool of training workers (notebook 03, say), or 4 min
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and run.poll() is None:
            processes = dict(marked(value))
            kernels = {pid for pid, command in processes.items() if "ipykernel" in command}
            if any(parent_of(pid) in kernels and "spawn_main" in command
                   for pid, command in processes.items()):
                break
            time.sleep(0.2)
        assert run.poll() is None, "reproduce ended before the kill"
        time.sleep(2.0)  # let the pool's workers start their jobs
        started = marked(value)
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
        deadline = time.monotonic() + 20
        while marked(value) and time.monotonic() < deadline:
            time.sleep(0.5)
        left = marked(value)
        assert left == [], f"{len(left)} of {len(started)} processes outlived the kill: {left}"
    finally:
        for pid, _ in marked(value):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
