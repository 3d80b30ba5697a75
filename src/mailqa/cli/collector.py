"""The cycle collector paused while ``mailqa check`` starts and resumed after its first file
(the fast entry pauses it, the runner resumes it)."""

from __future__ import annotations

import gc

_collector_paused = False


def pause_collector() -> None:
    """Turn the cycle collector off for the start-up: imports and the rules data allocate
    several hundred thousand objects and free almost none, and the collector would scan
    them over and over (a third of the start-up time). ``resume_collector`` turns it back
    on once the first file is checked."""
    global _collector_paused
    if gc.isenabled():
        gc.disable()
        _collector_paused = True


def resume_collector() -> None:
    """After ``pause_collector``: set what start-up allocated aside for good (the collector
    never scans it again; forked workers share it) and collect as usual from here on."""
    global _collector_paused
    if _collector_paused:
        _collector_paused = False
        gc.freeze()
        gc.enable()
