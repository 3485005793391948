"""The ``newsstudy`` command: bad input exits 2 before anything runs; ``list``, ``report``,
skipping in ``run`` and the exit status of an interrupted ``reproduce``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import exit_status

from newsstudy.report import claims
from newsstudy.run import runner
from newsstudy.run.cli import main


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", "xx", "--profile", "smoke"], "unknown notebook 'xx'"),
        (["run", "toy", "--profile", "foo"], "unknown profile 'foo'"),
        (["run", "toy", "--profile", "smoke", "-p", "m=3"], "unknown parameter 'm'"),
        (
            ["run", "toy", "--profile", "smoke", "-p", "n=0"],
            "n: must be greater than or equal to 1",
        ),
        (["run", "toy", "--profile", "smoke", "-p", "n"], "expected KEY=VALUE"),
        (["run", "toy", "--profile", "default"], "params/default/toy.yaml"),
        (["reproduce", "--profile", "foo"], "unknown profile 'foo'"),
        (["report", "--profile", "foo"], "unknown profile 'foo'"),
    ],
)
def test_bad_input_exits_2_and_runs_nothing(toy_project, capsys, argv, expected):
    assert exit_status(argv) == 2
    stderr = capsys.readouterr().err
    assert expected in stderr and len(stderr.strip().splitlines()) == 1
    assert not toy_project.reports.exists()


def test_missing_profile_option_is_a_usage_error(toy_project, capsys):
    assert exit_status(["run", "toy"]) == 2
    assert "--profile" in capsys.readouterr().err


def test_list_shows_notebooks_and_profiles(toy_project, capsys):
    assert exit_status(["list"]) == 0
    out = capsys.readouterr().out
    assert "notebooks: toy" in out and "profiles:  default, smoke" in out
    assert "newsstudy list NOTEBOOK" in out and len(out.splitlines()) < 10


def test_list_of_one_notebook_shows_value_type_file_and_meaning(toy_project, capsys):
    assert exit_status(["list", "toy", "--profile", "smoke"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("n "))
    assert row.split()[:5] == ["n", "*", "3", "int", "params/smoke/toy.yaml"]
    seed = next(line for line in out.splitlines() if line.startswith("seed "))
    assert "params/smoke/toy.yaml" in seed
    # default has no toy.yaml: toy is not part of that profile, and the error says so
    assert exit_status(["list", "toy", "--profile", "default"]) == 2
    assert "params/default/toy.yaml" in capsys.readouterr().err


def test_list_suggests_the_closest_notebook(toy_project, capsys):
    assert exit_status(["list", "tyo"]) == 2
    assert "did you mean 'toy'?" in capsys.readouterr().err


def test_console_script_is_installed():
    script = Path(sys.executable).with_name("newsstudy")
    if not script.exists():
        pytest.skip("console script not installed (pip install -e .)")
    done = subprocess.run(
        [str(script), "run", "xx", "--profile", "smoke"], capture_output=True, text=True
    )
    assert done.returncode == 2 and "unknown notebook 'xx'" in done.stderr


def fake_execute(source, target, parameters):
    """Stand-in for papermill: write an empty executed notebook."""
    target.write_text("{}", encoding="utf-8")


def test_run_skips_an_up_to_date_notebook(toy_project, capsys, monkeypatch):
    monkeypatch.setattr(runner, "execute", fake_execute)
    assert exit_status(["run", "toy", "--profile", "smoke"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "toy (smoke): never run; running" and lines[1].startswith("done in ")
    assert exit_status(["run", "toy", "--profile", "smoke"]) == 0
    assert "up to date, skipped (--force re-runs it)" in capsys.readouterr().out
    assert exit_status(["run", "toy", "--profile", "smoke", "--force"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("toy (smoke): up to date; running")
    assert lines[1].startswith("done in ") and "results: reports/smoke/results/" in lines[2]


def test_report_writes_markdown_and_html(toy_project, capsys):
    assert exit_status(["report", "--profile", "smoke"]) == 0
    out = capsys.readouterr().out
    folder = toy_project.reports / "smoke"
    assert f"wrote {folder / 'REPORT.md'} and {folder / 'index.html'}" in out
    assert f"claims: {len(claims.CLAIMS)} not run" in out


def test_interrupted_reproduce_exits_130(toy_project, capsys, monkeypatch):
    def interrupted(source, target, parameters):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "execute", interrupted)
    assert exit_status(["reproduce", "--profile", "smoke"]) == 130
    assert "next call resumes" in capsys.readouterr().err


def test_plan_prints_the_paper_profile_without_loading_weights(capsys):
    main(["plan", "--profile", "paper"])
    out = capsys.readouterr().out
    assert "Qwen/Qwen2.5-32B-Instruct" in out


def test_list_shows_the_recipe_values_of_a_recipe_notebook(recipe_project, capsys):
    recipe_project.write_notebook("04_scaling", "profile = 'smoke'")
    assert exit_status(["list", "04_scaling", "--profile", "smoke"]) == 0
    lines = capsys.readouterr().out.splitlines()
    model = next(line for line in lines if line.startswith("model "))
    assert model.split()[:4] == ["model", "'xs'", "str", "params/smoke/teacher.yaml"]
    sizes = next(line for line in lines if line.startswith("sizes "))
    assert "['xs', 's']" in sizes and "params/smoke/04_scaling.yaml" in sizes


def test_an_empty_profile_is_named_as_unknown(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["reproduce", "--profile", ""])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("newsstudy: error: unknown profile ''") and "\n" not in err


def test_list_into_a_closed_pipe_exits_quietly():
    script = Path(sys.executable).parent / "newsstudy"
    done = subprocess.run(
        f"set -o pipefail; '{script}' list | head -1", shell=True, capture_output=True,
        text=True, check=False, executable="/bin/bash")
    assert done.returncode == 0 and "BrokenPipeError" not in done.stderr
    assert done.stdout.startswith("notebooks:")


def test_help_shows_examples(capsys):
    assert exit_status(["--help"]) == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "-p grpo_learning_rate=0.001" in out and "--variant" in out


def test_the_summary_counts_the_gates_of_the_results(tmp_path):
    from newsstudy.io import write_json
    from newsstudy.run.cli import summary

    write_json(tmp_path / "results" / "03_grpo.json",
               {"gates": {"imitation": {"passes": True}, "entropy": {"passes": False},
                          "format": {"passes": True}}})
    text = summary(["03_grpo"], tmp_path, 75.0)
    assert text.startswith("done in 1m15s: 1 notebook(s); gates 2 passed, 1 failed "
                           "(03_grpo:entropy)")
