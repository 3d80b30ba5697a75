"""Build the prebuilt entries of all the bundled rules data ahead of a first run (an image
build, an install): ``python -c "from mailqa.rules.warm import warm; warm()"``."""

from __future__ import annotations


def warm() -> None:
    """Build (or check) the entries of all the bundled rules data."""
    from mailqa.rules.caniemail import load_clients, load_rules
    from mailqa.rules.impact import load_impact

    load_rules()
    load_clients()
    load_impact()
