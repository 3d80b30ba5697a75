"""``mailqa worker``: a Celery worker that runs analyses and audit tasks."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from mailqa.cli.common import EXIT_USAGE, settings_from_options


def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency", "-c", help="Worker processes [env MAILQA_WORKER_CONCURRENCY]."
        ),
    ] = None,
    broker_url: Annotated[
        str | None, typer.Option(help="Broker URL [env MAILQA_BROKER_URL].")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="Database URL [env MAILQA_DATABASE_URL].")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Data directory [env MAILQA_DATA_DIR].")
    ] = None,
    hostname: Annotated[
        str | None, typer.Option(help="Worker node name (default celery@HOST).")
    ] = None,
    loglevel: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
) -> None:
    """Run a Celery worker: analyses queued by `mailqa serve --executor celery` and audits."""
    from mailqa.store.database import migrate
    from mailqa.worker.celery_app import create_celery
    from mailqa.worker.tasks import register_tasks

    settings = settings_from_options(
        worker_concurrency=concurrency,
        broker_url=broker_url,
        database_url=database_url,
        data_dir=data_dir,
        executor="celery",
    )
    logging.basicConfig(
        level=loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("alembic",):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        migrate(settings.effective_database_url)
    except Exception as exc:
        typer.echo(f"error: cannot open the database: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from exc
    app = create_celery(settings)
    register_tasks(app, settings)
    argv = [
        "worker",
        f"--concurrency={settings.worker_concurrency}",
        f"--queues={settings.celery_queue}",
        f"--loglevel={loglevel.upper()}",
        "--pool=prefork",
        "--without-gossip",
        "--without-mingle",
    ]
    if hostname:
        argv.append(f"--hostname={hostname}")
    app.worker_main(argv)
