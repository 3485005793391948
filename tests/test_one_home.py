"""One home per value: every notebook parameter's effective value comes from one place.

A parameter's value is the profile's file if it names it, else the schema's default
(``newsstudy.params``). These tests walk every parameter of every notebook and fail where
a second place could supply or replace it: a default in the code that carries it (a
dataclass or model filled from the parameters), a value in the notebook's ``parameters``
cell, the same key in two files of one profile, or a per-size recipe in code that wins
over the capacity study's parameters.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import pkgutil

import pytest
import yaml

import newsstudy
from newsstudy import params, paths, schemas
from newsstudy.policy import ladder

NOTEBOOKS = sorted(params.SCHEMAS)

# Fields that share a parameter's name but are not that parameter, each with the reason.
NOT_A_SECOND_HOME = {
    ("newsstudy.rewards.judge", "RubricJudge", "max_interests"):
        "the judge's cap on the interests it infers from signals, not 01's latent interests",
    ("newsstudy.rewards.judge", "UserInterests", "profile"):
        "a user's cluster mix (an array), not the profile name",
    ("newsstudy.policy.hardware", "HardwareSettings", "lora_rank"):
        "the GPU plan's hardware file sizes the plan with it; the plan refuses to run when it "
        "disagrees with the notebook's lora_rank (newsstudy.run.gpu_plan)",
}


def parameter_names() -> set[str]:
    return {name for schema in params.SCHEMAS.values() for name in schema.model_fields}


def schema_classes() -> set[type]:
    """The schemas and every class they are built from (mixins hold schema defaults)."""
    return {base for schema in params.SCHEMAS.values() for base in inspect.getmro(schema)}


def newsstudy_modules():
    for info in pkgutil.walk_packages(newsstudy.__path__, "newsstudy."):
        yield importlib.import_module(info.name)


def newsstudy_classes():
    for module in newsstudy_modules():
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and obj.__module__ == module.__name__:
                yield module.__name__, name, obj


def defaulted_fields(cls) -> list[str]:
    """Fields of a dataclass or pydantic model that have a default of their own."""
    if dataclasses.is_dataclass(cls):
        return [f.name for f in dataclasses.fields(cls)
                if f.default is not dataclasses.MISSING
                or f.default_factory is not dataclasses.MISSING]
    if hasattr(cls, "model_fields"):
        return [name for name, f in cls.model_fields.items() if not f.is_required()]
    return []


def test_no_code_carrier_holds_a_default_for_a_notebook_parameter():
    names, in_schemas = parameter_names(), schema_classes()
    found = []
    for module, name, cls in newsstudy_classes():
        if cls in in_schemas or module == "newsstudy.schemas":  # the home itself
            continue
        for field in defaulted_fields(cls):
            if field in names and (module, name, field) not in NOT_A_SECOND_HOME:
                found.append(f"{module}.{name}.{field}")
    assert not found, (f"defaults that duplicate a notebook parameter (take the value from "
                       f"the parameters instead): {found}")


def test_the_allowed_namesakes_still_exist():
    """The exceptions above name real fields: a removed one must leave the list too."""
    for module, name, field in NOT_A_SECOND_HOME:
        cls = getattr(importlib.import_module(module), name)
        assert field in defaulted_fields(cls), (module, name, field)


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_the_parameters_cell_holds_no_value_of_its_own(notebook):
    """The cell's knobs are None (the profile's value) and ``overrides`` is empty; only the
    profile's name and the variant are set there."""
    source = (paths.NOTEBOOKS_DIR / f"{notebook}.py").read_text()
    cell = source.split('# %% tags=["parameters"]', 1)[1].split("# %%", 1)[0]
    for node in ast.parse(cell).body:
        if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
            continue
        target = node.targets[0] if isinstance(node, ast.Assign) else node.target
        value = ast.literal_eval(node.value)
        if target.id == "profile":
            assert value == "default"
        elif target.id == "overrides":
            assert value == {}, f"{notebook}: overrides must be empty in the cell"
        else:
            assert value is None, f"{notebook}: {target.id} = {value!r} in the parameters cell"


@pytest.mark.parametrize("profile", params.profiles())
def test_no_profile_sets_a_value_in_two_files(profile):
    """The teacher recipe lives in teacher.yaml; a notebook's own file never repeats it."""
    recipe = set(yaml.safe_load((paths.PARAMS_DIR / profile / "teacher.yaml").read_text()) or {})
    recipe.discard("profile")
    for notebook in NOTEBOOKS:
        path = paths.PARAMS_DIR / profile / f"{notebook}.yaml"
        if not path.is_file() or not params.uses_recipe(notebook):
            continue
        own = set(yaml.safe_load(path.read_text()) or {})
        assert not own & recipe, f"{path}: {sorted(own & recipe)} are also in teacher.yaml"


def test_the_ladder_holds_architecture_only():
    fields = {f.name for f in dataclasses.fields(ladder.ModelSize)}
    assert fields == {"hidden", "layers", "heads", "kv_heads", "intermediate"}
    assert set(schemas.LADDER_SFT_EPOCHS) == set(ladder.LADDER)


@pytest.mark.parametrize("profile", ["smoke", "default", "paper"])
def test_every_sizes_recipe_in_the_capacity_study_is_the_parameters(profile):
    """Each size trains with exactly the per-size values of 04's parameters, and changing
    one changes that size's settings only (nothing in code wins over them)."""
    from newsstudy.scaling import capacity

    P = params.load_params("04_scaling", profile)
    for size in P.sizes:
        sized = capacity.size_settings(P, size)
        assert (sized.sft_epochs, sized.sft_learning_rate, sized.grpo_learning_rate) == (
            P.capacity_sft_epochs[size], P.capacity_sft_learning_rates[size],
            P.capacity_grpo_learning_rates[size]), size
    first, other = P.sizes[0], P.sizes[1]
    changed = params.load_params("04_scaling", profile,
                                 {"capacity_grpo_learning_rates": {first: 0.0123}})
    assert capacity.size_settings(changed, first).grpo_learning_rate == 0.0123
    assert (capacity.size_settings(changed, other).grpo_learning_rate
            == capacity.size_settings(P, other).grpo_learning_rate)


# Parameter names a library function may default, each with why its default is not a
# second home of the notebook parameter of that name.
LIBRARY_DEFAULTS = {
    "seed": "a function's own random stream for direct use; stages pass the notebook's seed",
    "alpha": "the statistics API's conventional 5% level; 06 passes its alpha",
    "power": "the statistics API's conventional 80% power; 06 passes its power",
    "n_bootstrap": "0 means the analytic interval; 06 passes its n_bootstrap",
    "batch_size": "an engine's batch of work (speed only: results do not depend on it)",
    "profile": "the command line's default profile (newsstudy budgets, the GPU plan)",
    "temperature": "the generation API's plain sampling; the policy's decoding is passed",
    "top_p": "the generation API's plain sampling; the policy's decoding is passed",
    "max_new_tokens": "the generation API's length cap; the policy's decoding is passed",
    "top_n": "how deep a ranking is drawn (metrics read its top 10); 03b passes its top_n",
    "max_queries": "the query-list grammar's cap on queries (newsstudy.output_format)",
    "max_interests": "the judge's cap on the interests it infers (not 01's latent interests)",
    "days": "a window of a helper (popularity's recent clicks, a synthetic market's days)",
    "n_users": "the size of a synthetic market for tests and benchmarks",
    "history_days": "the size of a synthetic market for tests and benchmarks",
    "n_topics": "the size of a synthetic market for tests and benchmarks",
    "cold_share": "the size of a synthetic market for tests and benchmarks",
}


def functions_of_newsstudy():
    for module, name, cls in newsstudy_classes():
        for attr, value in vars(cls).items():
            if inspect.isfunction(value):
                yield f"{module}.{name}.{attr}", value
    for module in newsstudy_modules():
        for name, obj in vars(module).items():
            if inspect.isfunction(obj) and obj.__module__ == module.__name__:
                yield f"{module.__name__}.{name}", obj


def test_no_function_defaults_a_study_setting():
    """A function whose argument is a notebook parameter takes it from its caller: a
    default there would be what a call that forgets it silently runs with (say, another
    fusion than the one served)."""
    names = parameter_names() - set(LIBRARY_DEFAULTS)
    found = []
    for where, function in functions_of_newsstudy():
        for argument in inspect.signature(function).parameters.values():
            if (argument.name in names and argument.default is not inspect.Parameter.empty
                    and argument.default is not None):
                found.append(f"{where}({argument.name}={argument.default!r})")
    assert not found, f"defaults of study settings in code: {sorted(set(found))}"


def test_the_library_defaults_are_all_notebook_parameter_names():
    """Each exception names a real parameter (a renamed one must leave the list)."""
    assert set(LIBRARY_DEFAULTS) <= parameter_names()
