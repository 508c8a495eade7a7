"""Where the dev server's threads run: on one CPU by default (``--cpu``; ``make run SERVER_CPU=``).

The server is one Python process, so one interpreter lock: however many threads serve its
connections, one runs Python at a time, and each request hands the lock to another thread when it
waits for the network. When those threads sit on different CPUs, every hand-over wakes a thread on
another core, and the interpreter's state moves between the cores' caches with it. Kept on one
CPU, the threads hand the lock over where its state already is; the other CPUs stay free for the
clients, a worker process or the kernel. docs/devserver.md ("Threads on one CPU") gives the
figures; ``--cpu all`` (``make run SERVER_CPU=all``) leaves the threads to the kernel.

Threads inherit the CPU set of the thread that starts them, so `place` must run before the server
and the worker start any.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

AUTO = "auto"
ALL = "all"


class PlacementError(ValueError):
    """The chosen CPU cannot be used here; the message says why, in one line."""


def cpu_choice(text: str) -> str:
    """The ``--cpu`` option: "auto", "all", or the number of a CPU."""
    if text in (AUTO, ALL) or (text.isascii() and text.isdigit()):
        return text
    raise argparse.ArgumentTypeError(f"{text!r} is not auto, all or a CPU number")


def place(
    choice: str,
    *,
    can_pin: bool = hasattr(os, "sched_setaffinity"),
    allowed: Callable[[], set[int]] | None = None,
    restrict: Callable[[set[int]], None] | None = None,
    current: Callable[[], int | None] | None = None,
) -> int | None:
    """Keep this process's threads, and those it starts from now on, on one CPU; return it.

    ``choice`` is "all" (nothing changes; None), a CPU number (that CPU, which must be one this
    process may use) or "auto": the CPU this process runs on, if it may use more than one; None
    where there is only one or the platform cannot pin threads (only Linux can). Raises
    `PlacementError` for a CPU number that cannot be used. The keywords replace the platform's
    calls in tests.
    """
    if choice == ALL:
        return None
    if not can_pin:
        if choice == AUTO:
            return None
        raise PlacementError(f"cannot keep the server on CPU {choice}: only Linux pins threads (--cpu all)")
    cpus = (allowed or _allowed)()
    if choice == AUTO:
        if len(cpus) < 2:
            return None
        running_on = (current or _running_on)()
        cpu = running_on if running_on in cpus else min(cpus)
    else:
        cpu = int(choice)
        if cpu not in cpus:
            usable = ", ".join(str(c) for c in sorted(cpus))
            raise PlacementError(f"cannot keep the server on CPU {cpu}: this process may use CPU {usable}")
    (restrict or _restrict)({cpu})
    return cpu


def _allowed() -> set[int]:
    return set(os.sched_getaffinity(0))


def _restrict(cpus: set[int]) -> None:
    os.sched_setaffinity(0, cpus)


def _running_on() -> int | None:
    """The CPU this process last ran on (Linux: field 39 of /proc/self/stat), or None."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return int(fields[36])  # field 39, counted after the name (fields 1 and 2)
    except (OSError, IndexError, ValueError):
        return None
