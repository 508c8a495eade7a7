"""Start and stop a real local server process on a free loopback port, and talk HTTP to it."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[2]
DEV_KEY = "fi_dev_AJXFxNZVk8mpp7g6UZd4BSs5o81Dq8Sx"
"""The local stage's documented development key (README); its hash is in .chalice/config.json."""
CHALICE = Path(sys.executable).with_name("chalice")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Reply:
    """One answer (from `LocalServer.request`, or read off a raw socket with lower-cased header names)."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class LocalServer:
    """A server process (``chalice local`` or the fast dev server) bound to 127.0.0.1.

    ``project_dir`` is the tree it serves (its working directory): this project by default, or
    another checkout of it, such as the baseline the benchmarks compare against.
    """

    kind: str = "fast"
    env: dict[str, str] = field(default_factory=dict)
    worker: str = "auto"
    args: list[str] = field(default_factory=list)
    """More options for the fast server (``--header-timeout 0.5``, ...)."""
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    project_dir: Path = PROJECT_DIR

    def start(self, log_dir: Path) -> LocalServer:
        self.port = free_port()
        listen = ["--host", "127.0.0.1", "--port", str(self.port), "--stage", "local"]
        if self.kind == "chalice":
            cmd = [str(CHALICE), "local", *listen, "--no-autoreload"]
        else:
            cmd = [sys.executable, "-m", "chalicelib.devserver", *listen, "--worker", self.worker, *self.args]
        self.log_path = log_dir / f"server-{self.kind}-{self.port}.log"
        env = {**server_environment(), "PYTHONUNBUFFERED": "1", **self.env}
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                cmd, cwd=self.project_dir, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if self.request("GET", "/health", timeout=1).status == 200:
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server did not become healthy:\n{self.log()}")

    def wait_for(self, predicate: Any, *, timeout: float = 30, interval: float = 0.05) -> Any:
        """Poll ``predicate`` until it returns something truthy (bounded); return that value."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                log = self.log()
                shown = log if len(log) <= 8000 else f"{log[:4000]}\n[...]\n{log[-4000:]}"
                raise AssertionError(f"condition not met within {timeout} s\n{shown}")
            time.sleep(interval)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        timeout: float = 30,
    ) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            all_headers = {
                "Content-Type": "application/json",
                "Authorization": f"Bearer {DEV_KEY}",
                **(headers or {}),
            }
            all_headers = {k: v for k, v in all_headers.items() if v is not None}
            payload = raw if raw is not None else (None if body is None else json.dumps(body).encode())
            conn.request(method, path, body=payload, headers=all_headers)
            response = conn.getresponse()
            return Reply(response.status, dict(response.getheaders()), response.read())
        finally:
            conn.close()


def exchange(port: int, data: bytes, *, timeout: float = 10, head: bool = False) -> tuple[list[Reply], bool]:
    """Send ``data`` as it is, read until the server closes; return the answers and whether it closed.

    Answers are split by their ``Content-Length`` (``head``: none carries a body), so a request
    smuggled in a body shows up as an extra answer.
    """
    received = b""
    closed = False
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        try:
            while chunk := sock.recv(65536):
                received += chunk
            closed = True
        except TimeoutError:
            pass
        except ConnectionResetError:
            closed = True
    return parse_replies(received, head=head), closed


def parse_replies(received: bytes, *, head: bool = False) -> list[Reply]:
    replies = []
    while received:
        head_end = received.index(b"\r\n\r\n")
        status_line, *lines = received[:head_end].decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            assert name.lower() not in headers, f"{name} twice in an answer"
            headers[name.lower()] = value.strip()
        length = 0 if head else int(headers.get("content-length", "0"))
        start = head_end + 4
        replies.append(Reply(int(status_line.split()[1]), headers, received[start : start + length]))
        received = received[start + length :]
    return replies


def threads_cpus(pid: int) -> list[set[int]]:
    """The CPU set of every thread of process ``pid`` (a thread that ends meanwhile is left out)."""
    cpus = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            cpus.append(os.sched_getaffinity(int(tid)))
        except ProcessLookupError:
            continue
    return cpus


def run_devserver(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m chalicelib.devserver ARGS`` to its end (for options it refuses at start)."""
    return subprocess.run(
        [sys.executable, "-m", "chalicelib.devserver", *args],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def server_environment() -> dict[str, str]:
    """This process's environment without the service's settings (``FI_...``): a server under
    test takes its settings from its stage and the test, never from the shell that ran pytest."""
    return {name: value for name, value in os.environ.items() if not name.startswith("FI_")}
