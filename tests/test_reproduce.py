"""Skip and resume in ``newsstudy reproduce``, with papermill replaced by a fake (seconds).

Three toy notebooks run in order; the fake ``execute`` writes each one's results file
(from its parameters, so the same parameters give the same bytes) and its report, and
can fail or be interrupted on demand.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from conftest import ToyParams

from newsstudy import params, paths, variants
from newsstudy.io import config_hash, write_json
from newsstudy.run import fingerprints, records, runner
from newsstudy.run import status as run_status
from newsstudy.schemas import SCHEMAS

NAMES = ("a_first", "b_second", "c_third")
PARAMETERS = "profile = 'smoke'\nseed = 0\nn = 1\nfail = False"


@pytest.fixture
def chain(project, monkeypatch):
    """Three notebooks with smoke params and a fake executor that records its calls."""
    for name in NAMES:
        monkeypatch.setitem(SCHEMAS, name, ToyParams)
        project.write_notebook(name, PARAMETERS, "print(n)")
        project.write_params("smoke", name, {"profile": "smoke", "seed": 0, "n": 1})
    state = SimpleNamespace(project=project, calls=[], interrupt=None, fail=None)

    def fake_execute(source, target, parameters):
        name = source.stem
        state.calls.append(name)
        write_json(paths.results_path(parameters["profile"], name),
                   {"n": parameters["n"], "profile": parameters["profile"]})
        if state.interrupt == name:
            raise KeyboardInterrupt
        if state.fail == name:
            target.write_text('{"partial": true}', encoding="utf-8")
            raise runner.NotebookFailed("RuntimeError: boom (cell [2])")
        target.write_text(json.dumps({"ran": name, "n": parameters["n"]}), encoding="utf-8")

    monkeypatch.setattr(runner, "execute", fake_execute)
    # notebooks side by side in threads of this process, so the fake executor is seen
    monkeypatch.setattr(runner, "worker_pool", lambda jobs: ThreadPoolExecutor(jobs))
    return state


def reproduce(chain, **kwargs) -> list[str]:
    """Run ``reproduce`` on the smoke profile without the report; return what executed."""
    chain.calls.clear()
    runner.reproduce("smoke", log=kwargs.pop("log", lambda line: None), **kwargs)
    return list(chain.calls)


def test_first_call_runs_all_and_records_each(chain):
    assert reproduce(chain) == list(NAMES)
    runs = records.load_runs("smoke")
    assert list(runs) == list(NAMES)
    record = runs["b_second"]
    params = runner.load_params("b_second", "smoke")
    assert record["params_hash"] == config_hash(params.model_dump())
    assert record["params"]["n"] == 1 and record["seed"] == 0
    assert record["wall_seconds"] >= 0 and record["finished"].endswith("+00:00")
    assert record["results_sha256"] == fingerprints.file_sha256(paths.results_path("smoke", "b_second"))
    assert record["store"] == records.store_id("smoke")
    assert set(record["parts"]) == {"code", "params", "inputs"}
    assert record["machine"]["cpu_count"] and "numpy" in record["packages"]


def test_second_call_skips_everything(chain):
    reproduce(chain)
    lines = []
    assert reproduce(chain, log=lines.append) == []
    assert all("up to date, skipped" in line for line in lines)
    assert lines[0].startswith("[1/3] a_first (smoke): up to date")


def test_force_reruns_everything(chain):
    reproduce(chain)
    assert reproduce(chain, force=True) == list(NAMES)


def test_changed_param_reruns_that_notebook_and_the_ones_after(chain):
    reproduce(chain)
    chain.project.write_params("smoke", "b_second", {"profile": "smoke", "seed": 0, "n": 2})
    lines = []
    assert reproduce(chain, log=lines.append) == ["b_second", "c_third"]
    assert "running (parameters changed)" in lines[1]
    assert "an earlier notebook's output changed" in lines[3]
    assert reproduce(chain) == []


def test_changed_notebook_source_reruns_it_and_the_ones_after(chain):
    reproduce(chain)
    chain.project.write_notebook("b_second", PARAMETERS, "print(n + 1)")
    assert reproduce(chain) == ["b_second", "c_third"]


def test_code_fingerprint_follows_what_each_notebook_imports():
    """A notebook's code hash covers every package module it imports, directly or through
    others (05 reads the run status; 03 the hardware settings), and nothing else: editing
    any of them marks it stale, editing another module does not."""
    package = fingerprints.package_code()
    assert "newsstudy.run.status" in fingerprints.code_modules("05_distillation", package)
    assert "newsstudy.policy.hardware" in fingerprints.code_modules("03_grpo", package)
    assert "newsstudy.run.runner" not in fingerprints.code_modules("05_distillation", package)
    for notebook in params.notebooks():
        modules = fingerprints.code_modules(notebook, package)
        assert {"newsstudy", "newsstudy.params"} <= set(modules), notebook
        before = fingerprints.code_hash(notebook, package)
        for name in package.digests:
            edited = fingerprints.PackageCode(package.graph,
                                              {**package.digests, name: "edited"})
            changed = fingerprints.code_hash(notebook, edited) != before
            assert changed == (name in modules), (notebook, name)


@pytest.mark.slow
def test_code_modules_hold_every_module_a_notebook_loads():
    """What the notebooks' import statements load at run time (imported for real in a
    fresh interpreter) is inside the statically read closure."""
    import ast
    import subprocess
    import sys

    from newsstudy.run import imports

    package = fingerprints.package_code()
    for notebook in params.notebooks():
        tree = ast.parse(imports.notebook_code(fingerprints.notebook_source(notebook)))
        statements = [ast.unparse(node) for node in tree.body
                      if isinstance(node, ast.Import | ast.ImportFrom)]
        code = "\n".join([*statements, "import sys",
                          "print(' '.join(m for m in sys.modules if m == 'newsstudy' "
                          "or m.startswith('newsstudy.')))"])
        loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True, timeout=300).stdout.split()
        assert loaded and set(loaded) <= set(fingerprints.code_modules(notebook, package)), (
            notebook, set(loaded) - set(fingerprints.code_modules(notebook, package)))


def test_a_real_edit_changes_the_code_of_the_notebooks_that_import_it(tmp_path, monkeypatch):
    """Reading the package again after a file changes gives another digest for it."""
    import shutil

    from newsstudy.run import imports

    copy = tmp_path / "newsstudy"
    shutil.copytree(paths.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(paths, "PACKAGE_DIR", copy)
    before = fingerprints.package_code()
    assert set(before.digests) == set(imports.package_modules())
    with open(copy / "run" / "runner.py", "a", encoding="utf-8") as handle:
        handle.write("\n# an edit\n")
    after = fingerprints.package_code()
    assert {name for name in before.digests
            if before.digests[name] != after.digests[name]} == {"newsstudy.run.runner"}


def test_exception_mid_notebook_leaves_no_fingerprint_and_resumes_there(chain):
    chain.fail = "b_second"
    with pytest.raises(runner.NotebookFailed, match="boom"):
        reproduce(chain)
    runs = records.load_runs("smoke")
    assert "fingerprint" in runs["a_first"]
    assert runs["b_second"]["incomplete"] and "fingerprint" not in runs["b_second"]
    assert "c_third" not in runs
    report_dir = paths.report_dir("smoke")
    assert (report_dir / "b_second.failed.ipynb").exists()
    assert not (report_dir / "b_second.ipynb").exists()

    chain.fail = None
    lines = []
    assert reproduce(chain, log=lines.append) == ["b_second", "c_third"]
    assert "did not finish" in lines[1]
    assert not (report_dir / "b_second.failed.ipynb").exists()


def test_interrupted_rerun_redoes_only_that_notebook(chain):
    reproduce(chain)
    good = (paths.report_dir("smoke") / "b_second.ipynb").read_bytes()
    chain.interrupt = "b_second"
    with pytest.raises(KeyboardInterrupt):
        reproduce(chain, force=True)
    assert (paths.report_dir("smoke") / "b_second.ipynb").read_bytes() == good
    assert "fingerprint" not in records.load_runs("smoke")["b_second"]
    assert not list(paths.report_dir("smoke").glob(".*.tmp.ipynb"))

    chain.interrupt = None
    # a_first finished before; b_second re-runs with the same output, so c_third's inputs
    # are unchanged and it is skipped.
    assert reproduce(chain) == ["b_second"]


def test_partial_output_of_a_killed_run_is_removed(chain):
    reproduce(chain)
    stale = paths.report_dir("smoke") / ".b_second.99999999.tmp.ipynb"
    stale.write_text("{", encoding="utf-8")
    reproduce(chain, force=True)
    assert not stale.exists()


def test_changed_or_missing_outputs_rerun(chain):
    reproduce(chain)
    write_json(paths.results_path("smoke", "c_third"), {"n": 99})
    assert reproduce(chain) == ["c_third"]
    (paths.report_dir("smoke") / "a_first.ipynb").unlink()
    assert reproduce(chain) == ["a_first"]  # same output again: the others stay valid


def test_fresh_artifact_store_reruns_everything(chain, tmp_path, monkeypatch):
    reproduce(chain)
    monkeypatch.setenv("NEWSSTUDY_ARTIFACTS", str(tmp_path / "elsewhere"))
    lines = []
    assert reproduce(chain, log=lines.append) == list(NAMES)
    assert "artifact store" in lines[0]


def test_progress_shows_elapsed_and_an_estimate_from_the_last_run(chain):
    lines = []
    reproduce(chain, log=lines.append)
    assert lines[0] == ("[1/3] a_first (smoke): running (never run); last run took ?; "
                        "elapsed 0s, time left unknown")
    assert lines[1].startswith("[1/3] a_first (smoke): done in 0s; elapsed 0s")
    lines.clear()
    reproduce(chain, force=True, log=lines.append)
    assert lines[0].endswith("last run took 0s; elapsed 0s, about 0s left")
    assert lines[-1].endswith("nothing left")


def test_duration_format():
    assert [runner.duration(s) for s in (None, 4.4, 192, 3840)] == ["?", "4s", "3m12s", "1h04m"]


def test_run_notebook_skips_when_up_to_date_and_runs_with_override(chain):
    runner.run_notebook("a_first", "smoke")
    chain.calls.clear()
    lines = []
    report = runner.run_notebook("a_first", "smoke", log=lines.append)
    assert chain.calls == [] and report.name == "a_first.ipynb"
    assert lines == ["a_first (smoke): up to date, skipped (--force re-runs it)"]
    runner.run_notebook("a_first", "smoke", force=True)
    runner.run_notebook("a_first", "smoke", {"n": 5})
    assert chain.calls == ["a_first", "a_first"]
    # a changed value writes to a variant; the profile's own record stands
    assert records.load_runs("smoke")["a_first"]["overrides"] == {}
    with variants.active("smoke+n=5"):
        assert records.load_runs("smoke")["a_first"]["overrides"] == {"n": 5}


def test_params_status_flags_results_of_other_parameters(chain):
    reproduce(chain)
    assert all(check.ok for check in run_status.params_status("smoke"))
    chain.project.write_params("smoke", "a_first", {"profile": "smoke", "seed": 1, "n": 1})
    write_json(paths.results_path("smoke", "b_second"), {"n": 1, "edited": True})
    status = {check.notebook: check.status for check in run_status.params_status("smoke")}
    assert "other parameters than params/smoke/a_first.yaml" in status["a_first"]
    assert status["b_second"] == "results file differs from the one the run wrote"
    assert status["c_third"] == "matches"


def test_reproduce_ends_with_the_report(chain, capsys):
    from newsstudy.run.cli import main

    main(["reproduce", "--profile", "smoke"])
    report_dir = paths.report_dir("smoke")
    lines = capsys.readouterr().out.splitlines()
    assert lines[-3].startswith("done in ") and "3 notebook(s)" in lines[-3]
    assert lines[-1] == "report:  reports/smoke/REPORT.md (and index.html beside it)"
    text = (report_dir / "REPORT.md").read_text(encoding="utf-8")
    assert "| a_first |" in text or "[a_first](a_first.ipynb)" in text
