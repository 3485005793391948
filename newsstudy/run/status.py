"""Whether a profile's recorded results still match its parameters and inputs: what the
report and the notebooks may read about the runs without importing the runner.
"""

from __future__ import annotations

from dataclasses import dataclass

from newsstudy import paths
from newsstudy.params import ParamsError, load_params, profile_notebooks
from newsstudy.run.fingerprints import file_sha256, inputs_hash, params_hash
from newsstudy.run.records import load_runs


@dataclass
class ParamsCheck:
    """Whether one notebook's results were produced by the profile's current parameters."""

    notebook: str
    current: str | None  # params hash of params/<profile>/<notebook>.yaml now
    recorded: str | None  # params hash runs.json recorded for the run that wrote the results
    status: str  # "matches", or what is wrong

    @property
    def ok(self) -> bool:
        return self.status == "matches"


def params_status(profile: str) -> list[ParamsCheck]:
    """For each notebook with results or a run record: do they match the current params?

    A results file counts as produced by the current parameters when ``runs.json`` holds a
    finished run of that notebook whose ``params_hash`` equals the hash of the validated
    ``params/<profile>/<notebook>.yaml`` and whose ``results_sha256`` is the file's sha256
    (so results written outside ``newsstudy run``/``reproduce`` are caught too).
    """
    runs = load_runs(profile)
    results_dir = paths.results_path(profile, "x").parent
    with_results = {p.stem for p in results_dir.glob("*.json")} if results_dir.is_dir() else set()
    checks = []
    in_variant = paths.output_name(profile) != profile
    for notebook in sorted(with_results | set(runs)):
        # a variant's run is vouched for by the profile's values with its own overrides
        overrides = runs.get(notebook, {}).get("overrides", {}) if in_variant else {}
        try:
            current = params_hash(load_params(notebook, profile, overrides))
        except ParamsError as err:
            checks.append(ParamsCheck(notebook, None, None, f"parameters do not load: {err}"))
            continue
        record = runs.get(notebook, {})
        recorded = record.get("params_hash")
        results_sha = file_sha256(paths.results_path(profile, notebook))
        if not record or record.get("incomplete"):
            status = "no finished run recorded"
        elif recorded != current:
            status = (f"run used other parameters than params/{profile}/{notebook}.yaml "
                      f"(file changed since, or -p overrides)")
        elif record.get("results_sha256") != results_sha:
            status = "results file differs from the one the run wrote"
        else:
            status = "matches"
        checks.append(ParamsCheck(notebook, current, recorded, status))
    return checks


def stale_inputs(profile: str) -> list[str]:
    """Notebooks whose recorded run read other inputs than the earlier notebooks' current
    results (e.g. an older world): their numbers are not comparable with those results
    until ``reproduce`` re-runs them."""
    runs = load_runs(profile)
    order = profile_notebooks(profile)
    return [name for name in order
            if name in runs and not runs[name].get("incomplete")
            and runs[name].get("parts", {}).get("inputs") != inputs_hash(name, order, runs)]
