"""The public API is small, complete and documented (in the style of httpx's
``test_exported_members.py``): each package's ``__init__`` exports exactly its public names,
every exported class and function says what it is, and every error revfield raises on purpose
is a :class:`revfield.RevfieldError` drawn in the tree of ``revfield.errors``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import revfield
import revfield.errors

PACKAGES = [
    "revfield",
    *sorted(
        f"revfield.{m.name}"
        for m in pkgutil.iter_modules(revfield.__path__)
        if not m.name.startswith("_")
    ),
]


def _public(module: ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not inspect.ismodule(value)
        and name != "annotations"  # `from __future__ import annotations`
    }


@pytest.mark.parametrize("name", PACKAGES)
def test_all_public_members_are_exported(name):
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert len(exported) == len(set(exported))
    assert all(hasattr(module, n) for n in exported)
    if hasattr(module, "__path__"):  # a package: its __init__ holds nothing but its exports
        assert set(exported) == _public(module), f"{name}: __all__ and its public names differ"


def _documented(obj: object) -> bool:
    own = obj.__dict__.get("__doc__") if inspect.isclass(obj) else getattr(obj, "__doc__", None)
    if not own or not own.strip():
        return False
    # a dataclass without a docstring gets its signature as one
    return not (inspect.isclass(obj) and own.startswith(f"{obj.__name__}("))


def _exported() -> list[tuple[str, str, object]]:
    out = []
    for name in PACKAGES:
        module = importlib.import_module(name)
        for member in module.__all__:
            obj = getattr(module, member)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                out.append((name, member, obj))
    return out


@pytest.mark.parametrize(
    ("package", "name", "obj"),
    [pytest.param(*e, id=f"{e[0]}.{e[1]}") for e in _exported()],  # ids alike in every process
)
def test_every_exported_class_and_function_has_a_docstring(package, name, obj):
    assert _documented(obj), f"{package}.{name} has no docstring"


def _errors() -> list[type[BaseException]]:
    found = set()
    for package in PACKAGES:
        module = importlib.import_module(package)
        for value in vars(module).values():
            if inspect.isclass(value) and issubclass(value, BaseException):
                found.add(value)
    return sorted(found, key=lambda c: c.__name__)


@pytest.mark.parametrize("error", _errors(), ids=lambda c: c.__name__)
def test_every_exported_error_is_a_revfield_error_in_the_tree(error):
    assert issubclass(error, revfield.RevfieldError)
    assert error.__module__.startswith("revfield")
    assert f" {error.__name__}" in (revfield.errors.__doc__ or ""), (
        f"{error.__name__} is not drawn in revfield.errors' docstring"
    )


def test_the_tree_names_only_errors_that_exist():
    tree = (revfield.errors.__doc__ or "").split("::", 1)[1]
    drawn = {line.strip(" │├└─").split()[0] for line in tree.splitlines() if line.strip()}
    assert drawn == {c.__name__ for c in _errors()} | {"RevfieldError"}


def _all_modules() -> list[ModuleType]:
    return [
        importlib.import_module(m.name)
        for m in pkgutil.walk_packages(revfield.__path__, "revfield.")
        if ".migrations" not in m.name
    ]


def test_every_error_defined_anywhere_in_revfield_is_a_revfield_error():
    strays = sorted(
        f"{value.__module__}.{value.__name__}"
        for module in _all_modules()
        for value in vars(module).values()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__ == module.__name__
        and not issubclass(value, revfield.RevfieldError)
    )
    assert strays == []
