"""Names a package imports the first time they are used (PEP 562), so importing it (and the
command line) does not load what only some commands need: LangGraph, the OpenAI SDK, FastAPI,
even the memory and SQLAlchemy for ``revfield --help``.

Each package keeps its imports under ``typing.TYPE_CHECKING``, so mypy sees every name and a
typo stays an error, and hands the rest to :func:`lazy_names`::

    if not typing.TYPE_CHECKING:
        __getattr__, __dir__ = lazy_names(__name__, {"create_app": "revfield.service._app"},
                                          __all__)

A module that calls a function of such a package (and lets a test replace it) binds the name
to :func:`lazy_function` instead, which imports the package at the first call.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["lazy_function", "lazy_names"]


def lazy_names(
    package: str, sources: Mapping[str, str], names: Iterable[str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """A module ``__getattr__`` that imports ``name`` from ``sources[name]`` on first use (and
    keeps it in the package, so the hook runs once per name), and the ``__dir__`` that lists
    ``names`` beside what is loaded."""
    listed = tuple(names)

    def __getattr__(name: str) -> object:
        module = sources.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *listed})

    return __getattr__, __dir__


def lazy_function(module: str, name: str) -> Callable[..., Any]:
    """A stand-in for the function ``name`` of ``module`` that imports the module when it is
    first called, for a module-level name a module calls (and a test may replace) without
    importing what it needs before it needs it. Type it under ``typing.TYPE_CHECKING`` with the
    real import::

        if typing.TYPE_CHECKING:
            from revfield.memory import recall
        else:
            recall = lazy_function("revfield.memory", "recall")
    """

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"``{module}.{name}``, imported on the first call."
    return call
