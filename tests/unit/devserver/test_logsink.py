"""The dev servers' log sink: every line written, in order, by one writer thread."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator

import pytest

from chalicelib.devserver.logsink import LineSink, log_lines_to


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger("tests.logsink")
    log.propagate = False
    log.setLevel(logging.INFO)
    try:
        yield log
    finally:
        for handler in list(log.handlers):
            log.removeHandler(handler)
        log.propagate = True


def test_lines_from_many_threads_are_all_written_each_thread_in_order(logger: logging.Logger) -> None:
    stream = io.StringIO()
    sink = LineSink(stream)
    sink.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(sink)

    def log_lines(thread: int) -> None:
        for n in range(500):
            logger.info("%d %d", thread, n)

    threads = [threading.Thread(target=log_lines, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sink.close()  # writes what is still waiting
    lines = stream.getvalue().splitlines()
    assert len(lines) == 8 * 500
    for t in range(8):
        assert [int(line.split()[1]) for line in lines if line.split()[0] == str(t)] == list(range(500))


def test_a_line_logged_after_close_is_dropped_and_close_is_idempotent(logger: logging.Logger) -> None:
    stream = io.StringIO()
    sink = LineSink(stream)
    logger.addHandler(sink)
    logger.info("before")
    sink.close()
    logger.info("after")
    sink.close()
    assert stream.getvalue() == "before\n"


def test_a_closed_stream_does_not_stop_the_server(logger: logging.Logger) -> None:
    stream = io.StringIO()
    sink = LineSink(stream)
    logger.addHandler(sink)
    stream.close()
    logger.info("nowhere to go")
    sink.close()  # returns: the writer ended without raising


def test_log_lines_to_is_a_no_op_when_the_root_logger_has_a_handler() -> None:
    root = logging.getLogger()
    assert root.handlers  # pytest's capture handler
    assert log_lines_to(io.StringIO()) is None


def test_log_lines_to_sends_bare_messages_at_info_and_above() -> None:
    root = logging.getLogger()
    saved, saved_level = root.handlers[:], root.level
    root.handlers.clear()
    stream = io.StringIO()
    try:
        sink = log_lines_to(stream)
        assert sink is not None
        logging.getLogger("tests.logsink.root").debug("hidden")
        logging.getLogger("tests.logsink.root").info('{"event": "request"}')
        sink.close()
    finally:
        root.handlers[:] = saved
        root.setLevel(saved_level)
    assert stream.getvalue() == '{"event": "request"}\n'
