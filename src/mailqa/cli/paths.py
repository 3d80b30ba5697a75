"""Path arguments to files: directories, globs, ``-`` for stdin; path globs for config keys.

Path globs follow the gitignore habit: ``*`` stays within one folder, ``**`` crosses
folders, and a pattern without ``/`` matches the file name in any folder.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

from mailqa.core.errors import ConfigError

CHECKABLE_SUFFIXES = frozenset({".html", ".htm", ".eml"})
STDIN = "-"
_GLOB_CHARS = frozenset("*?[")


@cache
def _glob_regex(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


def path_matches(relative_posix: str, pattern: str) -> bool:
    """Whether a path (relative, with ``/``) matches a gitignore-style glob.

    ``legacy/`` matches files under any folder named legacy; ``*.draft.html`` matches that
    file name in any folder; a pattern with an inner ``/`` is anchored at the root.
    """
    pattern = pattern.strip().removeprefix("./")
    folder_only = pattern.endswith("/")
    body = pattern.rstrip("/")
    if "/" not in body:
        parts = relative_posix.split("/")
        names = parts[:-1] if folder_only else parts
        regex = _glob_regex(body)
        return any(regex.match(name) for name in names)
    if folder_only:
        body += "/**"
    return _glob_regex(body.lstrip("/")).match(relative_posix) is not None


def relative_to(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` with ``/`` separators (``../`` when outside it)."""
    try:
        return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(root))).as_posix()
    except ValueError:  # another drive
        return Path(os.path.abspath(path)).as_posix()


def ci_path(path: str, workspace: str | None = None) -> str:
    """A checked file's name for CI annotations and code scanning, which want it relative to
    the repository: relative to ``workspace`` (default ``$GITHUB_WORKSPACE``) when that is set
    and holds the file, else ``path`` as given (relative to the working directory)."""
    if path == "<stdin>":
        return path
    root = workspace if workspace is not None else os.environ.get("GITHUB_WORKSPACE", "")
    if root:
        inside = relative_to(Path(path), Path(root))
        if inside != ".." and not inside.startswith(("../", "/")) and ":" not in inside[:2]:
            return inside
    return path


def _walk(folder: Path) -> list[Path]:
    """Checkable files under ``folder``, skipping hidden folders, in a stable order."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if Path(name).suffix.lower() in CHECKABLE_SUFFIXES:
                found.append(Path(dirpath) / name)
    return found


def expand_paths(
    arguments: Sequence[str], *, exclude: Iterable[str] = (), root: Path | None = None
) -> list[str]:
    """Files to check, in argument order, without duplicates; ``-`` stays as is.

    A missing path or a glob matching nothing is a ``ConfigError`` (a usage error).
    ``exclude`` globs are matched against paths relative to ``root``.
    """
    root = Path(os.path.abspath(root or Path.cwd()))
    excludes = [p for p in exclude if p.strip()]
    files: list[str] = []
    seen: set[str] = set()

    def add(path: Path) -> None:
        key = os.path.normpath(path.absolute())
        if key in seen:
            return
        if excludes and any(path_matches(relative_to(path, root), p) for p in excludes):
            return
        seen.add(key)
        files.append(str(path))

    stdin_used = False
    for arg in arguments:
        if arg == STDIN:
            if stdin_used:
                raise ConfigError("'-' (stdin) can be given only once")
            stdin_used = True
            files.append(STDIN)
            continue
        path = Path(arg)
        if path.is_dir():
            for f in _walk(path):
                add(f)
        elif path.is_file():
            add(path)
        elif _GLOB_CHARS & set(arg):
            matches = sorted(glob.glob(arg, recursive=True))
            if not matches:
                raise ConfigError(f"no files match {arg!r}")
            for m in matches:
                mp = Path(m)
                if mp.is_dir():
                    for f in _walk(mp):
                        add(f)
                elif mp.suffix.lower() in CHECKABLE_SUFFIXES:
                    add(mp)
        else:
            raise ConfigError(f"no such file or directory: {arg}")
    return files


__all__ = [
    "CHECKABLE_SUFFIXES",
    "STDIN",
    "ci_path",
    "expand_paths",
    "path_matches",
    "relative_to",
]
