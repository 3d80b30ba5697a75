"""The bundled axe-core script (``rules/axe.min.js``, MPL-2.0, notice in
``rules/LICENSES/axe-core.LICENSE``), written by ``scripts/update_rules.py`` from the pinned
npm package; read here and checked against the SHA-256 recorded beside it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache

from mailqa.core.errors import RulesError
from mailqa.rules import rules_file


@dataclass(frozen=True)
class AxeScript:
    version: str
    source: str


@cache
def axe_script() -> AxeScript:
    """The script and its version; ``RulesError`` when missing or not the recorded file."""
    try:
        meta = json.loads(rules_file("axe-core.json").read_text("utf-8"))
        data = rules_file("axe.min.js").read_bytes()
    except (OSError, ValueError) as exc:
        raise RulesError(f"axe-core data unreadable: {exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != meta.get("sha256"):
        raise RulesError(
            f"rules/axe.min.js has SHA-256 {digest}, rules/axe-core.json records "
            f"{meta.get('sha256')}: run scripts/update_rules.py"
        )
    return AxeScript(version=str(meta.get("package_version")), source=data.decode("utf-8"))
