"""What a function must be before it is saved: code that compiles in the sandbox and imports only
what the sandbox offers, limits within bounds, JSON extras and state, an existing channel."""

from __future__ import annotations

import ast
import asyncio
import hashlib
import json
from typing import TYPE_CHECKING, Any

from chronoflow.channels.service import existing_channel_id
from chronoflow.errors import InvalidCode, InvalidInput
from chronoflow.sandbox import CodeError, FunctionLimits, SandboxRunner

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


def checksum(code: str) -> str:
    """SHA-256 of the code, hex: what ``checksum`` stores and what identifies a version's source."""
    return hashlib.sha256(code.encode()).hexdigest()


def _allowed_modules() -> dict[str, object]:
    from chronoflow.sandbox.modules import build_modules

    return build_modules()


def _check_imports(code: str, field_name: str) -> None:
    """Refuse imports the sandbox would refuse at run time (compiled code parses, so this does)."""
    modules = _allowed_modules()
    available = ", ".join(sorted(modules))
    for node in ast.walk(ast.parse(code)):
        names: list[tuple[str, str | None]]
        if isinstance(node, ast.Import):
            names = [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level or node.module is None:
                raise InvalidCode(field_name, node.lineno, "relative imports are not allowed")
            names = [(node.module, alias.name) for alias in node.names]
        else:
            continue
        for module, member in names:
            if module not in modules:
                raise InvalidCode(field_name, node.lineno, f"import of {module!r} is not allowed; available: {available}")
            if member is not None and (member == "*" or not hasattr(modules[module], member)):
                raise InvalidCode(field_name, node.lineno, f"{module} has no {member!r} in the sandbox")


async def checked_code(code: object, runner: SandboxRunner, field_name: str = "code") -> str:
    """``code`` once it compiles in the sandbox and imports only what the sandbox offers.

    Raises:
        InvalidInput: naming ``field_name``, with ``line N: reason`` (a :class:`CodeError`'s line).
        SandboxUnavailable: when no sandbox process can be started.
        SandboxLayersMissing: when the sandbox lacks a required isolation layer.
    """
    if not isinstance(code, str) or not code.strip():
        raise InvalidInput(field_name, "is required: Python source defining def run(ctx)")
    try:
        await asyncio.to_thread(runner.check, code)
    except CodeError as exc:
        raise InvalidCode(field_name, exc.line, exc.reason) from None
    _check_imports(code, field_name)
    return code


def checked_limits(raw: object, field_name: str = "limits") -> dict[str, int]:
    """Limits as stored (every limit, camelCase); ``None`` means the defaults.

    Raises:
        InvalidInput: naming ``field_name`` and the limit at fault.
    """
    try:
        limits = FunctionLimits.from_json(raw)  # type: ignore[arg-type]
    except ValueError as exc:
        path, _, problem = str(exc).partition(": ")
        limit = path.partition(".")[2]
        raise InvalidInput(field_name, f"{limit}: {problem}" if limit else problem) from None
    return limits.to_json()


def checked_extras(raw: object, field_name: str = "extras") -> dict[str, Any]:
    """A JSON object (``None`` means empty). Raises InvalidInput naming ``field_name``."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidInput(field_name, "must be a JSON object")
    try:
        json.dumps(raw, allow_nan=False)
    except (TypeError, ValueError):
        raise InvalidInput(field_name, "must be strict JSON (no NaN or Infinity)") from None
    return raw


async def checked_channel(session: AsyncSession, channel_id: object, field_name: str = "channelId") -> str | None:
    """An existing channel's id, or ``None``. Raises InvalidInput naming ``field_name``."""
    if channel_id is None:
        return None
    return await existing_channel_id(session, channel_id, field_name)


def checked_state(raw: object, limits: dict[str, int]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InvalidInput("state", "must be a JSON object")
    try:
        size = len(json.dumps(raw, allow_nan=False, separators=(",", ":")).encode())
    except (TypeError, ValueError):
        raise InvalidInput("state", "must be strict JSON") from None
    cap = FunctionLimits.from_json(limits).max_state_bytes
    if size > cap:
        raise InvalidInput("state", f"is {size} bytes, over the function's maxStateBytes of {cap}")
    return raw
