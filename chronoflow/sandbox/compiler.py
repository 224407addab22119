"""Compiling user code with RestrictedPython, inside the sandbox child.

The code must define a top-level ``def run(ctx)``. Errors come back as :class:`CodeError` with
the line and a reason, never as a traceback into RestrictedPython or the host.
"""

from __future__ import annotations

import ast
import re
from importlib.metadata import version
from types import CodeType

from RestrictedPython.compile import compile_restricted_exec

from chronoflow.errors import ChronoflowError

#: File name user frames carry, in tracebacks and errors; never a host path.
FILENAME = "<function>"

#: Largest accepted source, in characters; bigger code is refused before parsing.
MAX_CODE_CHARS = 256 * 1024

_RP_ERROR = re.compile(r"^Line (\d+): (.*)$", re.DOTALL)

#: Oldest RestrictedPython that closes the published advisories (positional-only parameters
#: shadowing guards, string.Formatter walks); an older one must not run user code.
MIN_RESTRICTED_PYTHON = (8, 4)

if tuple(int(p) for p in re.findall(r"\d+", version("RestrictedPython"))[:2]) < MIN_RESTRICTED_PYTHON:
    raise ImportError(f"the sandbox needs RestrictedPython >= {'.'.join(map(str, MIN_RESTRICTED_PYTHON))}")


class CodeError(ChronoflowError, ValueError):
    """User code that does not compile or lacks ``def run(ctx)``.

    Attributes:
        line: 1-based line of the problem, 0 when it concerns the whole code.
        reason: what is wrong, for the user.
    """

    def __init__(self, line: int, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(f"line {line}: {reason}" if line else reason)


def _check_entry_point(tree: ast.Module) -> None:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "run":
            args = node.args
            positional = len(args.posonlyargs) + len(args.args)
            required = positional - len(args.defaults)
            if positional >= 1 and required <= 1 or args.vararg is not None and required <= 0:
                return
            raise CodeError(node.lineno, "run must take exactly one argument: def run(ctx)")
    raise CodeError(0, "the code must define a top-level function: def run(ctx)")


def compile_function(source: str) -> CodeType:
    """Compile user code to a restricted module code object.

    Raises:
        CodeError: on a syntax error, a construct RestrictedPython forbids, or a missing
            ``def run(ctx)``.
    """
    if type(source) is not str:
        raise CodeError(0, "code must be a string")
    if len(source) > MAX_CODE_CHARS:
        raise CodeError(0, f"code is longer than {MAX_CODE_CHARS} characters")
    try:
        tree = ast.parse(source, filename=FILENAME, mode="exec")
    except SyntaxError as exc:
        raise CodeError(exc.lineno or 0, f"SyntaxError: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise CodeError(0, f"code cannot be parsed: {type(exc).__name__}") from None
    _check_entry_point(tree)
    try:
        result = compile_restricted_exec(tree, filename=FILENAME)
    except (RecursionError, MemoryError) as exc:
        raise CodeError(0, f"code cannot be compiled: {type(exc).__name__}") from None
    if result.errors:
        match = _RP_ERROR.match(result.errors[0])
        if match:
            raise CodeError(int(match.group(1)), match.group(2))
        raise CodeError(0, result.errors[0])
    assert result.code is not None
    return result.code
