"""Parameter validation: every error is one line that names the key and where it came from."""

from __future__ import annotations

import types

import pytest

from newsstudy.params import (
    ParamsError,
    from_namespace,
    load_params,
    notebooks,
    parse_override,
    profile_notebooks,
    profiles,
    schema_table,
)

FILE = "params/smoke/01_data.yaml"


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


def test_from_namespace_valid(data_values):
    params = from_namespace("01_data", ipython_like_namespace(data_values))
    assert params.n_users == 50


def test_from_namespace_rejects_injected_unknown(data_values):
    namespace = ipython_like_namespace({**data_values, "n_user": 5})
    message = error_of(from_namespace, "01_data", namespace)
    assert message.startswith("notebook 01_data: unknown parameter 'n_user'")


def test_from_namespace_missing_field(data_values):
    del data_values["n_topics"]
    message = error_of(from_namespace, "01_data", ipython_like_namespace(data_values))
    assert message.startswith("notebook 01_data: n_topics: missing")


def test_from_namespace_wrong_value(data_values):
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


def test_a_profile_runs_the_notebooks_it_has_params_for(toy_project):
    assert profile_notebooks("smoke") == ["toy"]
    with pytest.raises(ParamsError, match=r"unknown profile 'nope': no folder .*profiles: default, smoke"):
        profile_notebooks("nope")
    # every profile must run the first notebook (the world): 'default' has no toy.yaml
    with pytest.raises(ParamsError, match=r"default: no toy.yaml; every profile runs toy"):
        profile_notebooks("default")


def test_profiles_and_notebooks_list_folders(toy_project):
    (toy_project.params / ".hidden").mkdir()
    assert profiles() == ["default", "smoke"]
    assert notebooks() == ["toy"]
