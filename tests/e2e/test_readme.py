"""The README's curl examples work as printed: run them against a real server and check each answer."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import start_fast
from tests.e2e.server import PROJECT_DIR, LocalServer

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")]


def block_after(heading: str) -> str:
    readme = (PROJECT_DIR / "README.md").read_text()
    section = readme[readme.index(heading) :]
    return section[section.index("```sh\n") + 6 : section.index("\n```", section.index("```sh\n"))]


def run(script: str, port: int) -> str:
    script = script.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    done = subprocess.run(
        ["bash", "-e", "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    started = start_fast(tmp_path_factory.mktemp("readme"), worker="1")
    try:
        yield started
    finally:
        started.stop()


def test_the_walk_through_answers_as_documented(server: LocalServer) -> None:
    out = run(block_after("## A walk through the API"), server.port)
    statuses = [int(code) for code in re.findall(r"HTTP/1\.1 (\d{3}) ", out)]
    assert statuses == [201, 200, 201, 409, 201, 422, 201, 409, 400, 415, 404, 401, 200, 200]
    assert '"similarity":0.9' in out, "the draft finds batch formula A (Iris 2.5) at 2.5/2.6"
    assert "Idempotent-Replayed: true" in out
    assert '"status":"processed"' in out


def test_the_key_generator_command_works() -> None:
    page = (PROJECT_DIR / "docs" / "security.md").read_text()
    command = next(line for line in page.splitlines() if "chalicelib.security.apikeys" in line)
    out = run(f"cd {PROJECT_DIR} && {command.strip()}", 0)
    assert "FI_API_KEYS entry" in out


def test_the_readme_is_short_and_says_first_where_the_data_lives() -> None:
    readme = (PROJECT_DIR / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    headings = [line for line in readme.splitlines() if line.startswith("## ")]
    assert headings[0] == "## The two commands"
    summary = readme[: readme.index("## The two commands")]
    assert "in memory" in summary and "restart" in summary and "make run-aws-local" in summary


def test_every_page_the_readme_links_exists() -> None:
    readme = (PROJECT_DIR / "README.md").read_text()
    pages = set(re.findall(r"`(docs/[\w.-]+\.md)`", readme))
    assert pages and all((PROJECT_DIR / page).is_file() for page in pages), pages
