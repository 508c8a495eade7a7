"""An example processing step, registered by module path (see `load_plugins`)."""

from __future__ import annotations

from typing import Any

from chalicelib.services.processing import HandlerRegistry, ProcessingContext


def register(registry: HandlerRegistry) -> None:
    @registry.step("formula.submitted")
    def noop(message: dict[str, Any], context: ProcessingContext) -> None:
        return None
