"""A run whose parameters differ from its profile's writes to a variant, never into the
profile: through ``newsstudy run -p``, a params file of one's own (``run -f``), and plain
papermill with ``-p``; the variant starts from the profile's upstream work."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import exit_status

from newsstudy import paths, variants
from newsstudy.io import read_json, write_json
from newsstudy.run import records, runner


def fake_execute(source, target, parameters):
    """Stand-in for papermill: the notebook's results file holds what it was given."""
    target.write_text("{}", encoding="utf-8")
    write_json(paths.results_path(parameters["profile"], source.stem),
               {"n": parameters.get("n", parameters.get("overrides", {}).get("n"))})


@pytest.fixture
def ran_profile(toy_project, monkeypatch):
    """The toy notebook run once on its profile (smoke), as `reproduce` leaves it."""
    monkeypatch.setattr(runner, "execute", fake_execute)
    assert exit_status(["run", "toy", "--profile", "smoke"]) == 0
    base = toy_project.reports / "smoke"
    return base, {path: path.read_bytes() for path in base.rglob("*") if path.is_file()}


def unchanged(base) -> bool:
    folder, before = base
    return {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()} == before


def test_the_cli_writes_a_changed_value_to_a_named_variant(ran_profile, toy_project, capsys):
    assert exit_status(["run", "toy", "--profile", "smoke", "-p", "n=5"]) == 0
    out = capsys.readouterr().out
    variant = toy_project.reports / "smoke+n=5"
    assert "writing to variant smoke+n=5" in out and "results: reports/smoke+n=5/" in out
    assert read_json(variant / "results" / "toy.json") == {"n": 5}
    assert read_json(variant / "variant.json")["changed"] == {"toy": {"n": [3, 5]}}
    assert unchanged(ran_profile)
    # the variant's own record: the profile's run still vouches for the profile's results
    with variants.active("smoke+n=5"):
        assert records.load_runs("smoke")["toy"]["overrides"] == {"n": 5}
    assert records.load_runs("smoke")["toy"]["overrides"] == {}


def test_a_params_file_of_ones_own_writes_to_the_variant_it_names(ran_profile, toy_project,
                                                                  tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text("n: 7\n", encoding="utf-8")
    assert exit_status(["run", "toy", "--profile", "smoke", "-f", str(mine),
                        "--variant", "mine"]) == 0
    assert read_json(toy_project.reports / "smoke+mine" / "results" / "toy.json") == {"n": 7}
    assert unchanged(ran_profile)
    mine.write_text("profile: default\nn: 7\n", encoding="utf-8")
    assert exit_status(["run", "toy", "--profile", "smoke", "-f", str(mine)]) == 2


def test_a_bad_variant_name_is_refused_before_anything_runs(ran_profile, toy_project, capsys):
    assert exit_status(["run", "toy", "--profile", "smoke", "--variant", "../up"]) == 2
    assert "is not a variant name" in capsys.readouterr().err
    assert sorted(p.name for p in toy_project.reports.iterdir()) == ["smoke"]


def test_a_variant_starts_from_the_profiles_upstream_work(tmp_path, monkeypatch):
    """Copies of the results before the notebook, links to the world and checkpoints;
    a link is replaced, never written through."""
    monkeypatch.setenv("NEWSSTUDY_REPORTS", str(tmp_path / "reports"))
    monkeypatch.setenv("NEWSSTUDY_ARTIFACTS", str(tmp_path / "artifacts"))
    base = tmp_path / "reports" / "p"
    write_json(base / "results" / "01_data.json", {"world": 1})
    write_json(base / "results" / "03_grpo.json", {"teacher": 1})
    (base / "tables").mkdir()
    (base / "tables" / "01_counts.csv").write_text("a\n1\n", encoding="utf-8")
    write_json(base / "runs.json", {"notebooks": {"01_data": {"fingerprint": "f"}}})
    artifacts = tmp_path / "artifacts" / "p"
    write_json(artifacts / "world" / "manifest.json", {"world_hash": "w"})
    write_json(artifacts / "models" / "sft-abc" / "config.json", {"k": 1})

    copied = variants.prepare("p+v", "03_grpo", ["01_data", "03_grpo"], {"seed": [0, 1]})
    assert copied == ["01_data"]
    variant = tmp_path / "reports" / "p+v"
    assert read_json(variant / "results" / "01_data.json") == {"world": 1}
    assert not (variant / "results" / "03_grpo.json").exists()  # the notebook's own: not copied
    assert (variant / "tables" / "01_counts.csv").is_file()
    assert read_json(variant / "runs.json")["notebooks"]["01_data"]["copied_from"] == "p"
    linked = tmp_path / "artifacts" / "p+v"
    assert (linked / "world").is_symlink() and (linked / "models" / "sft-abc").is_symlink()
    with variants.active("p+v"):
        assert paths.world_dir("p") == linked / "world"
        assert paths.results_path("p", "03_grpo") == variant / "results" / "03_grpo.json"
    assert paths.world_dir("p") == artifacts / "world"


def test_a_checkpoint_saved_in_a_variant_replaces_the_link_not_the_base(tmp_path, monkeypatch):
    from newsstudy.policy.checkpoints import PolicyStore

    monkeypatch.setenv("NEWSSTUDY_ARTIFACTS", str(tmp_path / "artifacts"))
    base = tmp_path / "artifacts" / "p" / "models" / "sft-abc"
    write_json(base / "config.json", {"k": 1})
    variants.link_artifacts("p", "p+v")
    linked = tmp_path / "artifacts" / "p+v" / "models" / "sft-abc"
    assert linked.is_symlink()

    class Saver:
        def save_pretrained(self, folder):
            write_json(os.path.join(folder, "config.json"), {"k": 2})

    PolicyStore(linked.parent).save(linked, Saver(), Saver(), {})
    assert not linked.is_symlink() and read_json(linked / "config.json") == {"k": 2}
    assert read_json(base / "config.json") == {"k": 1}


@pytest.mark.slow
def test_plain_papermill_with_a_changed_value_writes_to_a_variant(tmp_path):
    """The real 01_data notebook under plain papermill: its world and results go to
    reports/smoke+n_users=40/, and the profile's folders are never created."""
    env = {**os.environ, "NEWSSTUDY_REPORTS": str(tmp_path / "reports"),
           "NEWSSTUDY_ARTIFACTS": str(tmp_path / "artifacts")}
    env.pop(paths.VARIANT_VARIABLE, None)
    subprocess.run([sys.executable, "-m", "papermill", str(paths.NOTEBOOKS_DIR / "01_data.ipynb"),
                    str(tmp_path / "out.ipynb"), "-p", "profile", "smoke", "-p", "n_users", "40",
                    "--no-progress-bar"],
                   cwd=paths.NOTEBOOKS_DIR, env=env, check=True, capture_output=True)
    variant = tmp_path / "reports" / "smoke+n_users=40"
    assert read_json(variant / "results" / "01_data.json")
    assert read_json(variant / "variant.json")["changed"]["01_data"]["n_users"][1] == 40
    assert not (tmp_path / "reports" / "smoke").exists()
    assert not (tmp_path / "artifacts" / "smoke").exists()
    manifest = read_json(tmp_path / "artifacts" / "smoke+n_users=40" / "world" / "manifest.json")
    assert manifest["params"]["n_users"] == 40


def test_the_report_of_a_variant_shows_what_changed(ran_profile, toy_project, capsys):
    assert exit_status(["run", "toy", "--profile", "smoke", "-p", "n=5"]) == 0
    assert exit_status(["report", "--profile", "smoke", "--variant", "n=5"]) == 0
    text = (toy_project.reports / "smoke+n=5" / "REPORT.md").read_text(encoding="utf-8")
    assert "smoke+n=5 (a variant of the smoke profile)" in text
    assert "| toy | n | 3 | 5 |" in text
    assert "cannot be vouched for" not in text  # its run is vouched for with its overrides
    assert exit_status(["report", "--profile", "smoke", "--variant", "nope"]) == 2
