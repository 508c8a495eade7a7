"""`make run AUTORELOAD=1`: the fast server restarts when the app's code changes, like `chalice local`."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.server import DEV_KEY, PROJECT_DIR, LocalServer, free_port

pytestmark = pytest.mark.e2e


def test_a_changed_app_is_reloaded(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(PROJECT_DIR / "app.py", project / "app.py")
    shutil.copytree(
        PROJECT_DIR / ".chalice", project / ".chalice", ignore=shutil.ignore_patterns("deployments")
    )
    server = LocalServer(port=free_port())
    log = (tmp_path / "server.log").open("wb")
    cmd = [
        sys.executable,
        "-m",
        "chalicelib.devserver",
        "--port",
        str(server.port),
        "--worker",
        "0",
        "--project-dir",
        str(project),
        "--autoreload",
    ]
    process = subprocess.Popen(
        cmd, cwd=PROJECT_DIR, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    server.process, server.log_path = process, tmp_path / "server.log"
    try:
        server.wait_for(lambda: _status(server, "/health") == 200)
        assert _status(server, "/reloaded") == 404
        time.sleep(1.1)  # a later mtime than the copy, for the stat-based watcher
        with (project / "app.py").open("a") as app:
            app.write(
                '\n\n@app.route("/reloaded", methods=["GET"])\ndef reloaded() -> dict[str, bool]:\n'
                '    return {"reloaded": True}\n'
            )
        # The new route is served; it is missing from the role policy, so it fails closed (403).
        server.wait_for(lambda: _status(server, "/reloaded") == 403, interval=0.25)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
        log.close()


def _status(server: LocalServer, path: str) -> int | None:
    try:
        return server.request("GET", path, headers={"Authorization": f"Bearer {DEV_KEY}"}, timeout=2).status
    except OSError:
        return None
