"""The dev server's API Gateway imitation: Chalice's `LocalGateway`, adjusted where it differs
from API Gateway in a way the service would notice."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalice.local import LambdaContext, LocalGateway


class OptionsToAppGateway(LocalGateway):
    """Chalice's API Gateway imitation, except that ``OPTIONS`` reaches the app, the stage's
    Lambda settings are read once (not per request), and the event carries a request id.

    API Gateway puts its request id in the event (``requestContext.requestId``), and the edge
    answers with it as ``X-Request-Id``; Chalice's imitation leaves it out, so the edge would
    draw a second random id beside the Lambda context's. Here the event carries the context's
    ``aws_request_id``: one id per request, drawn once.

    The imitation answers ``OPTIONS`` itself with an empty 200 (a CORS preflight) on any route
    without an ``OPTIONS`` view. No route here enables CORS, so the app answers instead: 405 with
    ``Allow``, in the one error shape, through the edge middleware. A route with CORS keeps the
    gateway's preflight answer.
    """

    def __init__(self, app_object: Any, config: Any) -> None:
        super().__init__(app_object, config)
        self._routes: Mapping[str, Mapping[str, Any]] = app_object.routes
        # The stage's Lambda settings, read once: Chalice looks each up through the stage's
        # layered configuration on every request.
        seconds = config.lambda_timeout
        self._context_settings = {
            "function_name": config.function_name,
            "memory_size": config.lambda_memory_size,
            "max_runtime_ms": (self.MAX_LAMBDA_EXECUTION_TIME if seconds is None else seconds) * 1000,
        }
        self._context: LambdaContext | None = None

    def _generate_lambda_context(self) -> LambdaContext:
        # Chalice builds the context first, then the event (`_generate_lambda_event`), in the one
        # thread that serves this connection's gateway.
        self._context = LambdaContext(**self._context_settings)
        return self._context

    def _generate_lambda_event(self, method: str, path: str, headers: Any, body: bytes | None) -> Any:
        event = super()._generate_lambda_event(method, path, headers, body)
        context, self._context = self._context, None  # this request's, used once
        if context is not None:
            event["requestContext"]["requestId"] = context.aws_request_id
        return event

    def _has_user_defined_options_method(self, lambda_event: Any) -> bool:
        views = self._routes[lambda_event["requestContext"]["resourcePath"]]
        return "OPTIONS" in views or all(view.cors is None for view in views.values())
