"""The rules data in a prebuilt form: the validated objects, pickled, read back in a few
milliseconds instead of parsing and validating the JSON and YAML files on every start.

An entry is keyed by a hash of the source files it was built from, of the code that reads
them (the models and the validation) and of the Python and pydantic versions: when the data
changes (``scripts/update_rules.py`` writing a new ``caniemail.json``, an edit to
``impact.yaml``) or the code does, the key changes, the sources are read and validated
again and the new entry replaces the old one. Entries live beside the package's bytecode
(``mailqa/rules/__pycache__``), or in the user's cache folder when that is read-only; when
neither can be written the data is simply read from the sources each time.

    python -c "from mailqa.rules.warm import warm; warm()"   # build the entries now
"""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

FORMAT = 1
"""Bump when the layout of an entry changes."""
SUFFIX = ".pickle"


def cache_dirs() -> list[Path]:
    """Where entries are looked for, and written to the first that can be written."""
    folders = [Path(__file__).resolve().parent / "__pycache__"]
    try:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    except RuntimeError:  # no home folder
        return folders
    return [*folders, Path(base) / "mailqa"]


def cache_key(sources: Iterable[Path], code: Iterable[Path]) -> str:
    """The hash an entry built from ``sources`` by ``code`` is stored under."""
    from pydantic.version import VERSION as PYDANTIC_VERSION

    key = hashlib.sha256(f"{FORMAT}\0{sys.version}\0{PYDANTIC_VERSION}".encode())
    for path in (*sources, *code, Path(__file__)):
        # The content, not the modification time: a copy or a checkout keeps its entry, and
        # an edit within the same clock tick still counts (1.4 MB hash in about a ms).
        key.update(b"\0" + path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return key.hexdigest()[:32]


def load_cached(
    name: str,
    sources: Sequence[Path],
    code: Sequence[Path],
    build: Callable[[], T],
    kind: type[T],
) -> T:
    """The object ``build`` makes from ``sources``, from its cache entry when one is fresh;
    otherwise built, then stored for the next start. ``build`` raising (invalid data)
    stores nothing."""
    try:
        key = cache_key(sources, code)
    except OSError:  # a source is missing: let build say so
        return build()
    entry = f"{name}-{key}{SUFFIX}"
    for folder in cache_dirs():
        try:
            data = (folder / entry).read_bytes()
        except OSError:
            continue
        try:
            value = _unpickle(data)
        except Exception:  # a damaged or outdated entry: rebuilt and replaced below
            break
        if isinstance(value, kind):
            return value
        break
    value = build()
    store(name, entry, value)
    return value


def _unpickle(data: bytes) -> object:
    """``pickle.loads`` without the cycle collector, which would otherwise run many times over
    the tens of thousands of objects it creates (none of them garbage): three times quicker."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return pickle.loads(data)
    finally:
        if enabled:
            gc.enable()


def store(name: str, entry: str, value: object) -> Path | None:
    """Write the entry (atomically) to the first folder that takes it and remove that
    folder's older entries of ``name``; None when no folder can be written."""
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    for folder in cache_dirs():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            handle, temp = tempfile.mkstemp(dir=folder, prefix=f".{name}-", suffix=".tmp")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                os.chmod(temp, 0o644)  # public data, like the bytecode beside it
                os.replace(temp, folder / entry)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
        except OSError:
            continue
        for old in folder.glob(f"{name}-*{SUFFIX}"):
            if old.name != entry:
                old.unlink(missing_ok=True)
        return folder / entry
    return None
