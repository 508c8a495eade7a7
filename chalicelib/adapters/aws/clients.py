"""How every AWS client is made: its region and endpoint, its timeouts and its retries.

botocore's defaults (60 s connect and read timeouts, several retries) outlast the 25 s function
timeout, so a stalled call would be killed by Lambda instead of retried or answered with a 503;
docs/aws-timeouts.md adds up what a submission can take with the values here.
"""

from __future__ import annotations

from typing import Any

from botocore.config import Config

from chalicelib.adapters.aws.relay import SWEEP_CONCURRENCY
from chalicelib.config import Settings


def aws_client_options(settings: Settings) -> dict[str, Any]:
    """The region of every AWS client, and ``FI_AWS_ENDPOINT_URL`` (a local moto server) if set."""
    options: dict[str, Any] = {"region_name": settings.aws_region}
    if settings.aws_endpoint_url:
        options["endpoint_url"] = settings.aws_endpoint_url
    return options


AWS_CONNECT_TIMEOUT_SECONDS = 0.5
AWS_READ_TIMEOUT_SECONDS = 1.0
AWS_TOTAL_ATTEMPTS = 2
"""Every AWS call: one retry (botocore's standard mode, backoff up to 1 s) after a failed attempt.

Worst case of one call: 2 x (0.5 + 1.0) + 1 = 4 s; docs/aws-timeouts.md adds up a submission.
"""
AWS_LONG_POLL_GRACE_SECONDS = 2
"""A long-polling ReceiveMessage answers after its wait: its read timeout is the wait plus this."""


def aws_client_config() -> Config:
    """The botocore ``Config`` of every AWS client: explicit timeouts and bounded retries.

    botocore's defaults (60 s connect and read timeouts) outlast the 25 s function timeout, so a
    stalled call would be killed by Lambda instead of retried or answered with a 503. The
    connection pool holds one connection per item a sweep relays at once (botocore's default is
    10), so the sweep's threads never queue for a connection.
    """
    return Config(
        connect_timeout=AWS_CONNECT_TIMEOUT_SECONDS,
        read_timeout=AWS_READ_TIMEOUT_SECONDS,
        retries={"mode": "standard", "total_max_attempts": AWS_TOTAL_ATTEMPTS},
        max_pool_connections=SWEEP_CONCURRENCY,
    )


def aws_long_poll_config(max_wait_seconds: int) -> Config:
    """`aws_client_config` for SQS long polls: the read timeout outlasts the wait, one attempt only.

    A receive that stalls is answered with a 503 and simply repeated by its consumer.
    """
    return aws_client_config().merge(
        Config(
            read_timeout=max_wait_seconds + AWS_LONG_POLL_GRACE_SECONDS,
            retries={"mode": "standard", "total_max_attempts": 1},
        )
    )
