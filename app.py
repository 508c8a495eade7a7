"""formula-intake HTTP API (AWS Chalice). Routes only: parse, call the core, map errors."""

from __future__ import annotations

from chalice.app import Chalice, Response

from chalicelib.http.errors import api_view, normalize_chalice_errors
from chalicelib.http.responses import json_response

app = Chalice(app_name="formula-intake")
app.register_middleware(normalize_chalice_errors, "http")


@app.route("/health", methods=["GET"])
@api_view
def health() -> Response:
    return json_response(200, {"status": "ok"})
