"""POST /formulas: every row of the response table, through `chalice.test.Client`."""

from __future__ import annotations

import json
from decimal import Decimal

from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.clock import FakeClock
from tests.api.helpers import SUMMER_BREEZE, error_code, post
from tests.conftest import make_services, unique_formula
from tests.keys import KeyedClient
from tests.request_ids import is_request_id


def decimal_json(response: object) -> dict[str, object]:
    return json.loads(response.body, parse_float=Decimal)  # type: ignore[attr-defined]


def test_new_formula_is_201_with_resource_and_location(client: Client, services: bootstrap.Services) -> None:
    response = post(client, SUMMER_BREEZE)
    assert response.status_code == 201
    body = decimal_json(response)
    assert response.headers["Location"] == f"/formulas/{body['id']}"
    assert body["name"] == "Summer Breeze"
    assert body["materials"] == [
        {"name": "Bergamot Oil", "concentration": Decimal("15.5")},
        {"name": "Lavender Absolute", "concentration": Decimal("10.0")},
        {"name": "Sandalwood", "concentration": Decimal("5.2")},
    ]
    assert str(body["fingerprint"]).startswith("v2:")
    assert body["status"] == "queued"
    assert str(body["created_at"]).endswith("Z")
    assert body["message_id"] == f"evt_{body['id']}"
    assert services.queue.stats().ready == 1


def test_name_is_trimmed(client: Client) -> None:
    response = post(client, {**SUMMER_BREEZE, "name": "  Summer Breeze \t"})
    assert response.status_code == 201
    assert json.loads(response.body)["name"] == "Summer Breeze"


def test_same_make_up_is_409_with_existing_id_and_nothing_new(
    client: Client, services: bootstrap.Services
) -> None:
    first = post(client, SUMMER_BREEZE)
    reordered = {
        "name": "Another Name",
        "materials": [
            {"name": "sandalwood", "concentration": "5.20"},
            {"name": "  BERGAMOT   oil ", "concentration": 1.55e1},
            {"name": "Lavender Absolute", "concentration": 10},
        ],
    }
    second = post(client, reordered)
    assert second.status_code == 409
    assert error_code(second) == "duplicate_formula"
    existing_id = json.loads(first.body)["id"]
    assert json.loads(second.body)["error"]["existing_id"] == existing_id
    assert second.headers["Location"] == f"/formulas/{existing_id}"
    assert len(services.store) == 1  # type: ignore[arg-type]
    assert services.queue.stats().sent_total == 1


def test_duplicate_with_another_key_is_409(client: Client) -> None:
    assert post(client, SUMMER_BREEZE, key="k-1").status_code == 201
    second = post(client, SUMMER_BREEZE, key="k-2")
    assert second.status_code == 409
    assert error_code(second) == "duplicate_formula"


def test_same_name_different_make_up_is_allowed(client: Client) -> None:
    assert post(client, SUMMER_BREEZE).status_code == 201
    other = {"name": "Summer Breeze", "materials": [{"name": "Bergamot Oil", "concentration": 15.6}]}
    assert post(client, other).status_code == 201


def test_replay_returns_the_original_answer(
    client: Client, services: bootstrap.Services, clock: FakeClock
) -> None:
    first = post(client, SUMMER_BREEZE, key="retry-me")
    clock.advance(60)
    again = post(client, SUMMER_BREEZE, key="retry-me")
    assert again.status_code == first.status_code == 201
    assert again.body == first.body
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(services.store) == 1  # type: ignore[arg-type]
    assert services.queue.stats().sent_total == 1


def test_the_idempotency_key_header_name_is_case_insensitive(
    client: Client, services: bootstrap.Services
) -> None:
    """Read from the lower-cased header dict (`middleware.header_map`), whatever case was sent."""
    body = json.dumps(SUMMER_BREEZE)
    json_type = {"Content-Type": "application/json"}
    first = client.http.post("/formulas", body=body, headers={**json_type, "IDEMPOTENCY-KEY": "shouted"})
    again = client.http.post("/formulas", body=body, headers={**json_type, "idempotency-key": "shouted"})
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert services.queue.stats().sent_total == 1


def test_same_key_different_body_is_422(client: Client, services: bootstrap.Services) -> None:
    assert post(client, SUMMER_BREEZE, key="k").status_code == 201
    reused = post(client, unique_formula(), key="k")
    assert reused.status_code == 422
    assert error_code(reused) == "idempotency_key_reused"
    assert len(services.store) == 1  # type: ignore[arg-type]


def test_same_key_while_in_flight_is_409_with_retry_after(
    client: Client, services: bootstrap.Services
) -> None:
    from chalicelib.domain import parse_request_body
    from chalicelib.services.submission import request_hash

    submission = parse_request_body(json.dumps(SUMMER_BREEZE).encode())
    services.idempotency.begin(
        "default", "busy", request_hash(submission), now=services.clock(), lock_seconds=60
    )
    response = post(client, SUMMER_BREEZE, key="busy")
    assert response.status_code == 409
    assert error_code(response) == "request_in_progress"
    assert int(response.headers["Retry-After"]) >= 1
    assert len(services.store) == 0  # type: ignore[arg-type]


def test_abandoned_in_flight_key_is_taken_over_after_its_lock_period(
    client: Client, services: bootstrap.Services, clock: FakeClock
) -> None:
    from chalicelib.domain import parse_request_body
    from chalicelib.services.submission import request_hash

    submission = parse_request_body(json.dumps(SUMMER_BREEZE).encode())
    services.idempotency.begin("default", "crashed", request_hash(submission), now=clock(), lock_seconds=60)
    clock.advance(61)
    assert post(client, SUMMER_BREEZE, key="crashed").status_code == 201


def test_keys_expire_after_their_ttl(client: Client, clock: FakeClock) -> None:
    assert post(client, SUMMER_BREEZE, key="old").status_code == 201
    clock.advance(24 * 3600 - 1)
    assert post(client, unique_formula(), key="old").status_code == 422
    clock.advance(2)
    assert post(client, unique_formula(), key="old").status_code == 201


def test_validation_failures_are_not_stored_under_the_key(client: Client) -> None:
    bad = post(client, {"name": "", "materials": []}, key="fix-and-retry")
    assert bad.status_code == 400
    assert post(client, SUMMER_BREEZE, key="fix-and-retry").status_code == 201


def test_conflicts_are_not_stored_under_the_key(client: Client) -> None:
    assert post(client, SUMMER_BREEZE).status_code == 201
    assert post(client, SUMMER_BREEZE, key="k").status_code == 409
    assert post(client, unique_formula(), key="k").status_code == 201


def test_idempotency_key_format(client: Client) -> None:
    for bad in ["x" * 256, "with space", "caf\u00e9", ""]:
        response = client.http.post(
            "/formulas",
            body=json.dumps(SUMMER_BREEZE).encode(),
            headers={"Content-Type": "application/json", "Idempotency-Key": bad},
        )
        assert response.status_code == 400, bad
        assert json.loads(response.body)["error"]["details"][0]["field"] == "Idempotency-Key"
    assert post(client, SUMMER_BREEZE, key="k" * 255).status_code == 201


def test_stage_can_require_the_key(clock: FakeClock) -> None:

    old = bootstrap.use(make_services(clock, require_idempotency_key=True))
    try:
        with KeyedClient() as client:
            missing = post(client, SUMMER_BREEZE)
            assert missing.status_code == 400
            assert json.loads(missing.body)["error"]["details"][0]["field"] == "Idempotency-Key"
            assert post(client, SUMMER_BREEZE, key="present").status_code == 201
    finally:
        bootstrap.use(old)


def test_batch_of_new_formulas(client: Client, services: bootstrap.Services) -> None:
    batch = [unique_formula(f"F{i}") for i in range(5)]
    response = post(client, batch)
    assert response.status_code == 201
    body = json.loads(response.body)
    assert [f["name"] for f in body["formulas"]] == [f"F{i}" for i in range(5)]
    assert "Location" not in response.headers
    assert services.queue.stats().ready == 5
    ids = [f["id"] for f in body["formulas"]]
    assert ids == sorted(ids)


def test_batch_with_an_invalid_item_stores_nothing(client: Client, services: bootstrap.Services) -> None:
    batch = [unique_formula() for _ in range(3)] + [
        {"name": "x", "materials": [{"name": " ", "concentration": 1}]}
    ]
    response = post(client, batch)
    assert response.status_code == 400
    fields = [d["field"] for d in json.loads(response.body)["error"]["details"]]
    assert "[3].materials[0].name" in fields
    assert len(services.store) == 0  # type: ignore[arg-type]
    assert services.queue.stats().sent_total == 0


def test_batch_with_duplicates_lists_each_conflict(client: Client, services: bootstrap.Services) -> None:
    stored = post(client, SUMMER_BREEZE)
    twin = unique_formula()
    batch = [unique_formula(), SUMMER_BREEZE, twin, {**twin, "name": "twin"}]
    response = post(client, batch)
    assert response.status_code == 409
    assert error_code(response) == "duplicate_formula"
    conflicts = json.loads(response.body)["error"]["conflicts"]
    assert {"index": 3, "duplicate_of_index": 2}.items() <= conflicts[0].items()
    response = post(client, [unique_formula(), SUMMER_BREEZE])
    conflicts = json.loads(response.body)["error"]["conflicts"]
    assert conflicts == [
        {"index": 1, "existing_id": json.loads(stored.body)["id"], "fingerprint": conflicts[0]["fingerprint"]}
    ]
    assert len(services.store) == 1  # type: ignore[arg-type]
    assert services.queue.stats().sent_total == 1


def test_queue_full_is_503_and_stores_nothing(clock: FakeClock) -> None:

    services = make_services(clock, queue_capacity=2)
    old = bootstrap.use(services)
    try:
        with KeyedClient() as client:
            assert post(client, [unique_formula(), unique_formula()]).status_code == 201
            full = post(client, SUMMER_BREEZE, key="later")
            assert full.status_code == 503
            assert error_code(full) == "queue_full"
            assert int(full.headers["Retry-After"]) >= 1
            assert len(services.store) == 2  # type: ignore[arg-type]
            message = services.queue.receive()[0]
            services.queue.ack(message.receipt_handle)
            assert post(client, SUMMER_BREEZE, key="later").status_code == 201
    finally:
        bootstrap.use(old)


def test_unexpected_errors_are_500_with_request_id_and_no_traceback(
    client: Client, services: bootstrap.Services
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    services.store.commit_submission = explode  # type: ignore[method-assign]
    response = post(client, SUMMER_BREEZE)
    assert response.status_code == 500
    error = json.loads(response.body)["error"]
    assert error["code"] == "internal_error"
    assert is_request_id(error["request_id"])
    assert b"secret" not in response.body and b"Traceback" not in response.body


def test_exact_decimals_round_trip_through_post_get_and_message(
    client: Client, services: bootstrap.Services
) -> None:
    digits = "12.34567890123456789012345"
    raw = (
        '{"name": "Precise", "materials": [{"name": "Iso E Super", "concentration": ' + digits + "}]}"
    ).encode()
    created = post(client, None, raw=raw)
    assert created.status_code == 201
    assert digits.encode() in created.body
    formula_id = json.loads(created.body)["id"]
    fetched = client.http.get(f"/formulas/{formula_id}")
    assert json.loads(fetched.body, parse_float=Decimal)["materials"][0]["concentration"] == Decimal(digits)
    assert digits.encode() in fetched.body
    message = services.queue.receive()[0]
    assert message.body["materials"][0]["concentration"] == Decimal(digits)
    assert str(message.body["materials"][0]["concentration"]) == digits


def test_invisible_characters_do_not_make_a_new_make_up_and_the_name_is_echoed_as_sent(
    client: Client,
) -> None:
    first = post(client, {"name": "Plain", "materials": [{"name": "Rose", "concentration": "10"}]})
    assert first.status_code == 201
    for invisible in ("\u034f", "\ufe0f", "\u3164", "\u2800", "\u200d"):
        name = "Ro" + invisible + "se" if invisible == "\u200d" else "Rose" + invisible
        again = post(client, {"name": "Hidden", "materials": [{"name": name, "concentration": "10.0"}]})
        assert again.status_code == 409, repr(invisible)
        assert error_code(again) == "duplicate_formula"
    other = post(client, {"name": "Other", "materials": [{"name": "Rose\u3164 oil", "concentration": "1"}]})
    assert other.status_code == 201
    assert json.loads(other.body)["materials"][0]["name"] == "Rose\u3164 oil"


def test_a_name_that_is_only_invisible_characters_is_400_naming_the_field(client: Client) -> None:
    response = post(client, {"name": "\u3164", "materials": [{"name": "\u2800\u200d", "concentration": "1"}]})
    assert response.status_code == 400
    fields = {d["field"]: d["message"] for d in json.loads(response.body)["error"]["details"]}
    assert set(fields) == {"name", "materials[0].name"}
    assert all(message.startswith("must contain a visible character") for message in fields.values())


def test_typographic_quotes_and_dashes_do_not_make_a_new_make_up(client: Client) -> None:
    def doc(jasmin: str, aldehyde: str) -> dict[str, object]:
        return {
            "name": "Pasted",
            "materials": [{"name": jasmin, "concentration": "2"}, {"name": aldehyde, "concentration": "1"}],
        }

    assert post(client, doc("Jasmin d'Inde", "C-12")).status_code == 201
    for jasmin, aldehyde in [("Jasmin d\u2019Inde", "C\u201312"), ("Jasmin d'Inde", "C\u201112")]:
        again = post(client, doc(jasmin, aldehyde))
        assert again.status_code == 409
        assert error_code(again) == "duplicate_formula"
