"""The dev servers' log output: one writer thread, so request threads never wait on the terminal.

With a plain `logging.StreamHandler`, every request thread formats its line and then, holding
the handler's lock, writes and flushes it: one system call per line, during which the other
threads that want to log wait on the lock. `LineSink` formats a line in the thread that logs it
and hands it to one writer thread, which writes whatever lines are waiting in one write and one
flush. Lines keep their order; an idle server writes each line at once, a busy one in batches.
`close` (also run at exit) writes what is still waiting.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
from typing import TextIO

_STOP = None
"""Put on the queue by `LineSink.close`: the writer writes what came before it and ends."""


class LineSink(logging.Handler):
    """A logging handler that writes formatted lines to ``stream`` from one writer thread."""

    def __init__(self, stream: TextIO, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.stream = stream
        self._lines: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._closed = False
        self._writer = threading.Thread(target=self._write_lines, name="log-writer", daemon=True)
        self._writer.start()
        atexit.register(self.close)

    def emit(self, record: logging.LogRecord) -> None:
        if self._closed:
            return
        try:
            self._lines.put(self.format(record))
        except Exception:
            self.handleError(record)

    def _write_lines(self) -> None:
        lines = self._lines
        while True:
            batch = [lines.get()]
            while not lines.empty() and batch[-1] is not _STOP:
                batch.append(lines.get_nowait())
            stop = batch[-1] is _STOP
            text = "".join(f"{line}\n" for line in batch if line is not None)
            try:
                if text:
                    self.stream.write(text)
                    self.stream.flush()
            except (OSError, ValueError):  # the stream was closed or its reader went away
                pass
            if stop:
                return

    def close(self) -> None:
        """Write every line logged so far, then stop the writer (later lines are dropped)."""
        with self.lock if self.lock is not None else threading.Lock():
            if self._closed:
                return
            self._closed = True
        self._lines.put(_STOP)
        if self._writer is not threading.current_thread():
            self._writer.join(timeout=5)
        atexit.unregister(self.close)
        super().close()


def log_lines_to(stream: TextIO, level: int = logging.INFO) -> LineSink | None:
    """Send the root logger's records, as bare messages at ``level`` and above, to ``stream``
    through a `LineSink`: what ``logging.basicConfig(stream=stream, level=level,
    format="%(message)s")`` does, without a write per line under a lock. Like `basicConfig`,
    it does nothing (and returns None) when the root logger has a handler already."""
    root = logging.getLogger()
    if root.handlers:
        return None
    sink = LineSink(stream)
    sink.setFormatter(logging.Formatter("%(message)s"))
    root.addHandler(sink)
    root.setLevel(level)
    return sink
