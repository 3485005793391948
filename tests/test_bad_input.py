"""Bad input on the real notebooks is refused before any kernel starts: exit 2, one line
naming the key and where its value came from, and ``reports/`` byte-identical afterwards."""

from __future__ import annotations

import hashlib

import pytest

from newsstudy import paths
from newsstudy.run import checks, runner
from newsstudy.run.cli import main


def snapshot(profile: str) -> dict[str, str]:
    """sha256 of every file under reports/<profile>/."""
    root = paths.reports_root() / profile
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def no_kernel(monkeypatch):
    """Fail the test if a notebook would be executed."""
    def refuse(*args, **kwargs):
        raise AssertionError("a kernel was started for bad input")

    monkeypatch.setattr(runner, "execute", refuse)


@pytest.mark.parametrize(("argv", "expected"), [
    (["run", "03_grpo", "-p", "model=' '"], "override model=' ': model: must be a ladder size"),
    (["run", "03_grpo", "-p", "model=/nonexistent/model"],
     "override model='/nonexistent/model': model: unknown model"),
    (["run", "03_grpo", "-p", "model=../../../../etc"], "holds no config.json"),
    (["run", "04_scaling", "-p", "sizes=[xs, zz]"], "override sizes=['xs', 'zz']"),
    (["run", "05_distillation", "-p", "student=q"], "override student='q'"),
    (["run", "06_ab_simulation", "-p", "treatment_policy=nosuch"],
     "override treatment_policy='nosuch': treatment_policy: no notebook publishes"),
    (["run", "01_data", "-p", "min_interests=5"],
     "override min_interests=5 (with params/smoke/01_data.yaml): min_interests (5) must not"),
    (["run", "06_ab_simulation", "-p", "n_users=2000000"],
     "override n_users=2000000: n_users: 2,000,000 users need about 102 GB"),
    (["reproduce", "--profile", ""], "unknown profile ''"),
])
def test_bad_input_is_refused_in_one_line_and_changes_nothing(argv, expected, no_kernel, capsys):
    if "--profile" not in argv:
        argv = [*argv, "--profile", "smoke"]
    before = snapshot("smoke")
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err, err
    assert snapshot("smoke") == before


def test_the_memory_check_names_the_params_file_and_yields_to_force(monkeypatch):
    params = runner.load_params("06_ab_simulation", "smoke")
    with pytest.raises(runner.ParamsError, match=r"params/smoke/06_ab_simulation.yaml: n_users:"):
        checks.check_memory("06_ab_simulation", "smoke", params, available=10**6)
    checks.check_memory("06_ab_simulation", "smoke", params, available=10**12)  # fits
    checks.check_memory("03_grpo", "smoke", runner.load_params("03_grpo", "smoke"),
                        available=1)  # no world build: no estimate, no refusal
    calls = []
    monkeypatch.setattr(checks, "machine_memory_bytes", lambda: 10**6)
    monkeypatch.setattr(runner, "plan_run", lambda *a, **k: calls.append(a) or (_ for _ in ()).throw(
        RuntimeError("planned")))
    with pytest.raises(RuntimeError, match="planned"):  # --force: past the check, to the plan
        runner.run_notebook("06_ab_simulation", "smoke", force=True)
    assert calls


def test_a_hub_id_missing_from_the_cache_is_refused_before_a_kernel(no_kernel, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["run", "03_grpo", "--profile", "smoke", "-p", "model=someorg/not-cached"])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "override model='someorg/not-cached': model:" in err and "local Hugging Face cache" in err


def test_a_listed_notebook_without_its_params_file_stops_reproduce_before_any_kernel(
        tmp_path, monkeypatch, no_kernel, capsys):
    """A deleted params file of a notebook the profile lists is named in one line (exit 2);
    it never silently drops the notebook while the others run."""
    import shutil

    params = tmp_path / "params"
    shutil.copytree(paths.PARAMS_DIR, params)
    (params / "smoke" / "02_rewards.yaml").unlink()
    monkeypatch.setattr(paths, "PARAMS_DIR", params)
    monkeypatch.setenv("NEWSSTUDY_REPORTS", str(tmp_path / "reports"))
    with pytest.raises(SystemExit) as stop:
        main(["reproduce", "--profile", "smoke"])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == ("newsstudy: error: params/smoke/02_rewards.yaml: missing; "
                   "params/smoke/profile.yaml lists 02_rewards"), err
    assert not (tmp_path / "reports").exists()


def test_an_unlisted_notebook_is_skipped_by_name(tmp_path, monkeypatch):
    """The pretrained profile lists 01_data and 03_grpo; reproduce says what it skips."""
    lines = []
    monkeypatch.setattr(runner, "ProfileRun", lambda *args: type(
        "Stub", (), {"all": lambda self: []})())
    monkeypatch.setattr(runner, "check_reproducible", lambda profile, force: (
        runner.profile_notebooks(profile), {}))
    runner.reproduce("pretrained", log=lines.append, jobs=1)
    assert lines[0].startswith("profile pretrained runs 01_data, 03_grpo; skips 01b_sensitivity")
    assert lines[0].endswith("(not listed in params/pretrained/profile.yaml)")
