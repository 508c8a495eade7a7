"""formula-intake HTTP API (AWS Chalice). Routes only: parse, call the core, map errors."""

from __future__ import annotations

from chalice.app import Chalice, CloudWatchEvent, DynamoDBEvent, Request, Response, SQSEvent

from chalicelib import bootstrap
from chalicelib.domain import parse_request_body
from chalicelib.errors import PayloadTooLarge
from chalicelib.http import consumer_api, openapi, similar
from chalicelib.http.errors import api_view
from chalicelib.http.middleware import make_edge, principal_of
from chalicelib.http.responses import empty_response, json_response, serialised_response
from chalicelib.services import queries, similarity
from chalicelib.services.submission import validate_idempotency_key

app = Chalice(app_name="formula-intake")
app.register_middleware(make_edge(bootstrap.services), "http")

ANY_BODY_TYPE = ["*/*"]
"""Routes with a body let every Content-Type through Chalice: the edge's one media rule
(`chalicelib.http.media`) decides which are JSON, ``+json`` types included, and answers 415."""


def request() -> Request:
    current = app.current_request
    if current is None:
        raise RuntimeError("no current request")
    return current


def raw_body(current: Request | None = None) -> bytes:
    body = (current or request()).raw_body
    return body.encode("utf-8") if isinstance(body, str) else bytes(body or b"")


def query() -> dict[str, str]:
    return dict(request().query_params or {})


def owner() -> str:
    """The authenticated principal: every formula, fingerprint and key belongs to it."""
    return principal_of(request())


@app.route("/health", methods=["GET"])
@api_view
def health() -> Response:
    return json_response(200, {"status": "ok"})


@app.route("/openapi.json", methods=["GET"])
@api_view
def openapi_document() -> Response:
    return json_response(200, openapi.document(consumer_api=bootstrap.services().consumer_api_enabled))


@app.route("/formulas", methods=["POST"], content_types=ANY_BODY_TYPE)
@api_view
def submit_formulas() -> Response:
    services = bootstrap.services()
    settings = services.settings
    current = request()
    raw = raw_body(current)
    if len(raw) > settings.max_body_bytes:
        raise PayloadTooLarge("The request body is too large.", limit_bytes=settings.max_body_bytes)
    key = validate_idempotency_key(
        current.headers.get("idempotency-key"), required=settings.require_idempotency_key
    )
    submission = parse_request_body(raw)
    result = services.submissions.submit(principal_of(current), submission, key)
    headers = {}
    if result.location:
        headers["Location"] = result.location
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    return serialised_response(result.status, result.body, headers)


@app.route("/formulas/{formula_id}", methods=["GET"])
@api_view
def get_formula(formula_id: str) -> Response:
    services = bootstrap.services()
    return json_response(200, queries.get_formula(services.store, owner(), formula_id))


@app.route("/formulas/{formula_id}/similar", methods=["GET"])
@api_view
def similar_formulas(formula_id: str) -> Response:
    services = bootstrap.services()
    threshold, limit = similar.parse_similar_params(query())
    answer = similarity.similar_to_formula(
        services.store, services.similarity, owner(), formula_id, min_similarity=threshold, limit=limit
    )
    return json_response(200, answer)


@app.route("/formulas/similar", methods=["POST"], content_types=ANY_BODY_TYPE)
@api_view
def similar_to_body() -> Response:
    services = bootstrap.services()
    threshold, limit = similar.parse_similar_params(query())
    formula = similar.parse_one_formula(raw_body(), max_body_bytes=services.settings.max_body_bytes)
    answer = similarity.similar_to_makeup(
        services.similarity, owner(), formula, min_similarity=threshold, limit=limit
    )
    return json_response(200, answer)


@app.route("/formulas", methods=["GET"])
@api_view
def list_formulas() -> Response:
    services = bootstrap.services()
    limit, after, status = queries.parse_list_params(query())
    page = queries.list_formulas(services.store, owner(), limit=limit, after=after, status=status)
    return json_response(200, page)


@app.route("/queue/receive", methods=["POST"], content_types=ANY_BODY_TYPE)
@api_view
def queue_receive() -> Response:
    services = bootstrap.services()
    return json_response(200, consumer_api.receive(services.queue, services.store, raw_body()))


@app.route("/queue/ack", methods=["POST"], content_types=ANY_BODY_TYPE)
@api_view
def queue_ack() -> Response:
    results = consumer_api.ack(bootstrap.services().queue, raw_body())
    return empty_response() if results is None else json_response(200, results)


@app.route("/queue/nack", methods=["POST"], content_types=ANY_BODY_TYPE)
@api_view
def queue_nack() -> Response:
    consumer_api.nack(bootstrap.services().queue, raw_body())
    return empty_response()


@app.route("/queue/stats", methods=["GET"])
@api_view
def queue_stats() -> Response:
    return json_response(200, bootstrap.services().queue.stats().to_dict())


@app.route("/queue/dead-letters", methods=["GET"])
@api_view
def queue_dead_letters() -> Response:
    params = query()
    return json_response(200, consumer_api.dead_letters(bootstrap.services().queue, params))


@app.route("/queue/dead-letters/redrive", methods=["POST"], content_types=ANY_BODY_TYPE)
@api_view
def queue_redrive() -> Response:
    return json_response(200, consumer_api.redrive(bootstrap.services().queue, raw_body()))


@app.route("/queue/formulas/{formula_id}/status", methods=["GET"])
@api_view
def queue_formula_status(formula_id: str) -> Response:
    params = query()
    return json_response(200, consumer_api.formula_status(bootstrap.services().store, formula_id, params))


@app.route("/queue/formulas/{formula_id}/status", methods=["PUT"], content_types=ANY_BODY_TYPE)
@api_view
def queue_report_status(formula_id: str) -> Response:
    services = bootstrap.services()
    answer = consumer_api.report_status(
        services.store,
        services.similarity,
        formula_id,
        raw_body(),
        now=services.clock(),
        near_duplicate_threshold=services.settings.near_duplicate_threshold,
    )
    return json_response(200, answer)


# ---- Lambda event handlers (AWS backend) --------------------------------------------------------
# Chalice reads these at import; deploy/resources.json rewires both event sources to the stack's
# own queue and table stream, whose names derive from the stack name.

QUEUE_NAME = "formula-intake-submitted"
OUTBOX_STREAM_ARN_PLACEHOLDER = (
    "arn:aws:dynamodb:us-east-1:000000000000:table/formula-intake/stream/1970-01-01T00:00:00.000"
)


@app.on_sqs_message(queue=QUEUE_NAME, batch_size=10)
def consume_messages(event: SQSEvent) -> dict[str, list[dict[str, str]]]:
    from chalicelib.entrypoints import lambda_handlers

    return lambda_handlers.consume_sqs(bootstrap.services(), (record.to_dict() for record in event))


@app.on_dynamodb_record(stream_arn=OUTBOX_STREAM_ARN_PLACEHOLDER)
def relay_outbox(event: DynamoDBEvent) -> None:
    from chalicelib.entrypoints import lambda_handlers

    lambda_handlers.relay_stream(bootstrap.services(), (record.to_dict() for record in event))


@app.schedule("rate(1 minute)")
def sweep_outbox(event: CloudWatchEvent) -> None:
    from chalicelib.entrypoints import lambda_handlers

    lambda_handlers.sweep(
        bootstrap.services(), budget_seconds=lambda_handlers.remaining_seconds(event.context)
    )
