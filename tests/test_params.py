"""Parameter validation: every error is one line that names the key and where it came from."""

from __future__ import annotations

import os
import types

import pytest
import yaml
from conftest import ToyParams

from newsstudy import paths
from newsstudy.io import read_json
from newsstudy.params import (
    RECIPE,
    ParamsError,
    from_namespace,
    load_params,
    load_recipe,
    notebooks,
    own_fields,
    parse_override,
    profile_notebooks,
    profiles,
    recipe_fields,
    recipe_notebooks,
    schema_table,
    uses_recipe,
)
from newsstudy.schemas import (
    SCHEMAS,
    PolicySettings,
    RewardSettings,
    ServingSettings,
    SignalSettings,
    TeacherRecipe,
)

FILE = "params/smoke/01_data.yaml"
RECIPE_FILE = "params/smoke/teacher.yaml"
RECIPE_NOTEBOOKS = ["03_grpo", "04_scaling", "05_distillation"]


def error_of(call, *args, **kwargs) -> str:
    """The message of the ParamsError a call raises; checks it is a single line."""
    with pytest.raises(ParamsError) as caught:
        call(*args, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_valid_file_loads(data_project):
    params = load_params("01_data", "smoke")
    assert params.n_users == 50 and params.profile == "smoke" and params.max_articles == 400


def test_overrides_replace_file_values(data_project):
    params = load_params("01_data", "smoke", {"n_users": 60, "max_articles": None})
    assert params.n_users == 60 and params.max_articles is None


def test_fields_with_defaults_may_be_left_out(data_project, data_values):
    del data_values["embedder"]
    data_project.write_params("smoke", "01_data", data_values)
    assert load_params("01_data", "smoke").embedder == "minilm"


def test_unknown_notebook(data_project):
    message = error_of(load_params, "xx", "smoke")
    assert "unknown notebook 'xx'" in message and "01_data" in message


def test_unknown_profile(data_project):
    message = error_of(load_params, "01_data", "foo")
    assert "unknown profile 'foo'" in message and "default, smoke" in message


def test_missing_file_names_it(data_project):
    message = error_of(load_params, "01_data", "default")
    assert message.startswith("params/default/01_data.yaml:")


def test_unknown_key_in_file(data_project, data_values):
    data_values["n_user"] = 5
    data_project.write_params("smoke", "01_data", data_values)
    message = error_of(load_params, "01_data", "smoke")
    assert message.startswith(f"{FILE}: unknown parameter 'n_user' for notebook 01_data")
    assert "n_users" in message  # the known names are listed


def test_unknown_key_in_override(data_project):
    message = error_of(load_params, "01_data", "smoke", {"n_user": 5})
    assert message.startswith("override n_user=5: unknown parameter 'n_user'")


def test_wrong_type_in_file(data_project, data_values):
    data_values["n_users"] = "many"
    data_project.write_params("smoke", "01_data", data_values)
    message = error_of(load_params, "01_data", "smoke")
    assert message == f"{FILE}: n_users: must be a valid integer (got 'many')"


def test_wrong_type_in_override_names_the_override(data_project):
    message = error_of(load_params, "01_data", "smoke", {"noise_rate": "high"})
    assert message.startswith("override noise_rate='high': noise_rate: must be a valid number")


def test_bool_is_not_an_int(data_project):
    assert "n_users" in error_of(load_params, "01_data", "smoke", {"n_users": True})


def test_out_of_range(data_project, data_values):
    data_values["n_users"] = 3
    data_project.write_params("smoke", "01_data", data_values)
    message = error_of(load_params, "01_data", "smoke")
    assert message == f"{FILE}: n_users: must be greater than or equal to 20 (got 3)"


def test_cross_check_min_max_names_file_and_keys(data_project, data_values):
    data_values.update(min_interests=5, max_interests=2)
    data_project.write_params("smoke", "01_data", data_values)
    message = error_of(load_params, "01_data", "smoke")
    assert message == f"{FILE}: min_interests (5) must not exceed max_interests (2)"


def test_missing_key_in_file(data_project, data_values):
    del data_values["seed"]
    data_project.write_params("smoke", "01_data", data_values)
    assert error_of(load_params, "01_data", "smoke") == f"{FILE}: seed: missing (required)"


def test_yaml_syntax_error(data_project):
    data_project.write_params("smoke", "01_data", "profile: smoke\nn_users: [1, 2\n")
    message = error_of(load_params, "01_data", "smoke")
    assert message.startswith(f"{FILE}: YAML syntax error at line")


@pytest.mark.parametrize(("text", "kind"), [("- a\n- b\n", "list"), ("", "NoneType")])
def test_top_level_must_be_a_mapping(data_project, text, kind):
    data_project.write_params("smoke", "01_data", text)
    message = error_of(load_params, "01_data", "smoke")
    assert message.startswith(f"{FILE}: top level must be a mapping") and kind in message


def test_profile_in_file_must_match_folder(data_project, data_values):
    data_values["profile"] = "default"
    data_project.write_params("smoke", "01_data", data_values)
    message = error_of(load_params, "01_data", "smoke")
    assert message.startswith(f"{FILE}: profile: 'default' does not match its folder 'smoke'")


def test_profile_cannot_be_overridden(data_project):
    message = error_of(load_params, "01_data", "smoke", {"profile": "default"})
    assert "profile" in message and "--profile" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("n_users=3", ("n_users", 3)),
        ("noise_rate=0.5", ("noise_rate", 0.5)),
        ("max_articles=null", ("max_articles", None)),
        ("embedder=minilm", ("embedder", "minilm")),
        ("name=a=b", ("name", "a=b")),
        (" seed = 3", ("seed", 3)),
    ],
)
def test_parse_override(text, expected):
    assert parse_override(text) == expected


@pytest.mark.parametrize("text", ["n_users", "=3", "seed=[1"])
def test_parse_override_rejects(text):
    assert repr(text) in error_of(parse_override, text)


def ipython_like_namespace(values: dict) -> dict:
    """A namespace as a notebook's globals() looks: parameters plus IPython's own names."""
    return {
        **values,
        "__name__": "__main__",
        "_": 3,
        "_i1": "x = 1",
        "In": ["", "x = 1"],
        "Out": {},
        "get_ipython": lambda: None,
        "exit": object(),
        "quit": object(),
        "open": open,
        "types": types,
        "from_namespace": from_namespace,
    }


def test_from_namespace_valid(data_project, data_values):
    params = from_namespace("01_data", ipython_like_namespace(data_values))
    assert params.n_users == 50


def test_from_namespace_rejects_injected_unknown(data_project, data_values):
    namespace = ipython_like_namespace({**data_values, "n_user": 5})
    message = error_of(from_namespace, "01_data", namespace)
    assert message.startswith("notebook 01_data: unknown parameter 'n_user'")


def test_from_namespace_takes_what_the_namespace_lacks_from_the_profile(data_project,
                                                                       data_values):
    del data_values["n_topics"]
    params = from_namespace("01_data", ipython_like_namespace(data_values))
    assert params.n_topics == load_params("01_data", "smoke").n_topics
    # a parameters cell leaves a knob None: the profile's value
    params = from_namespace("01_data", ipython_like_namespace({**data_values, "seed": None}))
    assert params.seed == load_params("01_data", "smoke").seed


def test_from_namespace_with_the_profile_values_writes_to_the_profile(data_project):
    values = load_params("01_data", "smoke").model_dump()
    from_namespace("01_data", ipython_like_namespace(values))
    assert paths.active_variant() is None and paths.report_dir("smoke").name == "smoke"


def test_from_namespace_with_changed_values_writes_to_a_variant(data_project):
    values = load_params("01_data", "smoke").model_dump()
    namespace = ipython_like_namespace({"profile": "smoke", "overrides": {"n_topics": 7}})
    assert from_namespace("01_data", namespace).n_topics == 7
    assert paths.active_variant() == "smoke+n_topics=7"
    assert paths.report_dir("smoke") == paths.reports_root() / "smoke+n_topics=7"
    assert paths.world_dir("smoke") == paths.artifacts_root() / "smoke+n_topics=7" / "world"
    manifest = read_json(paths.reports_root() / "smoke+n_topics=7" / "variant.json")
    assert manifest["base"] == "smoke"
    assert manifest["changed"]["01_data"] == {"n_topics": [values["n_topics"], 7]}
    assert not (paths.reports_root() / "smoke").exists()  # nothing written into the base
    # a name given in the cell (papermill -p variant NAME) names the folder
    paths_before = paths.active_variant()
    os.environ.pop(paths.VARIANT_VARIABLE)
    from_namespace("01_data", ipython_like_namespace({"profile": "smoke", "variant": "mine"}))
    assert paths.active_variant() == "smoke+mine" != paths_before
    os.environ.pop(paths.VARIANT_VARIABLE)
    message = error_of(from_namespace, "01_data",
                       ipython_like_namespace({"profile": "smoke", "variant": "a/b"}))
    assert message.startswith("notebook 01_data: variant: 'a/b' is not a variant name")


def test_from_namespace_wrong_value(data_project, data_values):
    data_values["cold_share"] = 2.0
    message = error_of(from_namespace, "01_data", ipython_like_namespace(data_values))
    assert message == "notebook 01_data: cold_share: must be less than or equal to 1 (got 2.0)"


def test_schema_table_describes_every_field():
    rows = {row["name"]: row for row in schema_table("01_data")}
    assert {"profile", "seed", "n_users"} <= set(rows)
    assert rows["n_users"]["type"] == "int" and rows["n_users"]["default"] == "required"
    assert rows["n_users"]["constraints"] == ">= 20, <= 2000000"
    assert (
        rows["max_articles"]["type"] == "int | None" and rows["max_articles"]["default"] == "None"
    )
    assert all(row["description"] for row in rows.values())


def test_a_profile_runs_the_notebooks_its_profile_file_lists(toy_project, monkeypatch):
    assert profile_notebooks("smoke") == ["toy"]
    with pytest.raises(ParamsError, match=r"unknown profile 'nope': no folder .*profiles: default, smoke"):
        profile_notebooks("nope")
    (toy_project.params / "default" / "profile.yaml").unlink()
    toy_project.explicit.add("default")
    with pytest.raises(ParamsError, match=r"^params/default/profile.yaml: missing; it lists"):
        profile_notebooks("default")
    # every profile must run the first notebook (the world)
    monkeypatch.setitem(SCHEMAS, "zzz", ToyParams)
    toy_project.write_notebook("zzz", "profile = 'smoke'\nseed = 0\nn = 1")
    toy_project.list_notebooks("default", ["zzz"])
    with pytest.raises(ParamsError, match=r"profile.yaml: notebooks: must list toy, which builds"):
        profile_notebooks("default")
    # a listed notebook without its params file stops the profile, naming the file
    toy_project.list_notebooks("smoke", ["toy", "zzz"])
    with pytest.raises(ParamsError, match=r"^params/smoke/zzz.yaml: missing; params/smoke/"
                                          r"profile.yaml lists zzz$"):
        profile_notebooks("smoke")
    toy_project.list_notebooks("smoke", ["toy", "tyo"])
    with pytest.raises(ParamsError, match=r"unknown notebook 'tyo'; did you mean 'toy'\?"):
        profile_notebooks("smoke")
    (toy_project.params / "smoke" / "profile.yaml").write_text("notebooks: toy\n")
    with pytest.raises(ParamsError, match=r"notebooks: must be a list of notebook names"):
        profile_notebooks("smoke")
    # an unlisted notebook with a params file is not run
    toy_project.write_params("smoke", "zzz", {"profile": "smoke", "seed": 0, "n": 1})
    toy_project.list_notebooks("smoke", ["toy"])
    assert profile_notebooks("smoke") == ["toy"]


def test_profiles_and_notebooks_list_folders(toy_project):
    (toy_project.params / ".hidden").mkdir()
    assert profiles() == ["default", "smoke"]
    assert notebooks() == ["toy"]


# --- the teacher recipe: params/<profile>/teacher.yaml, read by 03, 04 and 05 -----------


def test_the_recipe_is_the_policy_reward_and_serving_settings(recipe_values):
    every = {*PolicySettings.model_fields, *RewardSettings.model_fields,
             *SignalSettings.model_fields, *ServingSettings.model_fields}
    assert set(recipe_fields()) == every
    required = {name for name in every if TeacherRecipe.model_fields[name].is_required()}
    assert required <= set(recipe_values) <= every  # the fixture is a whole, valid recipe
    assert recipe_notebooks() == RECIPE_NOTEBOOKS
    assert not uses_recipe("01_data") and not uses_recipe("02_rewards")
    for notebook in RECIPE_NOTEBOOKS:
        fields = SCHEMAS[notebook].model_fields
        assert every <= set(fields)  # a validated params object carries the whole recipe
        assert set(own_fields(notebook)) == set(fields) - every
        assert {"profile", "seed"} <= set(own_fields(notebook))


def test_recipe_schema_is_strict_and_frozen(recipe_values):
    recipe = TeacherRecipe.model_validate(recipe_values)
    with pytest.raises(ValueError):
        TeacherRecipe.model_validate({**recipe_values, "seed": 0})
    with pytest.raises(ValueError):
        TeacherRecipe.model_validate({**recipe_values, "grpo_steps": "3"})
    with pytest.raises(ValueError):
        recipe.beta = 1.0  # frozen


def test_recipe_fields_without_a_default_must_come_from_the_recipe():
    for name in ("model", "vocab_size", "demos_per_user", "demo_pool", "grpo_steps", "beta",
                 "temperature", "max_completion_length"):
        assert TeacherRecipe.model_fields[name].is_required(), name
    for name in ("tokenizer_kind", "lora_rank", "duplicate_guard", "top_p"):
        assert not TeacherRecipe.model_fields[name].is_required(), name


@pytest.mark.parametrize("notebook", RECIPE_NOTEBOOKS)
def test_recipe_notebooks_read_teacher_yaml(recipe_project, recipe_values, notebook):
    params = load_params(notebook, "smoke")
    assert {name: getattr(params, name) for name in recipe_values} == recipe_values
    recipe = load_recipe("smoke")
    assert recipe == TeacherRecipe.model_validate(recipe_values)
    assert {name: getattr(params, name) for name in recipe_fields()} == recipe.model_dump()


def test_recipe_notebooks_share_one_recipe(recipe_project):
    recipe_project.write_params("smoke", RECIPE, {"profile": "smoke", **{
        **yaml.safe_load((recipe_project.params / "smoke" / "teacher.yaml").read_text()),
        "model": "s", "grpo_steps": 7}})
    for notebook in RECIPE_NOTEBOOKS:
        params = load_params(notebook, "smoke")
        assert (params.model, params.grpo_steps) == ("s", 7)


def test_non_recipe_notebooks_need_no_teacher_yaml(data_project):
    assert not (data_project.params / "smoke" / "teacher.yaml").exists()
    assert load_params("01_data", "smoke").n_users == 50


def test_an_override_wins_over_the_recipe(recipe_project):
    params = load_params("04_scaling", "smoke", {"beta": 0.1, "model": "s"})
    assert (params.beta, params.model) == (0.1, "s")
    assert load_params("03_grpo", "smoke").beta == 0.0  # the recipe itself is untouched


def test_a_bad_override_of_a_recipe_field_names_the_override(recipe_project):
    message = error_of(load_params, "05_distillation", "smoke", {"beta": -1.0})
    assert message == ("override beta=-1.0: beta: must be greater than or equal to 0 "
                       "(got -1.0)")


def own_values(project, notebook: str) -> dict:
    """The own parameters the recipe project wrote for a notebook."""
    return yaml.safe_load((project.params / "smoke" / f"{notebook}.yaml").read_text())


def test_a_notebook_file_repeating_a_recipe_field_overrides_it(recipe_project):
    recipe_project.write_params("smoke", "04_scaling",
                                {**own_values(recipe_project, "04_scaling"), "temperature": 0.7})
    assert load_params("04_scaling", "smoke").temperature == 0.7
    assert load_params("05_distillation", "smoke").temperature == 1.0
    # and a bad repeated value is the notebook file's error, not the recipe's
    recipe_project.write_params("smoke", "04_scaling",
                                {**own_values(recipe_project, "04_scaling"), "temperature": 0.0})
    message = error_of(load_params, "04_scaling", "smoke")
    assert message.startswith("params/smoke/04_scaling.yaml: temperature: must be greater than 0")


def test_missing_teacher_yaml_names_the_path(recipe_project):
    (recipe_project.params / "smoke" / "teacher.yaml").unlink()
    message = error_of(load_params, "04_scaling", "smoke")
    assert message.startswith(f"{RECIPE_FILE}: no such recipe file; notebook 04_scaling reads")
    assert error_of(load_recipe, "smoke").startswith(f"{RECIPE_FILE}: no such recipe file")


def test_a_bad_value_in_teacher_yaml_names_the_file_and_key(recipe_project, recipe_values):
    recipe_project.write_params("smoke", RECIPE, {**recipe_values, "beta": -1.0})
    expected = f"{RECIPE_FILE}: beta: must be greater than or equal to 0 (got -1.0)"
    for notebook in RECIPE_NOTEBOOKS:
        assert error_of(load_params, notebook, "smoke") == expected
    assert error_of(load_recipe, "smoke") == expected


def test_a_recipe_field_missing_from_teacher_yaml_names_it(recipe_project, recipe_values):
    del recipe_values["grpo_steps"]
    recipe_project.write_params("smoke", RECIPE, recipe_values)
    message = error_of(load_params, "03_grpo", "smoke")
    assert message == f"{RECIPE_FILE}: grpo_steps: missing (required)"


def test_an_own_field_missing_from_the_notebook_file_names_that_file(recipe_project):
    values = own_values(recipe_project, "04_scaling")
    del values["sizes"]
    recipe_project.write_params("smoke", "04_scaling", values)
    assert (error_of(load_params, "04_scaling", "smoke")
            == "params/smoke/04_scaling.yaml: sizes: missing (required)")


def test_unknown_key_in_teacher_yaml(recipe_project, recipe_values):
    recipe_project.write_params("smoke", RECIPE, {**recipe_values, "sizes": ["xs", "s"]})
    message = error_of(load_params, "04_scaling", "smoke")
    assert message.startswith(f"{RECIPE_FILE}: unknown parameter 'sizes' for the teacher recipe")


def test_teacher_yaml_may_name_only_its_own_profile(recipe_project, recipe_values):
    recipe_project.write_params("smoke", RECIPE, {"profile": "default", **recipe_values})
    message = error_of(load_params, "03_grpo", "smoke")
    assert message == f"{RECIPE_FILE}: profile: 'default' does not match its folder 'smoke'"
    recipe_project.write_params("smoke", RECIPE, recipe_values)  # naming none is fine
    assert load_recipe("smoke").model == "xs"


def test_teacher_yaml_syntax_error(recipe_project):
    recipe_project.write_params("smoke", RECIPE, "model: [xs\n")
    assert error_of(load_params, "03_grpo", "smoke").startswith(f"{RECIPE_FILE}: YAML syntax")


def test_from_namespace_fills_the_recipe_from_the_profile(recipe_project, recipe_values):
    own = own_values(recipe_project, "05_distillation")
    params = from_namespace("05_distillation", ipython_like_namespace(own))
    assert params == load_params("05_distillation", "smoke")
    assert {name: getattr(params, name) for name in recipe_values} == recipe_values
    # what the namespace defines (papermill injects every field) wins over the recipe
    params = from_namespace("05_distillation", ipython_like_namespace({**own, "beta": 0.2}))
    assert params.beta == 0.2 and params.model == "xs"


def test_from_namespace_names_a_missing_teacher_yaml(recipe_project):
    (recipe_project.params / "smoke" / "teacher.yaml").unlink()
    own = own_values(recipe_project, "03_grpo")
    message = error_of(from_namespace, "03_grpo", ipython_like_namespace(own))
    assert message.startswith(f"{RECIPE_FILE}: no such recipe file; notebook 03_grpo reads")


def test_from_namespace_recipe_errors_name_teacher_yaml(recipe_project, recipe_values):
    recipe_project.write_params("smoke", RECIPE, {**recipe_values, "num_generations": 1})
    own = own_values(recipe_project, "04_scaling")
    message = error_of(from_namespace, "04_scaling", ipython_like_namespace(own))
    assert message == f"{RECIPE_FILE}: num_generations: must be greater than or equal to 2 (got 1)"


def test_from_namespace_recipe_notebook_still_checks_globals(recipe_project):
    own = own_values(recipe_project, "04_scaling")
    message = error_of(from_namespace, "04_scaling", ipython_like_namespace({**own, "beat": 0.1}))
    assert message.startswith("notebook 04_scaling: unknown parameter 'beat'")
    del own["n_draws"]
    params = from_namespace("04_scaling", ipython_like_namespace(own))
    assert params.n_draws == load_params("04_scaling", "smoke").n_draws


def test_from_namespace_unknown_profile_for_the_recipe(recipe_project):
    own = {**own_values(recipe_project, "04_scaling"), "profile": "nope"}
    message = error_of(from_namespace, "04_scaling", ipython_like_namespace(own))
    assert message.startswith("notebook 04_scaling: profile: unknown profile 'nope'")


def test_schema_table_of_a_recipe_notebook_lists_the_recipe(recipe_project):
    rows = {row["name"]: row for row in schema_table("04_scaling")}
    assert set(recipe_fields()) | {"sizes", "k_per_query"} <= set(rows)
    assert rows["model"]["default"] == "required" and rows["top_p"]["default"] == "1.0"


# --- the shipped profiles: one recipe, one place --------------------------------------


def shipped_recipe_profiles() -> list[str]:
    """Shipped profiles with a params file of a notebook that reads the recipe."""
    return [profile for profile in profiles()
            if any((paths.PARAMS_DIR / profile / f"{n}.yaml").is_file()
                   for n in RECIPE_NOTEBOOKS)]


def test_shipped_profiles_with_03_04_05_have_a_recipe():
    assert {"default", "smoke", "paper", "pretrained"} <= set(shipped_recipe_profiles())


@pytest.mark.parametrize("profile", shipped_recipe_profiles())
def test_shipped_notebook_files_hold_no_recipe_field(profile):
    folder = paths.PARAMS_DIR / profile
    recipe = set(recipe_fields())
    for notebook in RECIPE_NOTEBOOKS:
        path = folder / f"{notebook}.yaml"
        if path.is_file():
            repeated = sorted(recipe & set(yaml.safe_load(path.read_text(encoding="utf-8"))))
            assert not repeated, f"{profile}/{notebook}.yaml repeats recipe fields {repeated}"
            load_params(notebook, profile)


@pytest.mark.parametrize("profile", shipped_recipe_profiles())
def test_shipped_teacher_yaml_names_every_recipe_field(profile):
    path = paths.PARAMS_DIR / profile / "teacher.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == (
        f"# The teacher recipe of the {profile} profile: read by 03, 04 and 05.")
    values = yaml.safe_load(text)
    assert values.pop("profile") == profile  # like every other params file
    assert set(values) == set(recipe_fields())
    load_recipe(profile)


def test_duplicate_keys_are_refused_with_both_lines(data_project):
    data_project.write_params("smoke", "01_data", "profile: smoke\nn_users: 300\nseed: 0\nn_users: 301\n")
    message = error_of(load_params, "01_data", "smoke")
    assert message == f"{FILE}: duplicate key 'n_users' at lines 2 and 4 (each key may appear once)"


def test_a_params_file_that_is_not_utf8_is_one_line(data_project):
    path = data_project.write_params("smoke", "01_data", "profile: smoke\n")
    path.write_bytes(b"profile: smoke\nn_users: \xff\xfe300\n")
    assert error_of(load_params, "01_data", "smoke").startswith(f"{FILE}: not UTF-8 text (byte 24)")


def test_deep_nesting_is_refused_in_a_file_and_in_an_override(data_project):
    data_project.write_params("smoke", "01_data", "profile: smoke\nseed: " + "[" * 5000 + "]" * 5000 + "\n")
    assert error_of(load_params, "01_data", "smoke") == f"{FILE}: nested deeper than 20 levels"
    message = error_of(parse_override, "seed=" + "[" * 3000 + "]" * 3000)
    assert message.startswith("override 'seed=[[[") and message.endswith("nested deeper than 20 levels")
    assert parse_override("seed=" + "[" * 5 + "1" + "]" * 5) == ("seed", [[[[[1]]]]])


# ------------------------------------------------------- plain papermill -f, read strictly

class _FakeProcess:
    def __init__(self, command, cwd, parents=()):
        self._command, self._cwd, self._parents = command, cwd, list(parents)

    def cmdline(self):
        return self._command

    def cwd(self):
        return str(self._cwd)

    def parents(self):
        return self._parents


def test_papermill_parameter_files_are_found_among_the_kernels_ancestors(tmp_path):
    from newsstudy.params import papermill_parameter_files

    papermill = _FakeProcess(["/venv/bin/python", "/venv/bin/papermill", "in.ipynb", "out.ipynb",
                              "-f", "a.yaml", "-p", "seed", "3", "--parameters_file=b.yaml"],
                             tmp_path)
    shell = _FakeProcess(["bash"], tmp_path)
    kernel = _FakeProcess(["python", "-m", "ipykernel_launcher"], tmp_path, [papermill, shell])
    assert papermill_parameter_files(kernel) == [tmp_path / "a.yaml", tmp_path / "b.yaml"]
    module = _FakeProcess(["python", "-m", "papermill", "x", "y", "--parameters_file", "c.yaml"],
                          tmp_path)
    assert papermill_parameter_files(_FakeProcess([], tmp_path, [module])) == [tmp_path / "c.yaml"]
    # newsstudy run, JupyterLab: no papermill command among the ancestors
    cli = _FakeProcess(["python", "/venv/bin/newsstudy", "run", "01_data", "-p", "x=1"], tmp_path)
    assert papermill_parameter_files(_FakeProcess([], tmp_path, [cli, shell])) == []


@pytest.mark.slow
def test_plain_papermill_refuses_a_duplicate_key(tmp_path):
    """``papermill -f`` keeps the last of two keys; the notebook's first cell refuses it."""
    import subprocess
    import sys
    from pathlib import Path

    from newsstudy import paths

    params = tmp_path / "dup.yaml"
    params.write_text("profile: smoke\nn_users: 300\nseed: 0\nn_users: 301\n", encoding="utf-8")
    papermill = Path(sys.executable).with_name("papermill")
    done = subprocess.run([str(papermill), str(paths.NOTEBOOKS_DIR / "01_data.ipynb"),
                           str(tmp_path / "out.ipynb"), "-f", str(params)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode != 0
    assert "duplicate key 'n_users' at lines 2 and 4" in done.stdout + done.stderr


def test_schema_defaults_are_the_default_profiles_values():
    """A schema default is real: the value the default profile runs with (or there is none)."""
    from pydantic_core import PydanticUndefined

    for notebook, schema in SCHEMAS.items():
        resolved = load_params(notebook, "default").model_dump(mode="json")
        for name, field in schema.model_fields.items():
            if field.default is PydanticUndefined or field.default_factory is not None:
                continue
            default = schema.model_validate({**resolved, name: field.default}).model_dump(
                mode="json")[name]
            assert default == resolved[name], (notebook, name, field.default, resolved[name])
