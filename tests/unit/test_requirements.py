"""`make run` installs only requirements-serve.txt: serving must need nothing from the dev set."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-r"):
            names.add(re.split(r"[\[=<>~ ]", line, maxsplit=1)[0].lower())
    return names


def test_the_serve_set_is_the_runtime_set_plus_chalice_and_every_pin_is_exact() -> None:
    runtime = requirement_names(ROOT / "requirements.txt")
    serve = requirement_names(ROOT / "requirements-serve.txt")
    assert serve == {"chalice"}
    assert "-r requirements.txt" in (ROOT / "requirements-serve.txt").read_text()
    assert "-r requirements-serve.txt" in (ROOT / "requirements-dev.txt").read_text()
    for name in ("requirements.txt", "requirements-serve.txt", "requirements-dev.txt"):
        for line in (ROOT / name).read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            assert not line or line.startswith("-r") or "==" in line, f"{name}: {line} is not pinned"
    assert runtime >= {"boto3", "botocore"}


BLOCKER = """
import importlib.abc, sys
DEV = {names!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in DEV:
            raise ImportError(f"{{name}} is in the dev set, not in requirements-serve.txt")
        return None
sys.meta_path.insert(0, Block())
import json
from chalice.test import Client
import app, chalicelib.devserver
from chalicelib import bootstrap
from chalicelib.config import Settings
bootstrap.use(bootstrap.build(Settings(api_keys_json={keys!r})))
with Client(app.app, stage_name="local") as client:
    body = json.dumps({{"name": "x", "materials": [{{"name": "Rose", "concentration": "1.50"}}]}})
    answer = client.http.post("/formulas", body=body.encode(), headers={{
        "Content-Type": "application/json", "Authorization": "Bearer {key}"}})
    assert answer.status_code == 201, answer.body
    assert client.http.get("/openapi.json").status_code == 200
print("served")
"""


def test_serving_imports_nothing_from_the_dev_set() -> None:
    from tests.keys import ALL_ROLES_KEY, API_KEYS_JSON

    dev = {"pytest", "hypothesis", "moto", "ruff", "mypy", "schemathesis", "jsonschema"}
    dev |= {"openapi_spec_validator", "referencing", "cfnlint", "docker", "flask", "werkzeug"}
    script = BLOCKER.format(names=dev, keys=API_KEYS_JSON, key=ALL_ROLES_KEY)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("served")
