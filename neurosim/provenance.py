"""Provenance of every result neurosim writes, and the one writer of JSON result files.

Every JSON result (a sweep's ``sweep.json``, ``neurosim evaluate --json``, an
in-situ run's ``run.json``, ``neurosim snn`` and ``neurosim logic`` output)
carries the same provenance keys (:data:`PROVENANCE_KEYS`):

- ``config``: the resolved configuration (dataclasses by :func:`~neurosim.serial.to_plain`);
- ``seed``: the seed the run was given;
- ``versions``: Python and the packages that decide the numbers;
- ``git_revision``: ``HEAD`` of the git repository that holds the *neurosim
  source tree that ran* (the folder of the imported ``neurosim`` package), not
  of the current working directory: results are usually written outside the
  repository, and what matters is which code produced them. ``None`` when the
  package is not in a git checkout, or git is missing, or the repository
  around it does not track it (an installed, non-editable package in a
  ``site-packages`` that happens to lie inside some other repository, such as a
  virtual environment in a project folder: that repository's commit says
  nothing about the code);
- ``git_dirty``: ``True`` when tracked files of that repository differ from
  ``HEAD`` (uncommitted changes, so the revision alone does not reproduce the
  run), ``False`` when clean, ``None`` when there is no revision;
- ``platform``: the operating system and machine.
"""

import importlib.metadata as md
import json
import platform
import subprocess
from functools import lru_cache
from pathlib import Path

from neurosim.files import write_atomic
from neurosim.serial import to_plain

#: The packages whose versions are recorded.
PACKAGES = ("neurosim", "numpy", "scipy", "numba", "brian2", "matplotlib")
#: The keys :func:`provenance` adds to a result.
PROVENANCE_KEYS = ("config", "seed", "versions", "git_revision", "git_dirty", "platform")


def source_root() -> Path:
    """The folder of the imported ``neurosim`` package (whose repository gives the git revision)."""
    return Path(__file__).resolve().parent


def _git(args, cwd: Path) -> str | None:
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, cwd=cwd, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def git_state(path=None) -> dict:
    """``{"git_revision": HEAD or None, "git_dirty": bool or None}`` of the repository holding ``path``.

    ``path`` defaults to :func:`source_root`. The repository must track files
    in that folder, else both are None (see the module docstring). Dirty means a tracked file is
    modified, staged or deleted (untracked files, such as result folders, do
    not count).
    """
    cwd = Path(path) if path is not None else source_root()
    if not (_git(["ls-files", "--", "."], cwd) or "").strip():
        return {"git_revision": None, "git_dirty": None}  # no repository, or one that does not track this folder
    revision = _git(["rev-parse", "HEAD"], cwd)
    revision = revision.strip() if revision else None
    if not revision:
        return {"git_revision": None, "git_dirty": None}
    status = _git(["status", "--porcelain", "--untracked-files=no"], cwd)
    return {"git_revision": revision, "git_dirty": None if status is None else bool(status.strip())}


@lru_cache(maxsize=1)
def versions() -> dict:
    """Python's version and those of :data:`PACKAGES` (None where not installed)."""
    out = {"python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


def provenance(*, config=None, seed=None) -> dict:
    """The provenance keys (see the module docstring) for a run of ``config`` with ``seed``."""
    return {
        "config": to_plain(config),
        "seed": to_plain(seed),
        "versions": versions(),
        **git_state(),
        "platform": platform.platform(),
    }


def with_provenance(result: dict, *, config=None, seed=None) -> dict:
    """``result`` (plain values) followed by the provenance keys; those replace same-named result keys."""
    return {**to_plain(result), **provenance(config=config, seed=seed)}


def json_text(obj) -> str:
    """``obj`` as indented JSON (values by :func:`~neurosim.serial.to_plain`; paths and other objects as text)."""
    return json.dumps(to_plain(obj), indent=1, default=str) + "\n"


def write_json(path, obj) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically (a reader never sees a partial file)."""
    text = json_text(obj).encode()
    return write_atomic(path, lambda handle: handle.write(text))


def write_result(path, result: dict, *, config=None, seed=None) -> Path:
    """Write ``result`` with its provenance (:func:`with_provenance`) as JSON to ``path``, atomically."""
    return write_json(path, with_provenance(result, config=config, seed=seed))
