"""The public surface of chronoflow.channels is exactly its ``__all__``."""

from __future__ import annotations

import inspect

import chronoflow.channels
import chronoflow.devtools.fake_whatsapp


def test_all_lists_every_public_name() -> None:
    """It exports every public name it imports, and nothing in ``__all__`` is missing."""
    for package in (chronoflow.channels, chronoflow.devtools.fake_whatsapp):
        public = {
            name
            for name, value in vars(package).items()
            if not name.startswith("_") and not inspect.ismodule(value)
        }
        assert sorted(package.__all__) == sorted(public)
