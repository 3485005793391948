"""Each notebook's results model, and typed reads of its results file.

The report and the claims read ``reports/<profile>/results/<notebook>.json`` through the
model the notebook wrote it with (:data:`MODELS`): :func:`read` validates a whole file,
:func:`typed` one value at a path inside it (so a check needs only the keys it reads).
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, TypeAdapter

from newsstudy import paths
from newsstudy.ab.results import ABResults
from newsstudy.baselines.results import BaselinesResults
from newsstudy.distillation.results import DistillationResults
from newsstudy.io import read_json
from newsstudy.results import Record
from newsstudy.rewards.results import RewardsResults
from newsstudy.scaling.results import ScalingResults
from newsstudy.teacher.results import TeacherResults
from newsstudy.world.results import DataResults, SensitivityResults

MODELS: dict[str, type[Record]] = {
    "01_data": DataResults,
    "01b_sensitivity": SensitivityResults,
    "02_rewards": RewardsResults,
    "03_grpo": TeacherResults,
    "03b_baselines": BaselinesResults,
    "04_scaling": ScalingResults,
    "05_distillation": DistillationResults,
    "06_ab_simulation": ABResults,
}
"""Notebook -> the model of its results file."""


def read(profile: str, notebook: str) -> Record:
    """A notebook's whole results file, validated by its model (``KeyError`` for a
    notebook without one; pydantic's ``ValidationError`` for a file that breaks it)."""
    return MODELS[notebook].model_validate(read_json(paths.results_path(profile, notebook)))


def _without_none(annotation: Any) -> Any:
    """``X | None`` -> ``X``."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        kept = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(kept) == 1:
            return kept[0]
    return annotation


def field_type(notebook: str, keys: Sequence[str]) -> Any:
    """The declared type of the value at ``keys`` in ``notebook``'s results model
    (``KeyError`` when the model has no such path)."""
    annotation: Any = MODELS[notebook]
    for key in keys:
        annotation = _without_none(annotation)
        origin = typing.get_origin(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if key not in annotation.model_fields:
                raise KeyError(key)
            annotation = annotation.model_fields[key].annotation
        elif origin is dict:
            annotation = typing.get_args(annotation)[1]
        elif origin is list:
            annotation = typing.get_args(annotation)[0]
        else:
            raise KeyError(key)
    return annotation


@functools.cache
def _adapter(annotation: Any) -> TypeAdapter:
    """One validator per declared type (building one is the costly part of a read)."""
    return TypeAdapter(annotation)


def typed(notebook: str, keys: Sequence[str], value: Any) -> Any:
    """``value``, read from ``keys`` of ``notebook``'s results file, validated as the type
    its model declares there (pydantic's ``ValidationError`` if it does not match)."""
    return _adapter(field_type(notebook, keys)).validate_python(value)
