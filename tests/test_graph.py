"""The notebooks' dependency graph and ``reproduce --jobs 2`` over it.

The declaration (:data:`newsstudy.run.graph.NEEDS`) is checked against what each notebook
names; the scheduler runs toy notebooks in threads with a fake executor that proves two
of them ran at the same time.
"""

from __future__ import annotations

import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from conftest import ToyParams

from newsstudy import params, paths
from newsstudy.io import write_json
from newsstudy.run import fingerprints, graph, records, runner
from newsstudy.schemas import PUBLISHED_POLICIES, SCHEMAS

STUDY = params.notebooks()


def test_every_notebook_is_declared_and_needs_only_earlier_ones():
    assert set(graph.NEEDS) == set(STUDY)
    graph.check_order(STUDY)
    for notebook, needs in graph.NEEDS.items():
        assert set(needs) <= set(STUDY), notebook


def test_every_notebook_a_notebook_names_is_among_its_inputs():
    """A notebook's source names the outputs of the notebooks it reads (``04_capacity_per_user``,
    a published policy's notebook): each such notebook must be one of its inputs. Reading
    another notebook's schema defaults (``params.schema_defaults``) reads no output."""
    prefixes = {name.split("_", 1)[0] + "_": name for name in STUDY}
    for notebook in STUDY:
        source = (paths.NOTEBOOKS_DIR / f"{notebook}.py").read_text(encoding="utf-8")
        source = re.sub(r'schema_defaults\("[^"]*"\)', "", source)
        named = {prefixes[m] for m in re.findall(r"\b(0\db?_)[a-z]", source) if m in prefixes}
        named.discard(notebook)
        assert named <= set(graph.inputs_of(notebook, STUDY)), notebook


def test_a_published_policy_is_read_after_the_notebook_that_publishes_it():
    """06 serves the student (05), 05 distils the distillation teacher (04), 04 samples the
    teacher (03)."""
    reads = {"06_ab_simulation": "student", "05_distillation": "distillation-teacher",
             "04_scaling": "teacher"}
    for notebook, policy in reads.items():
        assert PUBLISHED_POLICIES[policy] in graph.inputs_of(notebook, STUDY)


def test_inputs_and_unrelated_on_the_study_graph():
    assert graph.inputs_of("05_distillation", STUDY) == [
        "01_data", "03_grpo", "03b_baselines", "04_scaling"]
    assert graph.inputs_of("01_data", STUDY) == []
    assert graph.unrelated("03b_baselines", STUDY) == [
        "01b_sensitivity", "02_rewards", "03_grpo", "04_scaling"]
    assert graph.unrelated("01_data", STUDY) == []
    # a profile that runs only part of the study (pretrained: 01 then 03) is a chain
    assert graph.unrelated("03_grpo", ["01_data", "03_grpo"]) == []


def test_undeclared_notebooks_need_every_earlier_one():
    order = ["a", "b", "c"]
    assert graph.direct_needs("c", order) == ("a", "b")
    assert graph.inputs_of("b", order) == ["a"]
    assert graph.unrelated("b", order) == []


def test_critical_order_starts_the_longest_chain_first():
    seconds = {"01_data": 1, "01b_sensitivity": 300, "02_rewards": 200, "03_grpo": 600,
               "03b_baselines": 700, "04_scaling": 1200, "05_distillation": 900,
               "06_ab_simulation": 700}
    chain = graph.downstream_seconds(STUDY, seconds)
    assert chain["03_grpo"] == 600 + 1200 + 900 + 700  # by hand
    assert chain["03b_baselines"] == 700 + 900 + 700
    assert chain["01_data"] == 1 + chain["03_grpo"]
    ready = ["01b_sensitivity", "02_rewards", "03_grpo", "03b_baselines"]
    assert graph.critical_order(ready, STUDY, seconds) == [
        "03_grpo", "03b_baselines", "01b_sensitivity", "02_rewards"]


def test_an_order_that_runs_a_need_late_is_refused():
    with pytest.raises(ValueError, match="04_scaling needs 03_grpo"):
        graph.check_order(["01_data", "04_scaling", "03_grpo"])


def test_kernel_threads_share_the_cores_only_between_foreground_notebooks(monkeypatch):
    monkeypatch.setattr(runner.os, "cpu_count", lambda: 2)
    after_01 = [name for name in STUDY if name != "01_data"]
    assert runner.kernel_threads("01_data", STUDY, 2, [], after_01) is None
    # the critical path takes every core; what runs beside it in the background, one
    assert runner.kernel_threads("03_grpo", STUDY, 2, [], ["01b_sensitivity", "04_scaling"]) is None
    assert runner.kernel_threads("03b_baselines", STUDY, 2, ["03_grpo"], ["04_scaling"],
                                 background=True) == 1
    assert runner.kernel_threads("02_rewards", STUDY, 2, [], ["04_scaling"], background=True) == 1
    # two foreground notebooks side by side split the cores
    assert runner.kernel_threads("03_grpo", STUDY, 2, ["03b_baselines"], ["04_scaling"]) == 1
    assert runner.kernel_threads("04_scaling", STUDY, 2, [], ["05_distillation"]) is None
    assert runner.kernel_threads("06_ab_simulation", STUDY, 2, [], []) is None
    assert runner.kernel_threads("03_grpo", STUDY, 1, ["03b_baselines"], []) is None


def test_notebooks_off_the_critical_path_run_in_the_background():
    seconds = {"01_data": 40, "01b_sensitivity": 300, "02_rewards": 270, "03_grpo": 1350,
               "03b_baselines": 690, "04_scaling": 1300, "05_distillation": 560,
               "06_ab_simulation": 500}
    # 03's chain (03, 04, 05, 06: 3,710 s) is longer than 03b's (03b, 05, 06: 1,750 s)
    assert runner.in_background("03b_baselines", STUDY, seconds, ["03_grpo"])
    assert not runner.in_background("03_grpo", STUDY, seconds, ["03b_baselines"])
    assert not runner.in_background("03_grpo", STUDY, seconds, [])
    # 03 with 20 s left: its chain (20 + 1,300 + 560 + 500) is still longer than 02's
    assert runner.in_background("02_rewards", STUDY, {**seconds, "03_grpo": 20}, ["03_grpo"])
    # 04 after 03, beside 02 (which nothing needs): 04 is the critical path
    assert not runner.in_background("04_scaling", STUDY, {**seconds, "02_rewards": 100},
                                    ["02_rewards"])
    # a notebook with a longer chain than the one running is not held back
    assert not runner.in_background("03b_baselines", STUDY, {**seconds, "03b_baselines": 9000},
                                    ["03_grpo"])


# --- reproduce --jobs 2 on toy notebooks ----------------------------------------------

DIAMOND = {"a_root": (), "b_left": ("a_root",), "c_right": ("a_root",),
           "d_join": ("b_left", "c_right")}
PARAMETERS = "profile = 'smoke'\nseed = 0\nn = 1\nfail = False"


@pytest.fixture
def diamond(project, monkeypatch):
    """a -> (b, c) -> d, with a fake executor; b waits (up to 10 s) until c has started."""
    for name in DIAMOND:
        monkeypatch.setitem(SCHEMAS, name, ToyParams)
        monkeypatch.setitem(graph.NEEDS, name, DIAMOND[name])
        project.write_notebook(name, PARAMETERS, "print(n)")
        project.write_params("smoke", name, {"profile": "smoke", "seed": 0, "n": 1})
    state = SimpleNamespace(project=project, calls=[], fail=None, overlapped=False,
                            c_started=threading.Event())

    def fake_execute(source, target, parameters):
        name = source.stem
        state.calls.append(name)
        if name == "c_right":
            state.c_started.set()
        if name == "b_left":
            state.overlapped = state.c_started.wait(timeout=10)
        write_json(paths.results_path(parameters["profile"], name),
                   {"n": parameters["n"], "profile": parameters["profile"]})
        if state.fail == name:
            raise runner.NotebookFailed("RuntimeError: boom (cell [2])")
        target.write_text(json.dumps({"ran": name}), encoding="utf-8")

    monkeypatch.setattr(runner, "execute", fake_execute)
    monkeypatch.setattr(runner, "worker_pool", lambda jobs: ThreadPoolExecutor(jobs))
    # the toy notebooks run in threads of this process: record niceness, do not apply it
    state.nice = []
    monkeypatch.setattr(runner.os, "nice", lambda increment: state.nice.append(increment) or 0)
    return state


def test_independent_notebooks_run_at_the_same_time(diamond):
    lines = []
    reports = runner.reproduce("smoke", log=lines.append, jobs=2)
    assert diamond.overlapped, "b_left and c_right did not run side by side"
    assert [path.stem for path in reports] == list(DIAMOND)
    assert diamond.calls[0] == "a_root" and diamond.calls[-1] == "d_join"
    assert any("beside" in line for line in lines)
    whole = records.load_reproduce("smoke")
    assert whole["jobs"] == 2 and sorted(whole["ran"]) == sorted(DIAMOND)
    assert set(records.load_runs("smoke")) == set(DIAMOND)


def test_the_shorter_chain_runs_in_the_background(diamond):
    runner.reproduce("smoke", log=lambda line: None, jobs=2)
    assert records.load_reproduce("smoke")["background"] == []  # nothing timed yet: a tie
    # as if b_left had taken ten times as long as c_right: its chain is the longer
    for name, seconds in (("b_left", 100.0), ("c_right", 10.0)):
        records.save_record("smoke", name, {**records.load_runs("smoke")[name],
                                            "wall_seconds": seconds})
    lines = []
    diamond.nice.clear()
    runner.reproduce("smoke", log=lines.append, jobs=2, force=True)
    assert records.load_reproduce("smoke")["background"] == ["c_right"]
    assert diamond.nice.count(runner.BACKGROUND_NICENESS) == 1
    assert any("c_right (smoke): in the background (niceness 10, 1 thread): b_left has the "
               "longer chain" in line for line in lines)
    runs = records.load_runs("smoke")
    assert runs["c_right"]["kernel_threads"] == "1"
    assert runs["c_right"]["cpu_seconds"] >= 0


def test_serial_and_parallel_record_the_same_fingerprints(diamond):
    runner.reproduce("smoke", log=lambda line: None, jobs=1)
    serial = {name: record["fingerprint"] for name, record in records.load_runs("smoke").items()}
    assert not diamond.overlapped
    runner.reproduce("smoke", log=lambda line: None, jobs=2, force=True)
    parallel = {name: record["fingerprint"] for name, record in records.load_runs("smoke").items()}
    assert parallel == serial


def test_a_changed_branch_reruns_only_what_reads_it(diamond):
    runner.reproduce("smoke", log=lambda line: None, jobs=2)
    diamond.project.write_params("smoke", "b_left", {"profile": "smoke", "seed": 0, "n": 2})
    diamond.calls.clear()
    runner.reproduce("smoke", log=lambda line: None, jobs=2)
    assert sorted(diamond.calls) == ["b_left", "d_join"]


def test_a_failure_stops_what_needs_it_and_lets_the_rest_finish(diamond):
    diamond.fail = "c_right"
    lines = []
    with pytest.raises(runner.NotebookFailed, match="boom"):
        runner.reproduce("smoke", log=lines.append, jobs=2)
    runs = records.load_runs("smoke")
    assert "fingerprint" in runs["b_left"]  # finished beside the failure
    assert runs["c_right"]["incomplete"] and "d_join" not in runs
    assert any("d_join (smoke): not run (it needs c_right, which failed)" in line
               for line in lines)
    assert records.load_reproduce("smoke") == {}  # no whole run recorded
    diamond.fail = None
    diamond.calls.clear()
    runner.reproduce("smoke", log=lambda line: None, jobs=2)
    assert sorted(diamond.calls) == ["c_right", "d_join"]


def test_jobs_must_be_a_positive_integer(diamond):
    for bad in (0, -1, 1.5, True):
        with pytest.raises(params.ParamsError, match="jobs must be a positive integer"):
            runner.reproduce("smoke", log=lambda line: None, jobs=bad)


def test_concurrent_record_updates_lose_nothing(project):
    def write(index: int) -> None:
        records.save_record("smoke", f"nb_{index:02d}", {"wall_seconds": index})

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(40)))
    runs = records.load_runs("smoke")
    assert len(runs) == 40 and runs["nb_17"]["wall_seconds"] == 17
    assert fingerprints.file_sha256(records.runs_path("smoke")) is not None


@pytest.fixture
def early_build(diamond, monkeypatch):
    """An early build of d_join's input that needs only a_root (run in a thread here)."""
    from newsstudy.run import early

    diamond.built = []

    def build(profile, params):
        assert "a_root" in diamond.calls and "d_join" not in diamond.calls
        if diamond.fail == "early":
            raise OSError("disk full")
        diamond.built.append((profile, params["n"]))

    builds = (early.EarlyBuild("d_join", ("a_root",), build, "the toy input"),)
    monkeypatch.setattr(early, "EARLY_BUILDS", builds)
    monkeypatch.setattr(runner, "EARLY_BUILDS", builds)
    monkeypatch.setattr(runner, "early_pool", lambda builds: ThreadPoolExecutor(1))
    return diamond


def test_an_early_build_runs_after_its_needs_and_before_its_notebook(early_build):
    lines = []
    runner.reproduce("smoke", log=lines.append, jobs=2)
    assert early_build.built == [("smoke", 1)]
    assert early_build.calls[-1] == "d_join"
    record = records.load_reproduce("smoke")["early_builds"]["d_join"]
    assert record["what"] == "the toy input" and record["wall_seconds"] >= 0
    assert any("d_join (smoke): building the toy input early" in line for line in lines)


def test_a_failed_early_build_is_left_to_its_notebook(early_build):
    early_build.fail = "early"
    lines = []
    reports = runner.reproduce("smoke", log=lines.append, jobs=2)
    assert [path.stem for path in reports] == list(DIAMOND)  # d_join still ran
    record = records.load_reproduce("smoke")["early_builds"]["d_join"]
    assert record["failed"] == "OSError: disk full"
    assert any("the notebook will build it" in line for line in lines)


def test_early_builds_wait_for_no_one_in_a_serial_run(early_build):
    runner.reproduce("smoke", log=lambda line: None, jobs=1)
    assert early_build.built == []  # nothing to overlap: the notebook builds its input
    assert records.load_reproduce("smoke")["early_builds"] == {}


def test_an_early_build_waits_for_the_memory_it_needs(early_build, monkeypatch):
    monkeypatch.setattr(runner, "memory_estimate",
                        lambda notebook, params: 6e9 if notebook == "d_join" else None)
    monkeypatch.setattr(runner, "available_memory_bytes", lambda: 2e9)
    lines = []
    reports = runner.reproduce("smoke", log=lines.append, jobs=2)
    assert early_build.built == []  # never enough memory: d_join builds its input itself
    assert [path.stem for path in reports] == list(DIAMOND)
    assert records.load_reproduce("smoke")["early_builds"] == {}
    waits = [line for line in lines if "waits to be built early" in line]
    assert len(waits) == 1 and "about 6.0 GB of memory, 2.0 GB is available" in waits[0]
