"""Which database the admin commands (``mailqa token ...``) use, said out loud: run from
another folder, the default ``./data`` is a different, new database."""

from __future__ import annotations

from pathlib import Path

import typer

from mailqa.cli.common import EXIT_USAGE
from mailqa.settings import Settings


def database_for_admin(settings: Settings, *, create: bool = False) -> str:
    """Print (on stderr) the database the command works on, and return it. A SQLite file
    that does not exist yet is made only with ``create`` or when its folder exists (a data
    dir chosen on purpose); otherwise this is a usage error."""
    from sqlalchemy.engine import make_url

    url = make_url(settings.effective_database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        shown = url.render_as_string(hide_password=True)
        typer.echo(f"database: {shown}", err=True)
        return shown
    path = Path(url.database).resolve()
    if not path.exists() and not create and not path.parent.is_dir():
        typer.echo(
            f"error: no mailqa database at {path}: run this where `mailqa serve` runs, or "
            "point at its data with --data-dir (MAILQA_DATA_DIR) or MAILQA_DATABASE_URL; "
            "--create makes a new database there",
            err=True,
        )
        raise typer.Exit(EXIT_USAGE)
    typer.echo(f"database: {path}" + ("" if path.exists() else " (new)"), err=True)
    return str(path)
