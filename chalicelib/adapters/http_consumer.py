"""The consumer HTTP API as a queue and a status sink, for a worker in another process.

`HttpConsumer` satisfies the consumer part of the queue port (receive, ack, change_visibility)
by calling ``/queue/*``, and is the worker's status sink too: it reports processing outcomes to
``/queue/formulas/{id}/status``. A delivery carries its formula's status, so a message costs a
share of one receive, one report and one ack; the status is asked for separately only for a
formula whose delivery did not say. Error bodies map back to the same domain errors the
in-process queue raises, so the worker cannot tell the difference.
"""

from __future__ import annotations

import http.client
import threading
import urllib.parse
from collections.abc import Sequence
from typing import Any

from chalicelib import errors, jsonio
from chalicelib.ports.queue import ReceivedMessage
from chalicelib.ports.store import FormulaLookup

_ERRORS: dict[str, type[errors.FormulaIntakeError]] = {
    "receipt_superseded": errors.ReceiptHandleSuperseded,
    "receipt_handle_not_found": errors.ReceiptHandleUnknown,
    "invalid_receipt_handle": errors.ReceiptHandleMalformed,
    "not_found": errors.NotFound,
}


class _Client:
    """One keep-alive connection per thread to the API."""

    def __init__(self, base_url: str, *, api_key: str | None = None, timeout: float = 60.0) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme != "http" or not parsed.hostname:
            raise ValueError(f"expected an http:// URL, got {base_url!r}")
        self._host = parsed.hostname
        self._port = parsed.port or 80
        self._prefix = parsed.path.rstrip("/")
        self._api_key = api_key
        self._timeout = timeout
        self._local = threading.local()

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        payload = None if body is None else jsonio.dumps(body).encode("utf-8")
        for attempt in (1, 2):
            conn = getattr(self._local, "conn", None)
            if conn is None:
                conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
                self._local.conn = conn
            try:
                conn.request(method, self._prefix + path, body=payload, headers=headers)
                response = conn.getresponse()
                raw = response.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise errors.InfrastructureError(f"{method} {path} failed: {exc}") from exc
                continue
            return response.status, (jsonio.loads(raw) if raw else None)
        raise AssertionError("unreachable")

    def expect(self, method: str, path: str, body: Any, ok: int) -> Any:
        status, doc = self.call(method, path, body)
        if status == ok:
            return doc
        error = doc.get("error", {}) if isinstance(doc, dict) else {}
        code, message = error.get("code", ""), error.get("message", f"HTTP {status}")
        raise _ERRORS.get(code, errors.InfrastructureError)(f"{method} {path}: {message}")


MAX_KNOWN_STATUSES = 10_000
"""Statuses remembered from deliveries not yet processed (a bound, not a cache size to tune)."""


class HttpConsumer:
    """Receive, ack and release messages, and report outcomes, through a running API."""

    def __init__(self, base_url: str, *, api_key: str | None = None) -> None:
        self._client = _Client(base_url, api_key=api_key)
        self._known: dict[tuple[str, str], str | None] = {}
        self._known_lock = threading.Lock()

    def receive(
        self, *, max_messages: int = 1, visibility_timeout: int = 30, wait_seconds: int = 0
    ) -> list[ReceivedMessage]:
        doc = self._client.expect(
            "POST",
            "/queue/receive",
            {
                "max_messages": max_messages,
                "visibility_timeout": visibility_timeout,
                "wait_seconds": wait_seconds,
            },
            200,
        )
        with self._known_lock:
            if len(self._known) > MAX_KNOWN_STATUSES:
                self._known.clear()
            for m in doc["messages"]:
                body = m.get("body")
                if "formula_status" in m and isinstance(body, dict):
                    self._known[(str(body.get("owner")), str(body.get("formula_id")))] = m["formula_status"]
        return [
            ReceivedMessage(
                message_id=m["message_id"],
                receipt_handle=m["receipt_handle"],
                receive_count=int(m["receive_count"]),
                sent_at=float(m.get("sent_at", 0)),
                first_received_at=float(m.get("first_received_at", 0)),
                body=m["body"],
            )
            for m in doc["messages"]
        ]

    def ack(self, receipt_handle: str) -> None:
        self._client.expect("POST", "/queue/ack", {"receipt_handle": receipt_handle}, 204)

    def ack_batch(self, receipt_handles: Sequence[str]) -> list[errors.FormulaIntakeError | None]:
        doc = self._client.expect("POST", "/queue/ack", {"receipt_handles": list(receipt_handles)}, 200)
        return [
            None
            if result["acked"]
            else _ERRORS.get(result["error"]["code"], errors.InfrastructureError)(result["error"]["message"])
            for result in doc["results"]
        ]

    def change_visibility(self, receipt_handle: str, seconds: int) -> None:
        self._client.expect(
            "POST", "/queue/nack", {"receipt_handle": receipt_handle, "delay_seconds": seconds}, 204
        )

    def _path(self, formula_id: str) -> str:
        return f"/queue/formulas/{urllib.parse.quote(formula_id, safe='')}/status"

    def lookup(self, owner: str, formula_id: str) -> FormulaLookup:
        with self._known_lock:
            known = self._known.pop((owner, formula_id), _UNKNOWN)
        if known is None:
            raise errors.NotFound(f"No formula {formula_id} for the message's owner.")
        if isinstance(known, str):
            return FormulaLookup(known == "processed")
        query = urllib.parse.urlencode({"owner": owner})
        doc = self._client.expect("GET", f"{self._path(formula_id)}?{query}", None, 200)
        return FormulaLookup(doc["status"] == "processed")

    def mark_processed(self, owner: str, formula_id: str, *, at: float, attempts: int) -> bool:
        doc = self._client.expect(
            "PUT", self._path(formula_id), {"owner": owner, "status": "processed", "attempts": attempts}, 200
        )
        return bool(doc["changed"])

    def mark_failed(self, owner: str, formula_id: str, *, error: str, at: float, attempts: int) -> bool:
        doc = self._client.expect(
            "PUT",
            self._path(formula_id),
            {"owner": owner, "status": "failed", "error": error, "attempts": attempts},
            200,
        )
        return bool(doc["changed"])


_UNKNOWN = object()
