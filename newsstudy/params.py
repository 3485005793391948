"""Apply the notebook schemas to params files, ``-p`` overrides and notebook namespaces.

Three ways in, one set of rules (``newsstudy.schemas``):

- ``load_params(notebook, profile, overrides)`` reads ``params/<profile>/<notebook>.yaml``
  and lays ``KEY=VALUE`` overrides over it (``newsstudy run``, ``newsstudy reproduce``).
- ``from_namespace(notebook, globals())`` validates what a notebook actually runs with,
  in the cell right after its ``parameters`` cell. This also covers plain papermill
  (``papermill ... -f params/default/01_data.yaml -p seed 3``), including a mistyped
  ``-p`` name, which papermill itself would silently inject as a new global.
- ``schema_table(notebook)`` describes the parameters for ``newsstudy list``.

**The teacher recipe.** Notebooks whose schema has the ``PolicySettings`` fields (03_grpo,
04_scaling, 05_distillation; ``uses_recipe``) share one recipe per profile,
``params/<profile>/teacher.yaml`` (``TeacherRecipe``: model, tokenizer, prompt, SFT,
Dr.GRPO, decoding, reward weights, serving). For them ``load_params`` validates
``teacher.yaml | <notebook>.yaml | overrides``: the notebook's own file holds only what
that notebook adds (``own_fields``) and may, but in the shipped profiles does not, repeat
a recipe field to override it. ``from_namespace`` fills the recipe fields a namespace
lacks from the teacher.yaml of the namespace's ``profile``, so those notebooks'
``parameters`` cells define only ``profile`` and their own fields (``newsstudy run``
injects every field, recipe included). ``load_recipe(profile)`` reads the recipe alone.
Because the validated object holds the recipe fields, its ``params_hash`` (and so the
runner's skip and staleness checks) changes when teacher.yaml does.

Every problem is a ``ParamsError`` whose message is one line naming the file (or the
override, or the notebook) and the key, e.g.
``params/smoke/01_data.yaml: n_users: must be greater than or equal to 20 (got 3)`` or
``params/default/teacher.yaml: beta: must be greater than or equal to 0 (got -1)``.

The roots are read from ``newsstudy.paths`` at call time, so tests can point
``PARAMS_DIR`` and ``NOTEBOOKS_DIR`` at a temporary folder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from newsstudy import paths
from newsstudy.schemas import SCHEMAS, NotebookParams, PolicySettings, TeacherRecipe

# params/<profile>/<RECIPE>.yaml holds the teacher recipe of a profile (not a notebook).
RECIPE = "teacher"
# params/<profile>/<PROFILE>.yaml lists the notebooks the profile runs (not a notebook).
PROFILE = "profile"

# Globals that IPython puts into every notebook namespace; never parameters.
IPYTHON_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "open"})
# Only values of these types can be parameters (papermill injects nothing else).
PLAIN_TYPES = (bool, int, float, str, list, dict, type(None))
# Field constraint attributes (annotated_types / pydantic metadata) and how to show them.
CONSTRAINT_LABELS = {
    "gt": ">",
    "ge": ">=",
    "lt": "<",
    "le": "<=",
    "multiple_of": "multiple of",
    "min_length": "min length",
    "max_length": "max length",
    "pattern": "matches",
}


class ParamsError(ValueError):
    """A parameter problem, described in one line that names the key and where it came from."""


def notebooks() -> list[str]:
    """Names (stems) of the notebooks in ``notebooks/``, sorted."""
    return sorted(
        path.stem for path in paths.NOTEBOOKS_DIR.glob("*.ipynb") if not path.name.startswith(".")
    )


def profiles() -> list[str]:
    """Names of the profiles: the folders under ``params/``, sorted."""
    return sorted(
        path.name
        for path in paths.PARAMS_DIR.iterdir()
        if path.is_dir() and not path.name.startswith(".")
    )


def profile_file(profile: str) -> Path:
    """``params/<profile>/profile.yaml``: the list of the notebooks the profile runs."""
    return paths.PARAMS_DIR / profile / f"{PROFILE}.yaml"


def profile_notebooks(profile: str) -> list[str]:
    """The notebooks a profile runs, in notebook order: those its ``profile.yaml`` lists.

    A profile need not run every notebook (``pretrained`` runs only 01_data and 03_grpo),
    but it must run ``01_data``, whose world every other notebook reads, and every listed
    notebook must have its params file: a deleted or misnamed file stops ``reproduce``
    before any kernel starts instead of silently dropping the notebook. ``ParamsError``
    (one line, naming the file) when the profile does not exist, its ``profile.yaml`` is
    missing or malformed, names an unknown notebook, leaves out ``01_data``, or lists a
    notebook without ``params/<profile>/<notebook>.yaml``.
    """
    folder = paths.PARAMS_DIR / profile
    if not profile or "/" in profile or profile.startswith(".") or not folder.is_dir():
        raise ParamsError(f"unknown profile {profile!r}: no folder {folder} "
                          f"(profiles: {', '.join(profiles()) or 'none'})")
    listing = profile_file(profile)
    where = display_path(listing)
    if not listing.is_file():
        raise ParamsError(f"{where}: missing; it lists the notebooks profile {profile!r} runs "
                          f"(notebooks: [01_data, ...])")
    try:
        listed = (yaml.safe_load(listing.read_text(encoding="utf-8")) or {}).get("notebooks")
    except (yaml.YAMLError, AttributeError) as err:
        raise ParamsError(f"{where}: not a mapping with a 'notebooks' list ({err})") from err
    if not isinstance(listed, list) or not all(isinstance(n, str) for n in listed):
        raise ParamsError(f"{where}: notebooks: must be a list of notebook names, got {listed!r}")
    every = notebooks()
    for name in listed:
        if name not in every:
            raise ParamsError(f"{where}: notebooks: unknown notebook {name!r}"
                              f"{did_you_mean(name, every)} (known: {', '.join(every)})")
    if len(set(listed)) != len(listed):
        raise ParamsError(f"{where}: notebooks: lists a notebook twice: {listed}")
    if every and every[0] not in listed:
        raise ParamsError(f"{where}: notebooks: must list {every[0]}, which builds the world "
                          f"the other notebooks read")
    for name in listed:
        if not (folder / f"{name}.yaml").is_file():
            raise ParamsError(f"{display_path(folder / f'{name}.yaml')}: missing; {where} "
                              f"lists {name}")
    return [name for name in every if name in listed]


def did_you_mean(name: str, known: list[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``known`` to a mistyped name, or ``""``."""
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def schema_for(notebook: str) -> type[NotebookParams]:
    """The parameter schema of a notebook; ``ParamsError`` if it has none."""
    if notebook not in SCHEMAS:
        raise ParamsError(f"unknown notebook {notebook!r}{did_you_mean(notebook, sorted(SCHEMAS))}"
                          f" (known: {', '.join(sorted(SCHEMAS))})")
    return SCHEMAS[notebook]


def schema_defaults(notebook: str) -> NotebookParams:
    """A notebook's parameters at the schema's defaults, no profile read (fields without
    a default are left unset): for another notebook that borrows a setting as the schema
    defines it, without depending on a profile's choice of it."""
    return schema_for(notebook).model_construct()


def uses_recipe(notebook: str) -> bool:
    """Whether a notebook reads the teacher recipe: its schema has the ``PolicySettings``."""
    return issubclass(schema_for(notebook), PolicySettings)


def recipe_notebooks() -> list[str]:
    """The notebooks that read the teacher recipe, sorted (03_grpo, 04_scaling, ...)."""
    return [name for name in sorted(SCHEMAS) if uses_recipe(name)]


def recipe_fields() -> list[str]:
    """The fields of the teacher recipe (``TeacherRecipe``), in schema order."""
    return list(TeacherRecipe.model_fields)


def own_fields(notebook: str) -> list[str]:
    """The fields a notebook's params file and ``parameters`` cell define.

    Every field of its schema, less the teacher recipe's for a notebook that reads the
    recipe (those come from ``params/<profile>/teacher.yaml``).
    """
    fields = list(schema_for(notebook).model_fields)
    if not uses_recipe(notebook):
        return fields
    recipe = set(recipe_fields())
    return [name for name in fields if name not in recipe]


def params_path(notebook: str, profile: str) -> Path:
    """``params/<profile>/<notebook>.yaml``; ``ParamsError`` if the profile does not exist."""
    known = profiles()
    if profile not in known:
        raise ParamsError(f"unknown profile {profile!r} (known: {', '.join(known)})")
    return paths.PARAMS_DIR / profile / f"{notebook}.yaml"


def recipe_path(profile: str) -> Path:
    """``params/<profile>/teacher.yaml``; ``ParamsError`` if the profile does not exist."""
    return params_path(RECIPE, profile)


def display_path(path: Path) -> str:
    """A params file as a user would type it: relative to the folder holding ``params/``."""
    try:
        return str(path.relative_to(paths.PARAMS_DIR.parent))
    except ValueError:
        return str(path)


MAX_DEPTH = 20
"""Deepest nesting a parameter value may have (lists and mappings inside each other)."""


class YAMLSyntaxError(ParamsError):
    """Text that is not YAML at all (as opposed to YAML the study refuses)."""


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a mapping with the same key twice."""

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ParamsError(f"duplicate key {key!r} at lines {seen[key]} and {line} "
                                  f"(each key may appear once)")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """Nesting depth of lists and mappings, counted up to ``limit + 1`` (no recursion)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return depth
        deepest = max(deepest, depth)
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return deepest


def load_yaml(text: str, where: str) -> Any:
    """YAML text as Python values: duplicate keys, deep nesting and bad syntax refused.

    Every failure is a one-line ``ParamsError`` naming ``where`` (the file or ``-p``).
    """
    try:
        value = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except ParamsError as err:
        raise ParamsError(f"{where}: {err}") from None
    except RecursionError:
        raise ParamsError(f"{where}: nested deeper than {MAX_DEPTH} levels") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or type(err).__name__
        raise YAMLSyntaxError(f"{where}: YAML syntax error{line}: {problem}") from None
    if _depth(value) > MAX_DEPTH:
        raise ParamsError(f"{where}: nested deeper than {MAX_DEPTH} levels")
    return value


def read_params_file(path: Path) -> dict[str, Any]:
    """The mapping in a YAML params file; ``ParamsError`` if missing, malformed or not a mapping."""
    where = display_path(path)
    if not path.is_file():
        raise ParamsError(f"{where}: no such params file (every notebook needs one per profile)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ParamsError(f"{where}: not UTF-8 text (byte {err.start}); save it as UTF-8") from None
    values = load_yaml(text, where)
    if not isinstance(values, dict):
        raise ParamsError(
            f"{where}: top level must be a mapping of parameter: value "
            f"(got {type(values).__name__})"
        )
    return values


def parse_override(text: str) -> tuple[str, Any]:
    """Split ``KEY=VALUE``; the value is read as YAML (``3`` int, ``0.5`` float, ``null`` None)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ParamsError(f"override {text!r}: expected KEY=VALUE, e.g. seed=3")
    shown = repr(text if len(text) <= 60 else text[:57] + "...")
    try:
        return key, load_yaml(raw, f"override {shown} (-p)")
    except YAMLSyntaxError:
        raise ParamsError(f"override {shown} (-p): value is not valid YAML") from None


def check_keys(keys: list[str], fields: Mapping[str, Any], what: str, where: str) -> None:
    """``ParamsError`` naming the first key not in ``fields`` (the fields of ``what``)."""
    unknown = [key for key in keys if key not in fields]
    if unknown:
        raise ParamsError(
            f"{where}: unknown parameter {unknown[0]!r} for {what}"
            f"{did_you_mean(unknown[0], list(fields))} (known: {', '.join(fields)})"
        )


def check_known_keys(notebook: str, keys: list[str], where: str) -> None:
    """``ParamsError`` naming the first key that is not a field of the notebook's schema."""
    check_keys(keys, schema_for(notebook).model_fields, f"notebook {notebook}", where)


def check_profile(values: Mapping[str, Any], profile: str, where: str) -> None:
    """``ParamsError`` if a params file names a profile other than its folder's."""
    if "profile" in values and values["profile"] != profile:
        raise ParamsError(
            f"{where}: profile: {values['profile']!r} does not match its folder {profile!r}"
        )


def read_recipe(profile: str, reader: str) -> tuple[dict[str, Any], str]:
    """The recipe values in ``params/<profile>/teacher.yaml`` and the file as shown in errors.

    ``reader`` (e.g. ``notebook 04_scaling``) is named when the file is missing. The file
    may name its own ``profile`` (checked against its folder, then dropped); any other key
    must be a recipe field. Values are validated by the caller, with the notebook's schema.
    """
    path = recipe_path(profile)
    where = display_path(path)
    if not path.is_file():
        raise ParamsError(
            f"{where}: no such recipe file; {reader} reads the teacher recipe from it (every "
            f"profile that runs {', '.join(recipe_notebooks())} needs one)"
        )
    values = read_params_file(path)
    check_profile(values, profile, where)
    values.pop("profile", None)
    check_keys(list(values), TeacherRecipe.model_fields, "the teacher recipe", where)
    return values, where


def describe_error(error: Mapping[str, Any]) -> str:
    """One pydantic error as ``key: must be ... (got value)``; no key for model-level checks."""
    key = ".".join(str(part) for part in error["loc"])
    message = error["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
    if error["type"] == "missing":
        message = "missing (required)"
    elif key:
        message += f" (got {error['input']!r})"
    return f"{key}: {message}" if key else message


def validate_with(
    schema: type[Any], values: dict[str, Any], sources: Mapping[str, str], where: str
) -> Any:
    """Validate ``values`` with ``schema``; errors name the source of the bad key.

    ``sources`` maps a key to where its value came from (e.g. an override, or the teacher
    recipe); other keys, and checks across keys, are reported against ``where``.
    """
    try:
        return schema.model_validate(values)
    except ValidationError as err:
        first = err.errors()[0]
        if first["loc"]:
            origin = sources.get(str(first["loc"][0]), where)
        else:  # a check across keys: name the sources of the keys its message names
            message = str(first.get("msg", ""))
            named = [source for key, source in sources.items()
                     if re.search(rf"\b{re.escape(key)}\b", message)]
            origin = f"{'; '.join(named)} (with {where})" if named else where
        raise ParamsError(f"{origin}: {describe_error(first)}") from None


def validate(
    notebook: str, values: dict[str, Any], sources: Mapping[str, str], where: str
) -> NotebookParams:
    """Validate ``values`` with the notebook's schema; errors name the source of the bad key.

    ``sources`` maps a key to where its value came from (e.g. an override); other keys,
    and checks across keys, are reported against ``where``.
    """
    return validate_with(schema_for(notebook), values, sources, where)


def load_recipe(profile: str) -> TeacherRecipe:
    """The validated teacher recipe of a profile, from ``params/<profile>/teacher.yaml``.

    ``ParamsError`` naming the file (and the key) if it is missing or a value is wrong.
    """
    values, where = read_recipe(profile, ", ".join(recipe_notebooks()))
    return validate_with(TeacherRecipe, values, {}, where)


def load_params(
    notebook: str, profile: str, overrides: Mapping[str, Any] | None = None,
    given_where: str | None = None,
) -> NotebookParams:
    """The validated parameters of a notebook under a profile, with optional overrides.

    Reads ``params/<profile>/<notebook>.yaml``, lays ``overrides`` over it and validates the
    result. A profile named in a file must be its folder's (the shipped files name it, so
    plain ``papermill -f`` gets it right). For a notebook that reads the teacher recipe
    (``uses_recipe``) the values are ``teacher.yaml | <notebook>.yaml | overrides``; a bad
    or missing recipe value is reported against ``params/<profile>/teacher.yaml``.
    """
    schema_for(notebook)
    path = params_path(notebook, profile)
    where = display_path(path)
    values = read_params_file(path)
    check_known_keys(notebook, list(values), where)
    check_profile(values, profile, where)
    overrides = dict(overrides or {})
    override_sources = {key: given_where or f"override {key}={value!r}"
                        for key, value in overrides.items()}
    for key in overrides:
        check_known_keys(notebook, [key], override_sources[key])
    if overrides.get("profile", profile) != profile:
        raise ParamsError(
            f"{override_sources['profile']}: choose the profile with --profile instead")
    recipe: dict[str, Any] = {}
    sources: dict[str, str] = {}
    if uses_recipe(notebook):
        recipe, recipe_where = read_recipe(profile, f"notebook {notebook}")
        sources = {key: recipe_where for key in recipe_fields() if key not in values}
    return validate(notebook, recipe | values | overrides, sources | override_sources, where)


def value_sources(notebook: str, profile: str) -> dict[str, str]:
    """Where each parameter's value under ``profile`` comes from: the notebook's params
    file, the profile's ``teacher.yaml`` (recipe notebooks), or the schema's default (a
    per-size value of the capacity study: the file for the sizes it names, the schema for
    the rest)."""
    from newsstudy.schemas import SIZE_RECIPE_FIELDS

    own = read_params_file(params_path(notebook, profile))
    recipe = read_recipe(profile, f"notebook {notebook}")[0] if uses_recipe(notebook) else {}
    sources = {}
    for name in schema_for(notebook).model_fields:
        if name in SIZE_RECIPE_FIELDS and own.get(name):
            sources[name] = (f"{display_path(params_path(notebook, profile))} "
                             f"({', '.join(own[name])}), schema default (the rest)")
        elif name in own:
            sources[name] = display_path(params_path(notebook, profile))
        elif name in recipe:
            sources[name] = display_path(recipe_path(profile))
        else:
            sources[name] = "schema default (newsstudy/schemas.py)"
    return sources


def read_own_params_file(path: Path, profile: str) -> dict[str, Any]:
    """The values of a params file of the user's own (``newsstudy run -f FILE``), read as
    strictly as the profile's; a ``profile`` key in it must name ``profile``."""
    if not path.is_file():
        raise ParamsError(f"{path}: no such params file (-f)")
    values = read_params_file(path)
    check_profile(values, profile, f"{path} (-f)")
    values.pop("profile", None)
    return values


def is_candidate_parameter(name: str, value: Any) -> bool:
    """Whether a notebook global looks like a parameter (papermill injects only such values)."""
    return not name.startswith("_") and name not in IPYTHON_NAMES and isinstance(value, PLAIN_TYPES)


def papermill_parameter_files(process=None) -> list[Path]:
    """The ``-f``/``--parameters_file`` files of the ``papermill`` command running this kernel.

    papermill reads those files itself with PyYAML, which keeps the last of two equal keys
    without a word; a kernel started by papermill finds the command among its ancestor
    processes, so :func:`from_namespace` can read the files again, strictly. Empty when no
    ancestor is papermill (``newsstudy run``, JupyterLab) or the processes cannot be read.
    """
    import psutil

    try:
        process = process or psutil.Process()
        ancestors = process.parents()
    except (psutil.Error, OSError):
        return []
    for ancestor in ancestors:
        try:
            command, cwd = ancestor.cmdline(), Path(ancestor.cwd())
        except (psutil.Error, OSError):
            continue
        if not any(Path(part).name in ("papermill", "papermill.exe") or part == "papermill"
                   for part in command[:3]):
            continue
        files = []
        for i, part in enumerate(command):
            if part in ("-f", "--parameters_file") and i + 1 < len(command):
                files.append(command[i + 1])
            elif part.startswith("--parameters_file="):
                files.append(part.split("=", 1)[1])
        return [cwd / name for name in files]
    return []


CELL_NAMES = ("profile", "variant", "overrides")
"""Names a ``parameters`` cell may define that are not notebook parameters: the profile
whose values the run starts from, the variant it writes to, and a mapping of further
parameters by name."""


def cell_parameters(notebook: str) -> list[str]:
    """The names the notebook's ``parameters`` cell assigns, in order, as papermill reads
    them (``papermill.inspect_notebook``, what ``--help-notebook`` shows); empty if the
    notebook is missing or has no such cell."""
    import papermill

    source = paths.NOTEBOOKS_DIR / f"{notebook}.ipynb"
    return list(papermill.inspect_notebook(str(source))) if source.is_file() else []


def papermill_arguments(notebook: str, params: NotebookParams,
                        variant: str | None = None) -> dict[str, Any]:
    """What the runner hands papermill for ``params``: the profile, each parameter its
    ``parameters`` cell declares, and every other parameter in ``overrides``, so papermill
    injects only names the cell knows (no "Passed unknown parameter" lines) and the
    executed notebook records every value it ran with."""
    values = params.model_dump()
    declared = set(cell_parameters(notebook))
    arguments = {"profile": values.pop("profile")}
    if variant is not None and "variant" in declared:
        arguments["variant"] = paths.split_variant(variant)[1]
    arguments |= {name: value for name, value in values.items() if name in declared}
    rest = {name: value for name, value in values.items() if name not in declared}
    if rest:
        arguments["overrides"] = rest
    return arguments


def from_namespace(notebook: str, namespace: Mapping[str, Any]) -> NotebookParams:
    """Validate the parameters a notebook is running with, taken from its ``globals()``,
    and choose where it writes.

    Call it in the cell right after the ``parameters`` cell. The run starts from the
    values of its ``profile`` (``params/<profile>/``, as ``load_params`` reads them); a
    cell parameter that is not None, a key of the cell's ``overrides`` mapping, or any
    other parameter papermill injected (``-p``, ``-f``) replaces the profile's value. A
    plain-typed global that is not a parameter (e.g. ``n_user`` injected by ``papermill
    -p n_user 5``) is an error naming the closest parameter. When the values differ from
    the profile's (or the cell names a ``variant``), the run writes to a variant,
    ``reports/<profile>+<name>/`` (:mod:`newsstudy.variants`), never into the profile;
    a variant chosen by ``newsstudy run`` (the environment it starts the kernel with)
    is kept. Run the notebook top to bottom: re-running this cell after later cells
    defined plain-typed globals (``k = 5``) reports those as unknown parameters. Under
    plain ``papermill -f FILE`` the files are read again here, so a duplicate key is
    refused as ``newsstudy run`` refuses it (:func:`papermill_parameter_files`).
    """
    from newsstudy import variants

    for path in papermill_parameter_files():
        read_params_file(path)
    where = f"notebook {notebook}"
    profile = namespace.get("profile")
    known = profiles()
    if not isinstance(profile, str) or profile not in known:
        raise ParamsError(f"{where}: profile: unknown profile {profile!r}"
                          f"{did_you_mean(str(profile), known)} (profiles: {', '.join(known)})")
    cell_overrides = namespace.get("overrides") or {}
    if not isinstance(cell_overrides, dict):
        raise ParamsError(f"{where}: overrides: must be a mapping of parameter names to "
                          f"values, got {type(cell_overrides).__name__}")
    candidates = [name for name, value in namespace.items()
                  if is_candidate_parameter(name, value) and name not in CELL_NAMES]
    check_known_keys(notebook, candidates, where)
    check_known_keys(notebook, [str(key) for key in cell_overrides], f"{where}: overrides")
    given = {name: namespace[name] for name in candidates if namespace[name] is not None}
    params = load_params(notebook, profile, given | cell_overrides, given_where=where)
    active = paths.active_variant()
    try:
        if active is not None and variants.base_of(active) == profile:
            variant = active  # chosen by newsstudy run, which prepared it
        else:
            changed = variants.changed_values(params.model_dump(),
                                              load_params(notebook, profile).model_dump())
            variant = variants.choose(profile, changed, namespace.get("variant"))
            if variant is not None:
                variants.activate(variant)
                variants.prepare(variant, notebook, profile_notebooks(profile), changed)
    except variants.VariantError as err:
        raise ParamsError(f"{where}: {err}") from None
    if variant is not None:
        print(f"{notebook}: parameters differ from profile {profile!r}: writing to variant "
              f"{variant} (reports/{variant}/)")
    return params


def type_name(annotation: Any) -> str:
    """A short readable name of a field's type, e.g. ``int``, ``int | None``."""
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def constraints(metadata: list[Any]) -> str:
    """A field's constraints as text, e.g. ``>= 20, <= 2000000``."""
    parts = []
    for item in metadata:
        for attribute, label in CONSTRAINT_LABELS.items():
            value = getattr(item, attribute, None)
            if value is not None:
                parts.append(f"{label} {value}")
    return ", ".join(parts)


def schema_table(notebook: str) -> list[dict[str, str]]:
    """One row per parameter of a notebook: name, type, default, constraints, description."""
    rows = []
    for name, field in schema_for(notebook).model_fields.items():
        rows.append(
            {
                "name": name,
                "type": type_name(field.annotation),
                "default": "required" if field.is_required() else repr(field.default),
                "constraints": constraints(field.metadata),
                "description": field.description or "",
            }
        )
    return rows
