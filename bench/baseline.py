"""A baseline to measure beside the current tree: a revision checked out into a temporary worktree.

The checkout is a detached `git worktree` under a temporary directory, served with the same
virtualenv as the current tree, and removed (with its git bookkeeping) when the run ends.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _git(project_dir: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=project_dir, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def resolve(project_dir: Path, rev: str) -> str:
    """The full commit hash ``rev`` names, or a one-line refusal."""
    try:
        return _git(project_dir, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    except SystemExit:
        raise SystemExit(f"no commit {rev!r} in {project_dir}") from None


@contextmanager
def checkout(project_dir: Path, rev: str) -> Iterator[Path]:
    """Yield a directory holding ``rev`` of the repository at ``project_dir``; remove it afterwards."""
    commit = resolve(project_dir, rev)
    parent = Path(tempfile.mkdtemp(prefix="bench-baseline-"))
    tree = parent / commit[:12]
    try:
        _git(project_dir, "worktree", "add", "--detach", "--quiet", str(tree), commit)
        yield tree
    finally:
        if tree.exists():
            _git(project_dir, "worktree", "remove", "--force", str(tree))
        shutil.rmtree(parent, ignore_errors=True)
