"""The composition root: the one place that reads settings and wires adapters.

Nothing is built at import time. `services()` builds the process-wide `Services` on first use
from the stage's environment (read at that moment), and `use()` installs a prepared container
(tests, the dev server). Every dependency of `build` can be injected.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib import observability
from chalicelib.clock import Clock
from chalicelib.config import ConfigError, Settings
from chalicelib.ids import IdFactory, UlidFactory
from chalicelib.ports.queue import MessageQueue
from chalicelib.ports.similarity import SimilarityIndex
from chalicelib.ports.store import FormulaStore, IdempotencyStore
from chalicelib.security.apikeys import ApiKeys, KeyRing
from chalicelib.security.keysource import RefreshingApiKeys
from chalicelib.security.ratelimit import RateLimiter
from chalicelib.services.submission import SubmissionService

if TYPE_CHECKING:
    from chalicelib.adapters.aws.relay import OutboxRelay
    from chalicelib.worker import Worker


@dataclass(slots=True)
class Services:
    """Everything a request handler needs, built for one backend."""

    settings: Settings
    clock: Clock
    queue: MessageQueue
    store: FormulaStore
    idempotency: IdempotencyStore
    submissions: SubmissionService
    api_keys: KeyRing
    rate_limiter: RateLimiter
    similarity: SimilarityIndex
    relay: OutboxRelay | None = None
    consumer: Worker | None = None
    """The worker the Lambda SQS consumer settles messages with (`consumer_worker`), built once."""

    @property
    def consumer_api_enabled(self) -> bool:
        return self.settings.consumer_api_enabled


def _services(
    settings: Settings,
    clock: Clock,
    queue: MessageQueue,
    store: FormulaStore,
    idempotency: IdempotencyStore,
    similarity: SimilarityIndex,
    *,
    new_id: IdFactory | None,
    relay: OutboxRelay | None = None,
    ssm: Any = None,
) -> Services:
    """The parts every backend shares: logs and metrics, the submission service, API keys and
    rate limits."""
    observability.configure(settings.log_level, metrics=settings.metrics_enabled, stack=settings.stack_name)
    return Services(
        settings=settings,
        clock=clock,
        queue=queue,
        store=store,
        idempotency=idempotency,
        submissions=SubmissionService(
            store,
            idempotency,
            clock=clock,
            new_id=new_id or UlidFactory(clock),
            idempotency_ttl_seconds=settings.idempotency_ttl_seconds,
            idempotency_lock_seconds=settings.idempotency_lock_seconds,
        ),
        api_keys=api_keys(settings, clock, ssm=ssm),
        rate_limiter=RateLimiter(clock, rate=settings.rate_limit_per_second, burst=settings.rate_limit_burst),
        similarity=similarity,
        relay=relay,
    )


def api_keys(settings: Settings, clock: Clock, *, ssm: Any = None) -> KeyRing:
    """The stage's keys: from its SSM parameter (``FI_API_KEYS_PARAMETER``), read on first use and
    cached, or from ``FI_API_KEYS``. ``ssm``: an SSM client (None: one made on the first read)."""
    name = settings.api_keys_parameter
    if not name:
        return ApiKeys.from_json(settings.api_keys_json)
    if settings.api_keys_json.strip():
        raise ConfigError("set FI_API_KEYS or FI_API_KEYS_PARAMETER, not both")
    from chalicelib.adapters.aws.parameters import SecureParameter

    def make_client() -> Any:
        import boto3

        from chalicelib.adapters.aws.clients import aws_client_config, aws_client_options

        return boto3.client("ssm", config=aws_client_config(), **aws_client_options(settings))

    parameter = SecureParameter(name, client=ssm, make_client=make_client)
    return RefreshingApiKeys(parameter.read, source=f"ssm:{name}", clock=clock)


def build_memory(
    settings: Settings,
    *,
    clock: Clock | None = None,
    new_id: IdFactory | None = None,
    queue: MessageQueue | None = None,
) -> Services:
    """Wire the in-memory backend (the default, and what `make run` serves)."""
    from chalicelib.adapters.memory.idempotency import InMemoryIdempotencyStore
    from chalicelib.adapters.memory.queue import InMemoryQueue
    from chalicelib.adapters.memory.similarity import InMemorySimilarityIndex
    from chalicelib.adapters.memory.store import InMemoryFormulaStore

    clock = clock or time.time
    queue = queue or InMemoryQueue(
        clock=clock,
        capacity=settings.queue_capacity,
        max_receive_count=settings.queue_max_receive_count,
        retention_seconds=settings.queue_retention_seconds,
    )
    idempotency = InMemoryIdempotencyStore(clock=clock, ttl_seconds=settings.idempotency_ttl_seconds)
    store = InMemoryFormulaStore(queue, idempotency)
    similarity = InMemorySimilarityIndex()
    return _services(settings, clock, queue, store, idempotency, similarity, new_id=new_id)


def build_aws(
    settings: Settings,
    *,
    dynamodb: Any = None,
    sqs: Any = None,
    ssm: Any = None,
    clock: Clock | None = None,
    new_id: IdFactory | None = None,
) -> Services:
    """Wire the AWS backend: DynamoDB store and keys with a transactional outbox, SQS queue.

    Clients are made here only when not given, all with `aws_client_config` (the SQS long polls
    with `aws_long_poll_config`); ``FI_AWS_ENDPOINT_URL`` points them at a local moto server
    (``make run-aws-local``).
    """
    from chalicelib.adapters.aws.clients import aws_client_config, aws_client_options, aws_long_poll_config
    from chalicelib.adapters.aws.dynamodb_idempotency import DynamoIdempotencyStore
    from chalicelib.adapters.aws.dynamodb_store import DynamoFormulaStore
    from chalicelib.adapters.aws.similarity import DynamoSimilarityIndex
    from chalicelib.adapters.aws.sqs import SqsQueue
    from chalicelib.adapters.aws.sqs_wire import MAX_WAIT_SECONDS

    if not settings.queue_url or not settings.dead_letter_queue_url:
        raise ConfigError("FI_QUEUE_URL and FI_DEAD_LETTER_QUEUE_URL are required for FI_BACKEND=aws")
    clock = clock or time.time
    import boto3

    options = aws_client_options(settings)
    if dynamodb is None:
        dynamodb = boto3.client("dynamodb", config=aws_client_config(), **options)
    long_poll = None
    if sqs is None:
        sqs = boto3.client("sqs", config=aws_client_config(), **options)
        long_poll = boto3.client("sqs", config=aws_long_poll_config(MAX_WAIT_SECONDS), **options)
    queue = SqsQueue(
        queue_url=settings.queue_url,
        dead_letter_queue_url=settings.dead_letter_queue_url,
        max_receive_count=settings.queue_max_receive_count,
        client=sqs,
        long_poll_client=long_poll,
    )
    store = DynamoFormulaStore(dynamodb, settings.table_name, clock=clock, queue=queue)
    idempotency = DynamoIdempotencyStore(
        dynamodb, settings.table_name, ttl_seconds=settings.idempotency_ttl_seconds
    )
    return _services(
        settings,
        clock,
        queue,
        store,
        idempotency,
        DynamoSimilarityIndex(dynamodb, settings.table_name),
        new_id=new_id,
        relay=store.relay,
        ssm=ssm,
    )


def build(settings: Settings | None = None, *, clock: Clock | None = None) -> Services:
    """Build the services the settings ask for (settings default to the environment, read now)."""
    settings = settings or Settings.from_env()
    if settings.backend == "aws":
        return build_aws(settings, clock=clock)
    return build_memory(settings, clock=clock)


def consumer_worker(services: Services) -> Worker:
    """The worker of the Lambda SQS consumer: `build_worker` once per container, not per batch."""
    if services.consumer is None:
        services.consumer = build_worker(services)
    return services.consumer


def build_worker(services: Services) -> Worker:
    """The in-process worker for ``services``: the registry, plugins and settings of the stage."""
    from chalicelib.services.processing import HandlerRegistry, Processor, StoreStatusSink, load_plugins
    from chalicelib.services.similarity import near_duplicate_step
    from chalicelib.services.views import MESSAGE_TYPE
    from chalicelib.worker import Backoff, Worker

    settings = services.settings
    registry = HandlerRegistry()
    registry.step(MESSAGE_TYPE)(
        near_duplicate_step(services.store, services.similarity, settings.near_duplicate_threshold)
    )
    load_plugins(registry, settings.worker_plugins)
    return Worker(
        services.queue,
        Processor(registry, StoreStatusSink(services.store), services.clock),
        max_receive_count=settings.queue_max_receive_count,
        concurrency=settings.worker_concurrency,
        visibility_timeout=settings.worker_visibility_timeout,
        wait_seconds=1,
        backoff=Backoff(base=settings.worker_backoff_base),
        clock=services.clock,
    )


_current: Services | None = None
_lock = threading.Lock()


def services() -> Services:
    """The process-wide services, built on first use."""
    global _current
    current = _current
    if current is None:
        with _lock:
            if _current is None:
                _current = build()
            current = _current
    return current


def use(new: Services | None) -> Services | None:
    """Install ``new`` as the process-wide services (None: rebuild lazily); return the old ones."""
    global _current
    with _lock:
        old, _current = _current, new
    return old
