"""What every ``mailqa`` command shares: exit codes and settings from command-line options.

The command modules import this, never ``cli.main``: main assembles the commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from mailqa.settings import Settings

EXIT_PASSED, EXIT_GATE_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


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
