"""One error tree: the drawing in ``chronoflow.errors`` matches the classes, and the edge maps them."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import chronoflow
from chronoflow import errors as exceptions
from chronoflow.api.errors import ERROR_TABLE, rule_for
from chronoflow.errors import ChronoflowError

OUTSIDE_ON_PURPOSE = ("chronoflow.sandbox.", "chronoflow.devtools.fake_whatsapp.")
"""Modules whose own exceptions may stay outside the tree, as the module docstring explains."""

def drawing() -> dict[str, str | None]:
    """``class name -> parent name`` as drawn in the docstring of ``chronoflow.errors``."""
    doc = exceptions.__doc__ or ""
    block = doc.split("::", 1)[1].split("\n\n", 2)[1]
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in block.splitlines():
        branch = line.find("── ")
        if branch == -1:
            column = len(line) - len(line.lstrip())
            name = line.strip().split()[0] if line.strip() and "│" not in line else None
        else:
            column = branch + 3
            name = line[column:].split()[0]
        if name is None:
            continue  # a continuation line
        while stack and stack[-1][0] >= column:
            stack.pop()
        parents[name] = stack[-1][1] if stack else None
        stack.append((column, name))
    return parents


def chronoflow_exceptions() -> list[type[BaseException]]:
    """Every exception class defined in the package (entry-point modules aside)."""
    found = []
    for module_info in pkgutil.walk_packages(chronoflow.__path__, "chronoflow."):
        if module_info.name.endswith("__main__"):
            continue
        module = importlib.import_module(module_info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__ == module.__name__:
                found.append(cls)
    return found


def test_the_drawing_is_the_class_tree() -> None:
    """It draws every ChronoflowError subclass of the package under its real parent, and nothing else."""
    drawn = drawing()
    classes = {cls.__name__: cls for cls in chronoflow_exceptions() if issubclass(cls, ChronoflowError)}
    assert set(drawn) == set(classes), "drawn but missing, or defined but not drawn"
    for name, parent in drawn.items():
        if parent is None:
            assert classes[name] is ChronoflowError
        else:
            assert classes[parent] in classes[name].__bases__, f"{name} is not drawn under its parent"


def test_every_other_exception_lives_where_the_docstring_allows() -> None:
    """It keeps exceptions outside the tree only in the sandbox and the fake gateway."""
    outside = [f"{cls.__module__}.{cls.__qualname__}" for cls in chronoflow_exceptions()
               if not issubclass(cls, ChronoflowError)]
    assert outside, "the walk found the sandbox's own exceptions"
    assert [name for name in outside if not name.startswith(OUTSIDE_ON_PURPOSE)] == []


def test_every_class_the_table_lists_belongs_to_the_tree() -> None:
    """It maps only ChronoflowError subclasses, and the roots stay unmapped (they are bugs at the edge)."""
    assert all(issubclass(cls, ChronoflowError) for cls in ERROR_TABLE)
    assert rule_for(ChronoflowError("x")) is None
    assert rule_for(exceptions.ConfigError(["x"])) is None
    assert rule_for(RuntimeError("x")) is None
