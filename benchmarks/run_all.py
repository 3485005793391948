"""Every speed and memory figure of the study's budgets, measured in one run, side by side.

Runs each benchmark script of this folder one after the other (never two at once: they
would share the two cores), reads its key figure from what it prints, and ends with one
table: figure, measured, budget or comparison, ratio. The scripts' own output is shown
as they run. The figures:

- Dr.GRPO step time, ours against TRL's default log-probability path (``bench_grpo``);
- serving throughput (users/s) of the distillation teacher and student at the serving
  batch size, one thread (``bench_serving``);
- reward scoring throughput, lists/s (``bench_rewards``; budget 1,000);
- A/B simulation speed, user-days per minute (``bench_ab``; budget 1,000,000);
- peak memory of notebook 06's world build (``bench_world_memory``; budget 6 GB).

    python benchmarks/run_all.py --profile default

The GRPO and serving figures need the profile's cached checkpoints (run notebooks 03-05
first, or point ``NEWSSTUDY_ARTIFACTS`` at a folder that has them).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(script: str, *args: str) -> str:
    """Run one benchmark script, echo its output, return it."""
    print(f"\n$ python benchmarks/{script} {' '.join(args)}", flush=True)
    done = subprocess.run([sys.executable, str(HERE / script), *args], capture_output=True,
                          text=True)
    print(done.stdout, end="")
    if done.returncode != 0:
        print(done.stderr[-2000:], end="")
        raise SystemExit(f"{script} failed (exit {done.returncode})")
    return done.stdout


def number(pattern: str, text: str) -> float:
    """The first number ``pattern`` (one group) finds in ``text``; NaN if none."""
    match = re.search(pattern, text)
    return float(match.group(1).replace(",", "")) if match else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default")
    parser.add_argument("--grpo-steps", type=int, default=5)
    parser.add_argument("--ab-users", type=int, default=100_000)
    parser.add_argument("--world-users", type=int, default=100_000)
    args = parser.parse_args()
    from newsstudy.params import load_params

    distillation = load_params("05_distillation", args.profile)
    teacher = load_params("04_scaling", args.profile).sizes[-1]
    rows = []

    out = run("bench_grpo.py", "--profile", args.profile, "--steps", str(args.grpo_steps),
              "--compare-trl")
    ours = number(r"GRPO step time: ([\d.]+) s", out)
    trl = number(r"fused-head log-probabilities: ([\d.]+) s", out)
    rows.append(("Dr.GRPO step (s), ours vs TRL's default path", ours, trl, trl / ours))

    out = run("bench_serving.py", "--profile", args.profile, "--teacher", teacher,
              "--student", distillation.student, "--batch-size",
              str(distillation.serving_batch_size))
    student = number(r"student\s+\S+\s+[\d,]+\s+([\d.]+)", out)
    teacher_speed = number(r"teacher\s+\S+\s+[\d,]+\s+([\d.]+)", out)
    rows.append((f"serving users/s, student ({distillation.student}) vs teacher ({teacher})",
                 student, teacher_speed, student / teacher_speed))

    out = run("bench_rewards.py", "--profile", args.profile)
    lists = number(r"lists per second: ([\d,]+)", out)
    rows.append(("reward scoring, lists/s (budget)", lists, 1_000, lists / 1_000))

    out = run("bench_ab.py", "--users", str(args.ab_users))
    user_days = number(r"user-days per minute: ([\d,]+)", out)
    rows.append(("A/B simulation, user-days/min (budget)", user_days, 1_000_000,
                 user_days / 1_000_000))

    out = run("bench_world_memory.py", "--profile", args.profile, "--users",
              str(args.world_users))
    peak = number(r"peak resident memory of the build: ([\d.]+) GB", out)
    rows.append((f"06 world build of {args.world_users:,} users, peak GB (budget)", peak, 6.0,
                 peak / 6.0))

    print("\n| figure | measured | against | ratio |\n|---|---|---|---|")
    for name, measured, against, ratio in rows:
        print(f"| {name} | {measured:,.2f} | {against:,.2f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
