"""What SQS accepts and how its answers read, for `chalicelib.adapters.aws.sqs.SqsQueue`.

The service's limits, the checks a message passes before it is sent (the same as
`InMemoryQueue`'s), its SendMessage parameters and attributes, how batch entries are split into
calls, how a received message gives back its port id, send time and body, and how SQS and botocore
errors become the port's errors (`sqs_call`).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import jsonio
from chalicelib.errors import (
    FormulaIntakeError,
    InfrastructureError,
    PayloadTooLarge,
    QueueArgumentError,
    ReceiptHandleMalformed,
    ReceiptHandleUnknown,
)
from chalicelib.jsonio import JsonValue

MAX_BODY_BYTES = 262_144
MAX_DELAY_SECONDS = 900
MAX_MESSAGES = 10
MAX_VISIBILITY_SECONDS = 43_200
MAX_WAIT_SECONDS = 20
MAX_HANDLE_CHARS = 8_192
"""AWS publishes no maximum; real handles are a few hundred characters, so longer is not one."""
MAX_BATCH_BYTES = 1_048_576
"""SQS's limit on the bodies and attributes of one batch call, summed."""
PEEK_VISIBILITY_SECONDS = 30
"""How long `dead_letters` and `redrive` hide the DLQ messages they page through."""

ATTR_DEDUP_ID = "dedup_id"
ATTR_MESSAGE_ID = "message_id"
ATTR_SENT_AT = "sent_at"
SYSTEM_ATTRIBUTES = ["ApproximateReceiveCount", "SentTimestamp", "ApproximateFirstReceiveTimestamp"]
_HANDLE = re.compile(r"[!-~]+")
_DEDUP_ID = re.compile(r"[!-~]{1,128}")
_NOT_FOR_SQS = re.compile("[\ufffe\uffff]")
"""Characters JSON strings may hold but SQS bodies may not; sent as ``\\uXXXX`` escapes instead."""


def check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    if type(value) is not int or value < low or (high is not None and value > high):
        bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise QueueArgumentError(name, f"must be an integer {bounds}")
    return value


def check_handle(handle: object) -> str:
    if type(handle) is not str or len(handle) > MAX_HANDLE_CHARS or not _HANDLE.fullmatch(handle):
        raise ReceiptHandleMalformed("The receipt handle is not one this queue issues.")
    return handle


def outgoing(body: JsonValue, delay_seconds: object, dedup_id: object) -> dict[str, Any]:
    """Validate one message as `InMemoryQueue` does; return its SendMessage parameters."""
    delay = check_int("delay_seconds", delay_seconds, 0, MAX_DELAY_SECONDS)
    if dedup_id is not None and (type(dedup_id) is not str or not _DEDUP_ID.fullmatch(dedup_id)):
        raise QueueArgumentError("dedup_id", "must be 1 to 128 printable ASCII characters, no spaces")
    try:
        text = jsonio.dumps(body)
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise QueueArgumentError("body", "must be valid Unicode (it holds a lone surrogate)") from exc
    except (TypeError, ValueError, RecursionError) as exc:
        raise QueueArgumentError("body", f"must be JSON-serialisable ({exc})") from exc
    if size > MAX_BODY_BYTES:
        raise PayloadTooLarge(
            f"The message body is {size} bytes; the limit is {MAX_BODY_BYTES}.", limit_bytes=MAX_BODY_BYTES
        )
    return {
        "MessageBody": _NOT_FOR_SQS.sub(lambda m: f"\\u{ord(m.group()):04x}", text),
        "DelaySeconds": delay,
        "MessageAttributes": string_attributes({ATTR_DEDUP_ID: dedup_id}),
    }


def string_attributes(values: dict[str, object]) -> dict[str, dict[str, str]]:
    """Message attributes of type String for the values that are not None."""
    return {
        name: {"DataType": "String", "StringValue": str(v)} for name, v in values.items() if v is not None
    }


def batches(entries: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Split batch entries into calls of at most 10 entries and `MAX_BATCH_BYTES` (over-estimated)."""
    batch: list[dict[str, Any]] = []
    size = 0
    for entry in entries:
        entry_size = len(entry["MessageBody"].encode("utf-8")) + sum(
            len(name) + len(str(value)) for name, value in entry.get("MessageAttributes", {}).items()
        )
        if batch and (len(batch) == MAX_MESSAGES or size + entry_size > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += entry_size
    if batch:
        yield batch


def _code_and_message(exc: ClientError) -> tuple[str, str]:
    """An SQS error's code (without the query protocol's prefix) and its message, lower-cased."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "")).removeprefix("AWS.SimpleQueueService.")
    return code, str(error.get("Message", "")).lower()


def handle_error(code: str, message: str) -> FormulaIntakeError | None:
    """The port's error for an SQS error about a receipt handle, or None if it is not one."""
    if code == "MessageNotInflight" or (
        code == "InvalidParameterValue" and ("does not exist" in message or "expired" in message)
    ):
        return ReceiptHandleUnknown("No message in the queue holds this receipt handle.")
    if code == "ReceiptHandleIsInvalid" or (code == "InvalidParameterValue" and "receipthandle" in message):
        return ReceiptHandleMalformed("The receipt handle is not one this queue issues.")
    return None


_CALLER_FAULTS = frozenset({"InvalidParameterValue", "InvalidMessageContents"})
"""SQS errors caused by the arguments a caller passed (after our own checks): 4xx, not 503."""


def _port_error(exc: ClientError, *, names_handle: bool, field: str) -> FormulaIntakeError | None:
    """The port's 4xx error for an SQS error the caller caused, or None (a backend failure)."""
    code, message = _code_and_message(exc)
    if code == "InvalidParameterValue" and "total visibilitytimeout" in message:
        return QueueArgumentError(
            "seconds", f"would keep the message invisible for more than {MAX_VISIBILITY_SECONDS} s in total"
        )
    mapped = handle_error(code, message) if names_handle else None
    if mapped is None and code in _CALLER_FAULTS:
        mapped = QueueArgumentError(field, "was refused by the queue")
    return mapped


@contextmanager
def sqs_call(action: str, *, names_handle: bool = False, field: str = "request") -> Iterator[None]:
    """Turn every botocore failure into a port error, keeping the cause (``raise ... from``).

    Errors about a receipt handle (with ``names_handle``) and other errors the caller caused
    (about ``field``) become 4xx port errors; everything else is `InfrastructureError`.
    """
    try:
        yield
    except ClientError as exc:
        mapped = _port_error(exc, names_handle=names_handle, field=field)
        code = exc.response.get("Error", {}).get("Code", "unknown error")
        raise (mapped or InfrastructureError(f"SQS {action} failed: {code}")) from exc
    except BotoCoreError as exc:
        raise InfrastructureError(f"SQS {action} failed: {exc}") from exc


def seconds_of(milliseconds: object, default: float = 0.0) -> float:
    return int(str(milliseconds)) / 1000 if milliseconds else default


def origin(message: dict[str, Any]) -> tuple[str, float]:
    """The port's message id and first send time of a received SQS message."""
    attributes = message.get("MessageAttributes", {})
    message_id = attributes.get(ATTR_MESSAGE_ID, {}).get("StringValue") or message["MessageId"]
    sent = attributes.get(ATTR_SENT_AT, {}).get("StringValue") or message.get("Attributes", {}).get(
        "SentTimestamp"
    )
    return str(message_id), seconds_of(sent)


def body_of(message: dict[str, Any]) -> JsonValue:
    """The parsed body; raises `jsonio.JsonError` for a body some other producer sent."""
    return jsonio.loads(message["Body"], max_depth=sys.getrecursionlimit())


def send_batch(client: Any, queue_url: str, entries: list[dict[str, Any]]) -> dict[str, str]:
    """Send every entry with ``SendMessageBatch`` (in `batches`); return ``{Id: error code}`` for
    each entry SQS refused (its ``Failed`` list)."""
    failed: dict[str, str] = {}
    for batch in batches(entries):
        with sqs_call("SendMessageBatch"):
            response = client.send_message_batch(QueueUrl=queue_url, Entries=batch)
        failed.update({str(f["Id"]): str(f.get("Code", "unknown")) for f in response.get("Failed", [])})
    return failed


def receive_raw(client: Any, queue_url: str, count: int, visibility: int, wait: int) -> list[dict[str, Any]]:
    """One ``ReceiveMessage`` with the attributes every reader here needs; SQS's messages as they are."""
    with sqs_call("ReceiveMessage"):
        response = client.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=count,
            VisibilityTimeout=visibility,
            WaitTimeSeconds=wait,
            MessageSystemAttributeNames=SYSTEM_ATTRIBUTES,
            MessageAttributeNames=["All"],
        )
    messages: list[dict[str, Any]] = response.get("Messages", [])
    return messages
