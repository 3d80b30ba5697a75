"""The ``mailqa`` console script.

``mailqa check`` is the CI gate, started once per commit and often on one template, so its
start-up is most of its time. Without ``--help`` it is parsed by the same Typer definition
as in the full application, but alone (not the server, worker and audit commands) and with
Typer's rich formatting left unloaded; a usage error is still shown as Typer shows it
(rich is loaded then). Help, and every other command, run the full application
(``mailqa.cli.main``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from mailqa.cli.collector import pause_collector


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["check"] and _plain_check(args[1:]):
        run_check_command(args[1:])
    from mailqa.cli.main import app

    app()


def _plain_check(args: Sequence[str]) -> bool:
    """Whether the check command can run alone: no help asked for, no shell completion."""
    return "--help" not in args and not any(k.endswith("_COMPLETE") for k in os.environ)


def run_check_command(args: Sequence[str]) -> NoReturn:
    """``mailqa check ARGS``: run it, show a usage error as Typer does, exit with its code."""
    pause_collector()
    _import_typer_without_rich()
    import click
    import typer
    import typer.main

    from mailqa.cli.check_cmd import check

    alone = typer.Typer(add_completion=False)
    alone.command("check")(check)
    command = typer.main.get_command(alone)
    prog_name = f"{click.utils._detect_program_name()} check"
    try:
        result = command.main(args=list(args), prog_name=prog_name, standalone_mode=False)
    except click.ClickException as exc:
        from typer import rich_utils

        rich_utils.rich_format_error(exc)
        sys.exit(exc.exit_code)
    except click.Abort:
        from typer import rich_utils

        rich_utils.rich_abort_error()
        sys.exit(1)
    sys.exit(result if isinstance(result, int) else 0)


def _import_typer_without_rich() -> None:
    """Import Typer as if rich were not installed (it then formats with click alone and
    does not import rich, markdown and pygments on start-up); rich stays importable."""
    if "typer" in sys.modules or "rich" in sys.modules:
        return
    sys.modules["rich"] = None  # type: ignore[assignment]  # "import rich" fails
    try:
        import typer  # noqa: F401
    finally:
        if sys.modules.get("rich", "") is None:
            del sys.modules["rich"]
