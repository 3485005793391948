"""The report: claims computed from results files, REPORT.md and a static index.html that
headless Chromium renders with every image loaded; and the committed default results
checked against the current default parameters."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import committed
import numpy as np
import pandas as pd
import pytest

from newsstudy import paths
from newsstudy.ab.results import MetricLift
from newsstudy.distillation.results import MethodRow
from newsstudy.evaluation import paired_difference
from newsstudy.io import read_json, write_json
from newsstudy.report import build, build_report, claims
from newsstudy.report.claims import Results
from newsstudy.results import Estimate, PairedGate
from newsstudy.run import status as run_status
from newsstudy.scaling.results import BestOfNRow, CapacityRow

COMMITTED = committed.report_dir("default")  # as git holds it, whatever a re-run left
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable",
            "headless_shell")


def estimate(mean: float, half: float = 0.01, n: int | None = None) -> dict:
    """An ``Estimate`` as a results file holds it."""
    return Estimate.of(mean, mean - half, mean + half, n).model_dump()


def capacity_row(params: float, recall: float, half: float = 0.005) -> dict:
    return CapacityRow(params=int(params), recall_at_10=estimate(recall, half),
                       ndcg_at_10=estimate(recall * 0.8, half), recall_at_10_relative=None,
                       reward=3.0, train_flops=1e12, train_seconds=None).model_dump()


def best_of_n_row(recall: float) -> dict:
    values = dict.fromkeys(BestOfNRow.model_fields, 0.1)
    return {**values, "recall_at_10_reward_picked": recall, "recall_at_10_oracle": recall + 0.1}


def method_row(recall: float, half: float = 0.01) -> dict:
    return MethodRow(recall_at_10=estimate(recall, half), ndcg_at_10=estimate(recall * 0.8, half),
                     recall_at_10_paper=None, ndcg_at_10_paper=None, gap_closed=None,
                     gap_closed_paper=None, reverse_kl_to_teacher=None,
                     recall_at_10_seed_std=None).model_dump()


def speed(users_per_second: float) -> dict:
    return {"users": 64, "batch_size": 32, "seconds": 64 / users_per_second,
            "users_per_second": users_per_second, "tokens_per_second": 20 * users_per_second,
            "mean_new_tokens": 20.0, "p50_latency_s": 0.5, "p95_latency_s": 0.9}


def lift(mean: float, low: float, high: float, p_value: float, name: str) -> dict:
    return MetricLift(metric=name, kind="mean", test="welch_t", control=0.3,
                      treatment=0.3 * (1 + mean), n_control=1000, n_treatment=1000,
                      lift=Estimate.of(mean, low, high), p_value=p_value, se_lift=0.002,
                      bootstrap=Estimate.of(mean, low, high), boot_p_value=p_value,
                      boot_se_lift=0.002, paper_lift=0.01, paper_p_value=0.01).model_dump()


def json_ready(files: dict) -> dict:
    """As the files hold it once written (integer keys become text)."""
    return json.loads(json.dumps(files))


# Results of notebooks 04-06 in the shape their results models write, paper-like.
LATER_RESULTS = json_ready({
    "04_scaling": {
        "capacity": {name: capacity_row(size, r)
                     for name, size, r in (("xs", 1e5, .10), ("s", 3e5, .12), ("m", 1e6, .14),
                                           ("l", 3e6, .17), ("xl", 8e6, .20))},
        "best_of_n": {n: best_of_n_row(r)
                      for n, r in ((1, .20), (2, .23), (4, .25), (8, .255), (16, .258),
                                   (32, .26))},
        "best_of_n_gains": {32: {**estimate(.05, .01, n=200), "p_value": 0.001}},
    },
    "05_distillation": {
        "distillation": {"teacher": method_row(.27), "on_policy": method_row(.265),
                         "supervised": method_row(.24), "none": method_row(.18)},
        "serving": {"teacher": speed(2.0), "student": speed(70.0)},
    },
    "06_ab_simulation": {
        "metrics": {"dau": lift(.01, .005, .015, .01, "dau"),
                    "ctr": lift(.002, .001, .003, .03, "ctr"),
                    "cold_dau": lift(.04, .03, .05, .001, "cold_dau")},
        "aa": {"fpr": {"dau": 0.05}, "ks_uniform_p": {"dau": 0.5}, "alpha": 0.05,
               "replicates": 200},
    },
})


def verdicts(results: Results) -> dict[str, str]:
    return {claim.key: claim.verdict for claim in claims.evaluate_all(results)}


def committed_results() -> dict:
    folder = COMMITTED / "results"
    return {p.stem: read_json(p) for p in sorted(folder.glob("*.json"))}


# --- claims ----------------------------------------------------------------------------


def test_paper_like_results_reproduce_every_later_claim():
    found = verdicts(Results(LATER_RESULTS))
    for key in ("distillation_order", "capacity_scaling", "best_of_n", "ab_test",
                "student_speed"):
        assert found[key] == claims.REPRODUCED, key
    assert found["rl_teacher_best"] == found["reward_ablation"] == claims.NOT_RUN


def test_claims_fall_short_in_words():
    later = json.loads(json.dumps(LATER_RESULTS))
    later["05_distillation"]["serving"]["student"] = speed(20.0)  # 10x: faster, not 30x
    ab = later["06_ab_simulation"]["metrics"]
    ab["ctr"]["p_value"] = 0.2  # positive, not significant
    ab["cold_dau"]["lift"] = estimate(-0.01)
    capacity = later["04_scaling"]["capacity"]
    for name in list(capacity)[::-1]:  # the order of sizes must not matter
        size = capacity.pop(name)["params"]
        capacity[name] = capacity_row(size, 0.3 - size / 1e8, 0.05)
    found = {c.key: c for c in claims.evaluate_all(Results(later))}
    serving = found["student_speed"]
    assert serving.verdict == claims.PARTLY and "at least 30x (ours 10.0x)" in serving.note
    assert found["ab_test"].verdict == claims.PARTLY  # 2 of 4 parts hold
    assert "CTR lift > 0, p < 0.05 (p = 0.200)" in found["ab_test"].note
    assert "cold-user DAU lift > DAU lift" in found["ab_test"].note
    assert found["capacity_scaling"].verdict == claims.NOT_REPRODUCED
    assert "rho = -1.00" in found["capacity_scaling"].ours


def test_missing_or_malformed_results_are_not_run_with_the_reason():
    later = json.loads(json.dumps(LATER_RESULTS))
    del later["06_ab_simulation"]["metrics"]["ctr"]
    later["04_scaling"]["best_of_n"] = "oops"
    found = {c.key: c for c in claims.evaluate_all(Results(later))}
    assert found["ab_test"].verdict == claims.NOT_RUN
    assert "has no ['metrics']['ctr']" in found["ab_test"].note
    assert found["best_of_n"].verdict == claims.NOT_RUN
    assert found["rl_teacher_best"].note == (
        "results/03_grpo.json not found (notebook 03_grpo not run)")


def test_claims_on_committed_results_are_read_from_the_files():
    files = committed_results()
    if "03_grpo" not in files or "03b_baselines" not in files:
        pytest.skip("reports/default has no 03_grpo / 03b_baselines results")
    found = {c.key: c for c in claims.evaluate_all(Results(files))}
    teacher = files["03_grpo"]["offline"]["rl_teacher"]["metrics"]["recall_at_10"]["mean"]
    assert found["rl_teacher_best"].ours.startswith(f"RL teacher {teacher:.3f} [")
    assert found["rl_teacher_best"].verdict in (*claims.VERDICTS[:3], claims.UNTESTABLE)
    full = files["03_grpo"]["ablation"]["all_five"]["recall_at_10"]["mean"]
    assert found["reward_ablation"].ours.startswith(f"all five {full:.3f} [")


def test_verdict_rule():
    clear, weak, wrong = (claims.Part("a", True, True), claims.Part("b", True, False),
                          claims.Part("c", False, False))
    assert claims.verdict([clear, clear]) == claims.REPRODUCED
    assert claims.verdict([clear, weak]) == claims.PARTLY
    assert claims.verdict([clear, wrong]) == claims.PARTLY
    assert claims.verdict([clear, wrong, wrong]) == claims.NOT_REPRODUCED
    assert claims.verdict([weak, weak]) == claims.NOT_REPRODUCED  # all inside the noise
    assert claims.verdict([]) == claims.NOT_RUN


# --- paired comparisons on the same users -----------------------------------------------


def per_user_table(methods: dict[str, list[float]], seeds: int = 1) -> pd.DataFrame:
    """A long per-user table as the notebooks write it: method, seed, user, recall@10."""
    return pd.DataFrame([{"method": method, "seed": seed, "user": user, "recall@10": value}
                         for method, values in methods.items() for seed in range(seeds)
                         for user, value in enumerate(values)])


def distillation_results(half: float) -> dict:
    """05_distillation results with on-policy .26 > supervised .24 > none .18, +- half."""
    later = json.loads(json.dumps(LATER_RESULTS))
    later["05_distillation"]["distillation"] = {
        "on_policy": method_row(.26, half), "supervised": method_row(.24, half),
        "none": method_row(.18, half)}
    return later


def correlated_users(n: int = 200, noise: float = 0.005, seed: int = 0) -> dict[str, list]:
    """Per-user R@10 that differ a lot between users and little between methods."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 0.5, n)
    return {m: list(base + shift - 0.01 + rng.normal(0, noise, n))
            for m, shift in (("on-policy", .02), ("supervised", 0.0), ("none", -.06))}


def test_paired_difference_decides_where_separate_intervals_overlap():
    later = distillation_results(half=0.05)  # every separate interval overlaps
    alone = claims.evaluate("distillation_order", Results(later))
    assert alone.verdict == claims.NOT_REPRODUCED
    assert ("on-policy > supervised (separate intervals (no per-user data): intervals overlap)"
            in alone.note)
    users = correlated_users()
    paired = claims.evaluate("distillation_order", Results(
        later, per_user={"05": per_user_table(users, seeds=3)}))
    assert paired.verdict == claims.REPRODUCED
    assert all(part.clearly for part in paired.parts)
    expected = paired_difference(pd.Series(users["on-policy"]), pd.Series(users["supervised"]))
    assert expected.text().startswith("paired diff +0.019 [+0.018, +0.020]")
    assert f"on-policy > supervised ({expected.text()})" in paired.note
    assert expected.text().endswith("n = 200")
    assert "separate intervals" not in paired.note


def test_paired_difference_can_fail_where_separate_intervals_do_not_overlap():
    later = distillation_results(half=0.001)  # separate intervals far apart
    assert claims.evaluate("distillation_order", Results(later)).verdict == claims.REPRODUCED
    supervised = np.linspace(0.1, 0.4, 20)
    swing = np.tile([0.21, -0.19], 10)  # mean +0.01, but users disagree
    table = per_user_table({"on-policy": list(supervised + swing),
                            "supervised": list(supervised), "none": list(supervised - 0.06)})
    found = claims.evaluate("distillation_order", Results(later, per_user={"05": table}))
    assert found.verdict == claims.PARTLY
    assert [(p.holds, p.clearly) for p in found.parts] == [(True, False), (True, True)]
    assert re.search(r"Holds only in direction: on-policy > supervised \(paired diff \+0\.010 "
                     r"\[-0\.\d+, \+0\.\d+\], n = 20: paired interval includes 0\)\.",
                     found.note), found.note
    assert "supervised > none (paired diff +0.060 [+0.060, +0.060], n = 20)" in found.note
    assert "separate intervals" not in found.note


def test_rl_teacher_paired_across_the_03_and_03b_tables():
    rng = np.random.default_rng(2)
    base = rng.uniform(0, 0.4, 100)
    def offline(recall: float) -> dict:
        return {"metrics": {"recall_at_10": estimate(recall, .05)}, "seeds": 1,
                "recall_at_10_seed_std": None}

    def baseline(recall: float) -> dict:
        seeded = {**estimate(recall, .05), "seed_std": 0.0, "n_seeds": 1, "paper": None}
        return dict.fromkeys(("recall_at_5", "recall_at_10", "ndcg_at_5", "ndcg_at_10", "mrr"),
                             seeded)

    files = {"03_grpo": {"offline": {"rl_teacher": offline(.25), "prompt_only": offline(.23)}},
             "03b_baselines": {"methods": {"gru4rec": baseline(.20), "sasrec": baseline(.24)}}}
    per_user = {"03": per_user_table({"RL teacher": list(base + .05),
                                      "prompt-only": list(base + .03)}),
                "03b": per_user_table({"gru4rec": list(base), "sasrec": list(base + .04)})}
    found = claims.evaluate("rl_teacher_best", Results(files, per_user=per_user))
    assert found.verdict == claims.REPRODUCED, found.note
    assert "RL teacher > GRU (paired diff +0.050 [+0.050, +0.050], n = 100)" in found.note
    # Without 03b's per-user table those parts compare separate intervals, and say so.
    del per_user["03b"]
    found = claims.evaluate("rl_teacher_best", Results(files, per_user=per_user))
    assert found.verdict == claims.PARTLY
    assert "RL teacher > GRU (separate intervals (no per-user data): intervals overlap)" in (
        found.note)
    assert "RL teacher > prompt-only (paired diff +0.020" in found.note


def test_too_few_common_users_fall_back_and_say_why():
    table = per_user_table({"on-policy": [0.3], "supervised": [0.2], "none": [0.1]})
    found = claims.evaluate("distillation_order",
                            Results(distillation_results(0.001), per_user={"05": table}))
    assert found.verdict == claims.REPRODUCED
    assert "separate intervals (fewer than 2 users in both per-user tables)" in found.note


def test_results_load_reads_per_user_tables_when_present(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSSTUDY_REPORTS", str(tmp_path / "reports"))
    for notebook, results in distillation_results(half=0.05).items():
        write_json(paths.results_path("default", notebook), results)
    loaded = Results.load("default")
    assert loaded.per_user == {}
    assert "no per-user data" in claims.evaluate("distillation_order", loaded).note
    paths.tables_dir("default").mkdir(parents=True, exist_ok=True)
    per_user_table(correlated_users(), seeds=2).to_csv(
        paths.tables_dir("default") / "05_per_user.csv", index=False)
    loaded = Results.load("default")
    assert list(loaded.per_user) == ["05"]
    scores = loaded.user_scores("05", "supervised")
    assert scores is not None and len(scores) == 400  # 200 users x 2 seeds
    assert loaded.user_scores("05", "teacher") is None
    assert claims.evaluate("distillation_order", loaded).verdict == claims.REPRODUCED


# --- the report files ------------------------------------------------------------------


@pytest.fixture
def built(tmp_path, monkeypatch):
    """The report of a copy of reports/default, with paper-like results of 04-06 added."""
    if not (COMMITTED / "results").is_dir():
        pytest.skip("no committed reports/default")
    monkeypatch.setenv("NEWSSTUDY_REPORTS", str(tmp_path / "reports"))
    shutil.copytree(COMMITTED, paths.report_dir("default"),
                    ignore=shutil.ignore_patterns("REPORT.md", "index.html"))
    for notebook, results in LATER_RESULTS.items():
        write_json(paths.results_path("default", notebook), results)
    return build_report("default")


def test_report_holds_claims_every_table_and_every_figure(built):
    folder = built.html.parent
    markdown = built.markdown.read_text(encoding="utf-8")
    page = built.html.read_text(encoding="utf-8")
    assert markdown.startswith("# Reproduction report: default profile")
    for claim in built.claims:
        assert claim.statement in markdown and build.inline_html(claim.statement) in page
    for png in (folder / "figures").glob("*.png"):
        assert f"](figures/{png.name})" in markdown and f'src="figures/{png.name}"' in page
    for md in (folder / "tables").glob("*.md"):
        assert f"tables/{md.stem}.csv" in markdown and f"tables/{md.stem}.csv" in page
    assert "## Provenance" in markdown and "Package versions" in page
    # Static: no script, no stylesheet or image fetched from anywhere.
    assert "<script" not in page and "<link" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)
    for src in re.findall(r'src="([^"]+)"', page):
        assert (folder / html.unescape(src)).is_file(), src


def test_report_is_the_same_for_the_same_files(built):
    again = build_report("default")
    assert again.html.read_bytes() == built.html.read_bytes()


# --- headless Chromium -----------------------------------------------------------------

CHECK_SCRIPT = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (i) { return !i.complete || i.naturalWidth === 0; })
                     .map(function (i) { return i.getAttribute("src"); });
  var out = document.createElement("pre");
  out.id = "render-check";
  out.textContent = JSON.stringify({
    images: images.length, broken: broken, tables: document.querySelectorAll("table").length,
    h1: (document.querySelector("h1") || {}).textContent || "",
    height: document.body.scrollHeight});
  document.body.appendChild(out);
});
</script>"""


def find_browser() -> str:
    """A headless Chromium; skip (fail in CI, where .ci/run installs it) if there is none."""
    for name in (os.environ.get("NEWSSTUDY_CHROMIUM"), *BROWSERS):
        found = shutil.which(name) if name else None
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail("no chromium on PATH in CI (.ci/run installs Debian's chromium)")
    pytest.skip("no chromium on PATH: apt-get install chromium to run the render check")


def render(page: Path) -> dict:
    """Open ``page`` (a copy with a check script, beside it) in headless Chromium."""
    probe = page.with_name("_render_check.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", CHECK_SCRIPT + "</body>"),
                     encoding="utf-8")
    try:
        done = subprocess.run(
            [find_browser(), "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", "--no-first-run", "--virtual-time-budget=15000",
             "--dump-dom", probe.resolve().as_uri()],
            capture_output=True, text=True, timeout=180)
    finally:
        probe.unlink()
    found = re.search(r'<pre id="render-check">(.*?)</pre>', done.stdout, re.S)
    assert found, f"no render result (exit {done.returncode}): {done.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


def test_index_html_renders_with_every_image_in_chromium(built):
    result = render(built.html)
    n_figures = len(list((built.html.parent / "figures").glob("*.png")))
    assert result["h1"] == "Reproduction report: default profile"
    assert result["images"] == n_figures + 1 > 1  # the notebooks' figures and the headline
    assert result["broken"] == []
    assert result["tables"] > 10 and result["height"] > 2000


COMMITTED_PROFILES = ("default", "pretrained")  # profiles whose reports are in git


@pytest.mark.parametrize("profile", COMMITTED_PROFILES)
def test_committed_index_html_renders_with_every_image(profile):
    page = COMMITTED.parent / profile / "index.html"
    if not page.is_file():
        pytest.skip(f"reports/{profile}/index.html not built yet "
                    f"(newsstudy report --profile {profile})")
    result = render(page)
    assert result["broken"] == [] and result["images"] > 0
    assert result["h1"] == f"Reproduction report: {profile} profile"


# --- committed results against the current parameters ----------------------------------


@pytest.mark.parametrize("profile", COMMITTED_PROFILES)
def test_committed_results_match_current_params(profile, monkeypatch):
    """Fails when a committed results file was produced by other parameters than
    params/<profile> (or rewritten outside newsstudy run/reproduce)."""
    monkeypatch.setenv("NEWSSTUDY_REPORTS", str(committed.reports_root()))
    checks = run_status.params_status(profile)
    if not checks:
        pytest.skip(f"no committed results in reports/{profile}/")
    unrecorded = [c.notebook for c in checks if c.status == "no finished run recorded"]
    wrong = [f"{c.notebook}: {c.status}" for c in checks
             if not c.ok and c.notebook not in unrecorded]
    assert not wrong, (f"re-run these with `newsstudy reproduce --profile {profile}`: "
                       + "; ".join(wrong))
    if unrecorded:
        pytest.skip(f"no params hash recorded for {', '.join(unrecorded)} in reports/{profile}/"
                    f"runs.json: `newsstudy reproduce --profile {profile}` records them")


def test_failed_world_gate_makes_a_claim_untestable():
    """A claim whose world gate failed is 'untestable in this world', not 'not
    reproduced'; a passing or unrecorded gate leaves the verdict alone."""
    gap = PairedGate(mean_a=0.105, mean_b=0.1, diff=0.005, low=-0.01, high=0.02, n=1000,
                     p_value=0.4, relative=0.05, candidate="infer interests",
                     reference="copy surface signals", metric="recall@10", passes=False,
                     min_lift=0.15).model_dump()
    files = {"05_distillation": {"serving": {"teacher": speed(2.0), "student": speed(80.0)}},
             "02_rewards": {"gates": {"inference_pays": gap}}}
    found = {c.key: c for c in claims.evaluate_all(Results(files))}
    assert found["student_speed"].verdict == claims.REPRODUCED  # needs no world gate
    files["04_scaling"] = {"best_of_n": {"1": best_of_n_row(0.10), "4": best_of_n_row(0.20),
                                         "32": best_of_n_row(0.21)}}
    blocked = claims.evaluate("best_of_n", Results(files))
    assert blocked.verdict == claims.UNTESTABLE
    assert "Instrument gate failed: 'inference pays'" in blocked.note and "+5.0%" in blocked.note
    files["02_rewards"]["gates"]["inference_pays"]["passes"] = True
    assert claims.evaluate("best_of_n", Results(files)).verdict != claims.UNTESTABLE
    del files["02_rewards"]
    assert claims.evaluate("best_of_n", Results(files)).verdict != claims.UNTESTABLE


def test_budgets_page_is_generated_from_runs_json(monkeypatch):
    """docs/budgets.md is `newsstudy budgets --profile default --write`'s output, for the
    committed runs.json."""
    from newsstudy import paths
    from newsstudy.report import budgets

    monkeypatch.setenv("NEWSSTUDY_REPORTS", str(committed.reports_root()))
    text = (paths.PROJECT_ROOT / "docs" / "budgets.md").read_text(encoding="utf-8")
    assert text == budgets.budgets_page("default"), (
        "docs/budgets.md is stale: run `newsstudy budgets --profile default --write`")
    rows = {row["notebook"]: row for row in budgets.budget_rows("default")}
    assert set(rows) == set(budgets.BUDGET_MINUTES["default"])


def test_budgets_name_the_whole_reproduce_against_its_budget(project):
    """With a whole `reproduce` recorded, the budgets block gives its wall time, jobs and
    skips against the profile's budget; without one, the sum of the notebooks' runs."""
    from newsstudy.report import budgets
    from newsstudy.run import records

    assert budgets.whole_run_line("default", 41.0, 8).startswith(
        "Sum of the last runs: 41.0 min over 8 notebooks")
    records.save_reproduce("default", {"wall_seconds": 1860.0, "jobs": 2, "started": "t0",
                                       "ran": ["a", "b"], "skipped": ["c"]})
    line = budgets.whole_run_line("default", 41.0, 8)
    assert "**31.0 min** against a budget of 30 min: **over**" in line
    assert "2 notebooks at a time" in line and "skipped c (up to date)" in line
    records.save_reproduce("default", {"wall_seconds": 1500.0, "jobs": 2, "ran": ["a"]})
    assert "**25.0 min** against a budget of 30 min: within" in budgets.whole_run_line(
        "default", 30.0, 1)


def test_budgets_add_up_the_cpu_time_and_name_background_notebooks(project, monkeypatch):
    """With every notebook's CPU time recorded, the block gives their sum and the wall time
    no schedule on the recorded cores can beat; background notebooks are marked."""
    from newsstudy import params
    from newsstudy.report import budgets
    from newsstudy.run import records

    names = ["01_data", "02_rewards", "03_grpo"]
    monkeypatch.setattr(params, "profile_notebooks", lambda profile: names)
    for index, name in enumerate(names):
        records.save_record("default", name, {
            "wall_seconds": 60.0, "cpu_seconds": 120.0 * (index + 1),
            "started": f"2026-01-01T00:{index:02d}:00", "finished": f"2026-01-01T00:{index:02d}:59",
            "machine": {"cpu_count": 2}})
    records.save_reproduce("default", {"wall_seconds": 600.0, "jobs": 2,
                                       "ran": names, "background": [names[1]]})
    text = budgets.budget_markdown("default")
    total = sum(2.0 * (index + 1) for index in range(len(names)))
    assert f"CPU time adds up to {total:.1f} core-min: on 2 cores" in text
    assert f"takes less than {total / 2:.1f} min" in text
    rows = {row["notebook"]: row for row in budgets.budget_rows("default")}
    assert rows[names[0]]["cpu min"] == 2.0
    assert rows[names[1]]["ran beside"].endswith("(in the background)")
    assert not rows[names[0]]["ran beside"].endswith("(in the background)")


def test_budgets_count_the_early_builds_cpu_time(project, monkeypatch):
    """An early build's CPU time is part of the work no schedule can beat, and is named."""
    from newsstudy import params
    from newsstudy.report import budgets
    from newsstudy.run import records

    monkeypatch.setattr(params, "profile_notebooks", lambda profile: ["01_data"])
    records.save_record("default", "01_data", {
        "wall_seconds": 60.0, "cpu_seconds": 120.0, "started": "2026-01-01T00:00:00",
        "finished": "2026-01-01T00:00:59", "machine": {"cpu_count": 2}})
    records.save_reproduce("default", {"wall_seconds": 600.0, "jobs": 2, "ran": ["01_data"],
                                       "early_builds": {"06_ab_simulation": {
                                           "what": "the A/B world", "cpu_seconds": 60.0,
                                           "wall_seconds": 300.0}}})
    text = budgets.budget_markdown("default")
    assert ("adds up to 2.0 core-min, plus the early build of the A/B world of "
            "06_ab_simulation (1.0 core-min over 5.0 min at the lowest CPU priority): on 2 "
            "cores, no schedule of this work takes less than 1.5 min") in text


def test_budgets_show_the_early_builds_memory_against_the_budget(project, monkeypatch):
    """An early build's peak memory is recorded beside the notebooks' and counts against
    the memory budget."""
    from newsstudy import params
    from newsstudy.report import budgets
    from newsstudy.run import records

    monkeypatch.setattr(params, "profile_notebooks", lambda profile: ["01_data"])
    records.save_record("default", "01_data", {"wall_seconds": 60.0, "peak_pss_gb": 1.5})
    build = {"what": "the A/B world", "cpu_seconds": 60.0, "wall_seconds": 300.0,
             "peak_pss_gb": 7.25}
    records.save_reproduce("default", {"wall_seconds": 600.0, "jobs": 2, "ran": ["01_data"],
                                       "early_builds": {"06_ab_simulation": build}})
    text = budgets.budget_markdown("default")
    assert ("Largest peak memory of a notebook: 1.5 GB; of the early build of the A/B world "
            "of 06_ab_simulation: 7.25 GB (budget 6 GB: **over**)") in text


def test_an_early_build_records_its_own_peak_memory(monkeypatch):
    """run_early_build measures the process that does the work (not only its children)."""
    import numpy as np

    from newsstudy.run import early

    def build(profile, params):
        block = np.ones(60_000_000 // 8)  # 60 MB held for a few samples
        import time

        time.sleep(1.5)
        return block.sum()

    monkeypatch.setattr(early, "EARLY_BUILDS", (early.EarlyBuild("x", (), build, "a block"),))
    record = early.run_early_build(0, "smoke", {})
    assert record["peak_rss_gb"] >= 0.06 and record["peak_pss_gb"] > 0.0


def test_the_first_table_gives_every_verdict_with_one_line_of_why(monkeypatch):
    """The report opens with the verdicts: one row per claim, the headline effect (paper,
    ours with interval and n), the verdict and a reason of one line."""
    monkeypatch.setenv("NEWSSTUDY_REPORTS", str(committed.reports_root()))
    found = claims.evaluate_all(Results.load("default"))
    table = build.verdict_table(found)
    assert list(table["claim"]) == [claim.statement for claim in found]
    assert list(table.columns) == ["claim", "effect", "paper", "ours (95% interval)",
                                   "verdict", "why"]
    assert all("\n" not in why and len(why) <= 120 for why in table["why"])
    for claim, why in zip(found, table["why"], strict=True):
        if claim.verdict == claims.UNTESTABLE:
            assert why.startswith("gate failed: ")
    teacher = table.set_index("claim").loc[found[0].statement]
    effect = found[0].effect
    assert teacher["ours (95% interval)"].startswith(f"{effect.ours.mean:+.3f} [")
    assert f"(n = {effect.ours.n:,})" in teacher["ours (95% interval)"]


def test_every_figure_has_a_caption_that_says_what_it_shows():
    figures = sorted((committed.reports_root() / "default" / "figures").glob("*.png"))
    assert figures
    for png in figures:
        assert png.stem in build.FIGURE_CAPTIONS, f"{png.name}: no caption"
        assert build.caption_for(png.stem).endswith((".", "?"))


def test_the_report_shows_key_tables_whole_and_links_the_rest(built):
    markdown = built.markdown.read_text(encoding="utf-8")
    shown = set(re.findall(r"\*\*[^*]+\*\* \(\[tables/([^\]]+)\.csv\]", markdown))
    assert shown and shown <= build.KEY_TABLES
    folder = built.html.parent / "tables"
    for md in folder.glob("*.md"):
        if md.stem not in build.KEY_TABLES:
            assert f"[{md.stem}](tables/{md.stem}.csv)" in markdown, md.stem


def test_no_figure_draws_on_twin_axes():
    """STYLE.md: one quantity per axis; a second scale hides a gap."""
    from newsstudy import paths

    for path in paths.PACKAGE_DIR.rglob("*.py"):
        assert ".twinx(" not in path.read_text(encoding="utf-8"), path.name


def test_every_table_shown_whole_says_how_many_users_stand_behind_it(monkeypatch):
    monkeypatch.setenv("NEWSSTUDY_REPORTS", str(committed.reports_root()))
    blocks = build.output_blocks("default")
    shown = [block for section in blocks.values() for block in section
             if isinstance(block, build.Table)]
    assert shown
    for table in shown:
        assert re.search(r"\(n = [\d,]+", table.caption), table.caption
