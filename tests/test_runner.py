"""Execute a two-cell notebook end to end with papermill (starts a kernel: a few seconds).

Skip and resume are tested with a fake executor in ``test_reproduce.py``.
"""

from __future__ import annotations

import json

import pytest

from newsstudy.params import ParamsError
from newsstudy.run import fingerprints, records, runner
from newsstudy.run import status as run_status
from newsstudy.schemas import SCHEMAS


def outputs_text(path) -> str:
    """All stream output of an executed notebook, joined."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "".join(
        "".join(output.get("text", "")) for cell in cells for output in cell.get("outputs", [])
    )


def test_run_writes_report_and_failure_keeps_it(toy_project):
    report = runner.run_notebook("toy", "smoke")
    assert report == toy_project.reports / "smoke" / "toy.ipynb"
    assert "result 6" in outputs_text(report)  # n=3 from the params file reached the kernel
    good = report.read_bytes()
    good_record = records.load_runs("smoke")["toy"]

    toy_project.write_params("smoke", "toy", {"profile": "smoke", "seed": 0, "n": 3,
                                              "fail": True})
    with pytest.raises(runner.NotebookFailed, match="RuntimeError: boom"):
        runner.run_notebook("toy", "smoke")
    toy_project.write_params("smoke", "toy", {"profile": "smoke", "seed": 0, "n": 3})

    assert report.read_bytes() == good
    failed = report.with_name("toy.failed.ipynb")
    assert "boom" in failed.read_text(encoding="utf-8")
    assert sorted(p.name for p in report.parent.iterdir()) == [
        "runs.json", "toy.failed.ipynb", "toy.ipynb"]
    # the failed run wrote none of the notebook's outputs: the last good run's record stands
    assert records.load_runs("smoke")["toy"] == good_record
    assert runner.plan_run("toy", "smoke", runner.load_params("toy", "smoke")).up_to_date


def test_a_failed_run_that_wrote_outputs_leaves_no_fingerprint(toy_project, monkeypatch):
    runner.run_notebook("toy", "smoke")
    table = toy_project.reports / "smoke" / "tables" / "toy_numbers.csv"

    def write_then_fail(source, target, parameters):
        table.parent.mkdir(parents=True, exist_ok=True)
        table.write_text("n\n1\n", encoding="utf-8")
        raise runner.NotebookFailed("boom after a table")

    monkeypatch.setattr(runner, "execute", write_then_fail)
    with pytest.raises(runner.NotebookFailed, match="boom after a table"):
        runner.run_notebook("toy", "smoke", force=True)
    record = records.load_runs("smoke")["toy"]
    assert record["incomplete"] and "fingerprint" not in record


def test_missing_notebook_file_is_a_params_error(toy_project):
    (toy_project.notebooks / "toy.ipynb").unlink()
    with pytest.raises(ParamsError, match="no file"):
        runner.run_notebook("toy", "smoke")


def test_reproduce_validates_every_notebook_before_running(toy_project, monkeypatch):
    monkeypatch.setitem(SCHEMAS, "a_first", SCHEMAS["toy"])
    toy_project.write_notebook("a_first", "profile = 'smoke'\nseed = 0\nn = 1\nfail = False")
    toy_project.write_params("smoke", "a_first", {"profile": "smoke", "seed": 0, "n": 1})
    toy_project.write_params("smoke", "toy", {"profile": "smoke", "seed": 0, "n": 1000})
    with pytest.raises(ParamsError, match="toy.yaml: n: must be less than or equal to 100"):
        runner.reproduce("smoke", log=lambda line: None)
    assert not toy_project.reports.exists()


def test_reproduce_runs_every_notebook_in_order(toy_project, monkeypatch):
    monkeypatch.setitem(SCHEMAS, "a_first", SCHEMAS["toy"])
    toy_project.write_notebook("a_first", "profile = 'smoke'\nseed = 0\nn = 1\nfail = False")
    toy_project.write_params("smoke", "a_first", {"profile": "smoke", "seed": 0, "n": 1})
    lines = []
    reports = runner.reproduce("smoke", log=lines.append)
    assert [path.name for path in reports] == ["a_first.ipynb", "toy.ipynb"]
    assert lines[0].startswith("[1/2] a_first (smoke): running (never run)")
    assert lines[3].startswith("[2/2] toy (smoke): done in ")
    assert "result 6" in outputs_text(reports[1])
    assert set(records.load_runs("smoke")) == {"a_first", "toy"}

    lines.clear()
    assert runner.reproduce("smoke", log=lines.append) == reports
    assert all("up to date, skipped" in line for line in lines)


def test_the_teacher_recipe_is_part_of_the_params_hash(recipe_project, monkeypatch):
    """Editing teacher.yaml re-runs every notebook that reads it and flags their results."""
    calls = []

    def fake_execute(source, target, parameters):
        calls.append(parameters)
        target.write_text("{}", encoding="utf-8")

    monkeypatch.setattr(runner, "execute", fake_execute)
    for notebook in ("03_grpo", "04_scaling"):
        recipe_project.write_notebook(notebook, "profile = 'smoke'")
        runner.run_notebook(notebook, "smoke")
    # the runner injects the whole recipe: what the cell does not declare, in `overrides`
    assert calls[1]["overrides"]["model"] == "xs" and calls[1]["overrides"]["sizes"] == ["xs", "s"]
    assert all(check.ok for check in run_status.params_status("smoke"))
    before = fingerprints.params_hash(runner.load_params("04_scaling", "smoke"))

    recipe = recipe_project.params / "smoke" / "teacher.yaml"
    recipe.write_text(recipe.read_text().replace("grpo_steps: 3", "grpo_steps: 4"))
    assert fingerprints.params_hash(runner.load_params("04_scaling", "smoke")) != before
    status = {check.notebook: check.status for check in run_status.params_status("smoke")}
    assert all(text.startswith("run used other parameters") for text in status.values())
    plan = runner.plan_run("04_scaling", "smoke", runner.load_params("04_scaling", "smoke"))
    assert not plan.up_to_date and "parameters changed" in plan.reason
    calls.clear()
    runner.run_notebook("04_scaling", "smoke")
    assert [{**call, **call.get("overrides", {})}["grpo_steps"] for call in calls] == [4]


def test_peak_memory_sums_the_children_it_sees():
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c",
                              "import time; data = bytearray(200_000_000); time.sleep(3)"])
    try:
        with records.PeakMemory(interval=0.1) as memory:
            child.wait(timeout=30)
    finally:
        child.kill()
    assert memory.peak_bytes >= 150_000_000 and memory.largest_bytes >= 150_000_000
    assert memory.largest_bytes <= memory.peak_bytes


def test_peak_memory_counts_shared_pages_once_in_pss():
    """A process that forks after filling 200 MB: summed RSS counts the pages twice, PSS once."""
    import subprocess
    import sys

    script = ("import os, time; data = bytearray(200_000_000); data[::4096] = b'x' * "
              "len(data[::4096]); pid = os.fork(); time.sleep(3); "
              "os.waitpid(pid, 0) if pid else None")
    child = subprocess.Popen([sys.executable, "-c", script])
    try:
        with records.PeakMemory(interval=0.1) as memory:
            child.wait(timeout=30)
    finally:
        child.kill()
    assert memory.peak_bytes >= 350_000_000  # 2 x 200 MB in RSS
    assert 150_000_000 <= memory.peak_pss_bytes <= 0.75 * memory.peak_bytes


def test_a_finished_run_records_its_peak_memory(toy_project):
    runner.run_notebook("toy", "smoke")
    record = records.load_runs("smoke")["toy"]
    assert 0.01 < record["peak_rss_gb"] < 10 and 0 < record["largest_process_rss_gb"] <= record["peak_rss_gb"]
    assert 0.01 < record["peak_pss_gb"] <= record["peak_rss_gb"]


def test_a_run_prints_no_unknown_parameter_and_no_kernel_warning(toy_project, capfd):
    """papermill is handed only the names the parameters cell declares (the rest in
    `overrides`), and the kernel's start-up warning is not shown."""
    toy_project.write_notebook(
        "toy", 'profile = "default"\nseed = 1\noverrides = {}',
        'print("result", overrides["n"] * 2)')
    report = runner.run_notebook("toy", "smoke")
    assert "result 6" in outputs_text(report)
    err = capfd.readouterr().err
    assert "Passed unknown parameter" not in err
    assert "without encryption" not in err
    assert "toy" in err  # the notebook's bar names it


def test_papermill_arguments_split_the_cell_and_the_rest(toy_project):
    from newsstudy.params import load_params, papermill_arguments

    toy_project.write_notebook("toy", 'profile = "default"\nn = None\noverrides = {}')
    arguments = papermill_arguments("toy", load_params("toy", "smoke"))
    assert arguments == {"profile": "smoke", "n": 3, "overrides": {"seed": 0, "fail": False}}
