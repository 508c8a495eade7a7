"""Processing steps for end-to-end tests, loaded by the server or worker through FI_WORKER_PLUGINS.

The formula's name picks the behaviour, so a test controls processing from the outside:

- ``flaky-...``: fails on the first two deliveries, succeeds on the third;
- ``broken-...``: fails until the file named by FI_TEST_FIX_FILE exists (the "fix");
- ``slow-...``: on its first delivery writes ``started-<formula_id>`` into FI_TEST_MARKER_DIR and
  then works for 3 seconds (so a test can stop or kill the worker mid-message).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from chalicelib.services.processing import HandlerRegistry, ProcessingContext


def register(registry: HandlerRegistry) -> None:
    registry.step("formula.submitted")(behave)


def behave(message: dict[str, Any], context: ProcessingContext) -> None:
    name = str(message.get("name", ""))
    if name.startswith("flaky-") and context.receive_count < 3:
        raise RuntimeError(f"flaky failure on delivery {context.receive_count}")
    if name.startswith("broken-") and not Path(os.environ["FI_TEST_FIX_FILE"]).exists():
        raise RuntimeError("the handler is broken")
    if name.startswith("slow-") and context.receive_count == 1:
        marker_dir = Path(os.environ["FI_TEST_MARKER_DIR"])
        (marker_dir / f"started-{message['formula_id']}").write_text(str(os.getpid()))
        time.sleep(3)
