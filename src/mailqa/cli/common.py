"""What every ``mailqa`` command shares: exit codes and settings from command-line options.

The command modules import this, never ``cli.main``: main assembles the commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from mailqa.settings import Settings

EXIT_PASSED, EXIT_GATE_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
# Standard output closed by its reader (``mailqa check | head``): 128 + SIGPIPE, the code of a
# program the signal ends, as the shell reports it.
EXIT_STDOUT_CLOSED = 141


def silence_closed_stdout() -> None:
    """After a ``BrokenPipeError`` on standard output: point it at the null device, so that
    neither this process nor the interpreter's last flush writes to the closed pipe again
    (which would print "Exception ignored ... BrokenPipeError")."""
    import os
    import sys

    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (captured in tests)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def settings_from_options(**overrides: object) -> Settings:
    """Settings from the environment, with the options given (not ``None``) on top; an
    invalid configuration is a usage error."""
    from mailqa.settings import Settings

    values = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**values)  # type: ignore[arg-type]
    except Exception as exc:
        typer.echo(f"error: invalid configuration: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from exc
