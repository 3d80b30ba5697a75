"""The ``mailqa`` command: serve, check, schema, token."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mailqa import __version__
from mailqa.cli import audit_cmd, check_cmd, extract_cmd, worker_cmd
from mailqa.cli.common import EXIT_USAGE, settings_from_options
from mailqa.core.errors import MailqaError

if TYPE_CHECKING:
    from mailqa.cli.serve_tls import HttpsFiles
    from mailqa.settings import Settings

app = typer.Typer(
    name="mailqa",
    help="Self-hosted email QA: capture mail and analyse HTML support, spam, blacklists, "
    "authentication and links.",
    no_args_is_help=True,
    add_completion=False,
)
token_app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mailqa {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """mailqa command line."""


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [env MAILQA_HOST].")] = None,
    http_port: Annotated[int | None, typer.Option(help="HTTP port [env MAILQA_HTTP_PORT].")] = None,
    smtp_port: Annotated[int | None, typer.Option(help="SMTP port [env MAILQA_SMTP_PORT].")] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Data directory [env MAILQA_DATA_DIR].")
    ] = None,
    executor: Annotated[
        str | None, typer.Option(help="inline or celery [env MAILQA_EXECUTOR].")
    ] = None,
    tls_cert: Annotated[
        Path | None,
        typer.Option(
            help="Serve the API and UI over HTTPS with this certificate [env MAILQA_HTTP_TLS_CERT]."
        ),
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option(help="Private key of --tls-cert [env MAILQA_HTTP_TLS_KEY].")
    ] = None,
    tls_self_signed: Annotated[
        bool,
        typer.Option(
            "--tls-self-signed",
            help="Serve HTTPS with a local CA made in the data dir and print how to trust it "
            "[env MAILQA_HTTP_TLS_SELF_SIGNED].",
        ),
    ] = False,
) -> None:
    """Run the HTTP API and the SMTP capture server."""
    settings = settings_from_options(
        host=host,
        http_port=http_port,
        smtp_port=smtp_port,
        data_dir=data_dir,
        executor=executor,
        http_tls_cert=tls_cert,
        http_tls_key=tls_key,
        http_tls_self_signed=tls_self_signed or None,
    )
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("alembic", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        from mailqa.cli.serve_tls import https_files

        https = https_files(settings)  # a TLS mistake is reported before anything starts
        asyncio.run(_serve(settings, https))
    except MailqaError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from exc
    except KeyboardInterrupt:
        pass


async def _serve(settings: Settings, https: HttpsFiles | None) -> None:

    from mailqa.api.server import ServeUntilSignal, http_config
    from mailqa.app import create_app
    from mailqa.capture.smtp import start_smtp_server
    from mailqa.cli.serve_tls import trust_lines
    from mailqa.service import open_service
    from mailqa.usecases.inboxes import default_inbox_at_start
    from mailqa.worker.selection import select_executor

    async with open_service(settings, executor=select_executor) as service:
        created = await service.ensure_admin_token()
        start_inbox = await default_inbox_at_start(service)
        smtp = await start_smtp_server(service, settings.host, settings.smtp_port)
        smtp_port = smtp.sockets[0].getsockname()[1]
        app = create_app(settings, service)
        app.state.smtp_address = (settings.smtp_hostname, smtp_port)
        tls: dict[str, str] = {}
        if https is not None:
            tls = {"ssl_certfile": str(https.cert_file), "ssl_keyfile": str(https.key_file)}
        config = http_config(app, settings, log_level=settings.log_level, lifespan="on", **tls)
        server = ServeUntilSignal(config)
        scheme = "https" if https is not None else "http"
        print(
            f"mailqa {__version__}: HTTP {scheme}://{settings.host}:{settings.http_port} "
            f"(docs at /docs), SMTP {settings.host}:{smtp_port}, "
            f"database {settings.effective_database_url.split('://')[0]}, "
            f"executor {settings.executor}",
            flush=True,
        )
        if https is not None and https.note:
            print(f"HTTPS: {https.note}", flush=True)
        if https is not None and https.ca_file is not None:
            print("\n".join(trust_lines(https.ca_file)), flush=True)
        if created:
            print(f"Admin API token (shown once): {created}", flush=True)
        if start_inbox is not None:
            inbox = start_inbox.inbox
            print(
                f"Default inbox: id {inbox.id} (inbox_id for the SDKs; SMTP mail without a "
                "login lands here)",
                flush=True,
            )
            if start_inbox.created:
                print(
                    f"  its SMTP login: username {inbox.smtp_username}, password "
                    f"{inbox.smtp_password} (also in GET /api/v1/inboxes/{inbox.id})",
                    flush=True,
                )
        try:
            await server.serve()
        finally:
            smtp.close()
            await smtp.wait_closed()


@app.command()
def schema(
    gate: Annotated[
        bool,
        typer.Option(
            "--gate",
            help="Print the schema of 'mailqa check --format json' instead: the gate's "
            "document, with each file's report nested.",
        ),
    ] = False,
) -> None:
    """Print the JSON Schema of the report."""
    if gate:
        from mailqa.cli.output.json import gate_json_schema

        typer.echo(json.dumps(gate_json_schema(), indent=2))
        return
    from mailqa.core.report import report_json_schema

    typer.echo(json.dumps(report_json_schema(), indent=2))


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="A name to recognise the token by.")] = "cli",
    admin: Annotated[bool, typer.Option(help="Admin token (sees every project).")] = True,
    project_id: Annotated[int | None, typer.Option(help="Scope the token to a project.")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Data directory.")] = None,
    create: Annotated[
        bool,
        typer.Option(
            "--create",
            help="Make a new database when there is none (else refused, unless the data "
            "directory exists).",
        ),
    ] = False,
) -> None:
    """Create an API token in the configured database and print it (once)."""
    from mailqa.cli.admin_db import database_for_admin

    settings = settings_from_options(data_dir=data_dir)
    database_for_admin(settings, create=create)

    async def run() -> str:
        from mailqa.auth import Principal
        from mailqa.service import open_store
        from mailqa.usecases.tokens import create_token

        async with open_store(settings) as store:
            plain, _ = await create_token(
                store,
                Principal.operator(),
                name,
                is_admin=admin and project_id is None,
                project_id=project_id,
            )
            return plain

    try:
        typer.echo(asyncio.run(run()))
    except MailqaError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from exc


@token_app.command("list")
def token_list(
    data_dir: Annotated[Path | None, typer.Option(help="Data directory.")] = None,
) -> None:
    """List the tokens (id, prefix, scope, name); the secrets are not stored."""
    from mailqa.cli.admin_db import database_for_admin

    settings = settings_from_options(data_dir=data_dir)
    database_for_admin(settings)

    async def run() -> list[str]:
        from mailqa.auth import Principal
        from mailqa.service import open_store
        from mailqa.usecases.tokens import list_tokens

        async with open_store(settings) as store:
            return [
                f"{t.id}\t{t.prefix}…\t"
                + ("admin" if t.is_admin else f"project {t.project_id}" if t.project_id else "-")
                + f"\t{t.name}"
                for t in await list_tokens(store, Principal.operator())
            ]

    for line in asyncio.run(run()):
        typer.echo(line)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="The token's id (see `mailqa token list`).")],
    data_dir: Annotated[Path | None, typer.Option(help="Data directory.")] = None,
) -> None:
    """Revoke a token: the API and SMTP refuse it from now on."""
    from mailqa.cli.admin_db import database_for_admin

    settings = settings_from_options(data_dir=data_dir)
    database_for_admin(settings)

    async def run() -> None:
        from mailqa.auth import Principal
        from mailqa.service import open_store
        from mailqa.usecases.tokens import revoke_token

        async with open_store(settings) as store:
            await revoke_token(store, Principal.operator(), token_id)

    try:
        asyncio.run(run())
    except MailqaError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from exc
    typer.echo(f"revoked token {token_id}")


app.command("check")(check_cmd.check)
app.command("worker")(worker_cmd.worker)
app.command("audit")(audit_cmd.audit)
app.command("extract")(extract_cmd.extract)

if __name__ == "__main__":
    app()
