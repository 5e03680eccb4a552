"""The public API is explicit: every package has one sorted __all__ naming what it exports."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import norecur

PACKAGES = sorted(
    name
    for _finder, name, is_package in pkgutil.walk_packages(norecur.__path__, "norecur.")
    if is_package
)


def _isort_key(symbol: str) -> tuple[int, str]:
    # ruff's RUF022 order: CONSTANTS, then Classes, then functions.
    if symbol.isupper():
        return (0, symbol)
    return (1 if symbol[0].isupper() else 2, symbol)


def test_all_packages_found():
    assert {
        "norecur.model",
        "norecur.document",
        "norecur.lint",
        "norecur.config",
        "norecur.cli",
    } <= set(PACKAGES)


@pytest.mark.parametrize("name", ["norecur", *PACKAGES])
def test_package_all_is_sorted_and_resolvable(name):
    module = importlib.import_module(name)
    exported = module.__all__
    assert list(exported) == sorted(exported, key=_isort_key), f"{name}.__all__ is not sorted"
    assert len(set(exported)) == len(exported)
    for symbol in exported:
        assert hasattr(module, symbol), f"{name}.__all__ names {symbol}, which is missing"


@pytest.mark.parametrize("name", [n for n in PACKAGES if n != "norecur.cli"])
def test_public_names_are_exported(name):
    """Everything a package binds without a leading underscore (bar submodules) is in __all__."""
    module = importlib.import_module(name)
    public = {
        symbol
        for symbol, value in vars(module).items()
        if not symbol.startswith("_")
        and not isinstance(value, type(importlib))
        and str(getattr(value, "__module__", "")).startswith(name)
    }
    assert public <= set(module.__all__), f"{name} exposes {sorted(public - set(module.__all__))}"


def test_error_tree_has_one_root_and_carries_location():
    from norecur import errors

    classes = [getattr(errors, s) for s in errors.__all__ if isinstance(getattr(errors, s), type)]
    assert len(classes) == 7
    for cls in classes:
        assert issubclass(cls, errors.NorecurError)
    error = errors.FrontMatterError("bad\nvalue", path="a.md", line=3, field="cause.primary")
    assert error.one_line() == "a.md:3: cause.primary: bad\\nvalue"
    assert errors.escape_controls("a\x1b[31mb\u2028c") == "a\\x1b[31mb\\u2028c"
    assert isinstance(error, errors.DocumentError)
