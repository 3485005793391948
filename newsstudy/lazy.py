"""Packages whose heavy body is imported on first use.

A stage whose code needs torch and TRL keeps that code in one submodule (its *body*) and
forwards the package's names to it, so importing a light submodule of the stage (its
``results`` model, say) does not load them.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable


def forward(package: str, body: str) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package`` (PEP 562): a name that is not a
    submodule of the package is looked up in ``package.body``, imported then."""

    def __getattr__(name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(name)
        if importlib.util.find_spec(f"{package}.{name}") is not None:  # a submodule
            return importlib.import_module(f"{package}.{name}")
        try:
            return getattr(importlib.import_module(f"{package}.{body}"), name)
        except AttributeError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None

    def __dir__() -> list[str]:
        own = vars(importlib.import_module(package))
        return sorted(set(own) | set(dir(importlib.import_module(f"{package}.{body}"))))

    return __getattr__, __dir__
