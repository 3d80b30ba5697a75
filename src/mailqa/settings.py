"""All configuration in one object, read from ``MAILQA_*`` environment variables.

Build it once at start-up and pass it down; nothing reads the environment at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from mailqa.core.rules import DEFAULT_DOCS_URL

MB = 1024 * 1024
BIGINT_MAX = 2**63 - 1  # the largest byte count the database stores
# The clients with most opens (about 98 % together): apple-mail, gmail, outlook, yahoo, samsung.
DEFAULT_HTML_TARGETS = ("apple-mail.*", "gmail.*", "outlook.*", "yahoo.*", "samsung-email.*")


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MAILQA_", extra="ignore")

    # Service
    host: str = Field("127.0.0.1", description="Address the HTTP and SMTP servers bind to.")
    http_port: int = Field(8025, description="HTTP API port.")
    smtp_port: int = Field(2525, description="SMTP capture port.")
    data_dir: Path = Field(Path("data"), description="Where the SQLite database and state live.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL; default a SQLite file in the data dir. "
        "PostgreSQL: postgresql+psycopg://user@host/db",
    )
    api_token: str | None = Field(
        None, description="Bootstrap admin API token (created at start-up if missing)."
    )
    log_level: str = Field("info", description="Log level: debug, info, warning, error.")

    # SMTP capture
    smtp_hostname: str = Field(
        "localhost", description="SMTP host name announced in greetings and sandbox status."
    )
    smtp_max_message_size: int = Field(25 * MB, description="Largest message accepted (bytes).")
    smtp_max_recipients: int = Field(100, description="Most RCPT TO per message.")
    smtp_accept_any: bool = Field(
        True, description="Accept unauthenticated mail into the default inbox."
    )
    smtp_default_inbox: int | None = Field(
        None,
        description="Inbox id for unauthenticated mail; default: inbox Default of project "
        "Default, created on first use.",
    )
    smtp_allow_admin_tokens: bool = Field(
        False,
        description="Accept admin API tokens as SMTP passwords (username any). Off: only "
        "inbox SMTP credentials and non-admin tokens authenticate, so a credential that "
        "controls the whole API never sits in an application's SMTP settings.",
    )
    smtp_auth_max_failures: int = Field(
        5,
        ge=0,
        description="Failed SMTP AUTH attempts allowed from one client address (IPv6: its /64) "
        "within MAILQA_SMTP_AUTH_FAILURE_WINDOW; then its AUTH answers 454 during a back-off. "
        "0: no limit.",
    )
    smtp_auth_failure_window: float = Field(
        300.0,
        gt=0,
        description="Seconds failed SMTP AUTH attempts are counted over; an address is "
        "forgotten after this long without a failure once its back-off is over.",
    )
    smtp_auth_backoff_seconds: float = Field(
        30.0,
        gt=0,
        description="First SMTP AUTH back-off (s) once the failure limit is reached; each "
        "further failure after it starts one twice as long; a successful AUTH clears it.",
    )
    smtp_auth_backoff_max_seconds: float = Field(
        900.0, gt=0, description="Longest SMTP AUTH back-off (s)."
    )
    smtp_tls_cert: Path | None = Field(None, description="Certificate for STARTTLS.")
    smtp_tls_key: Path | None = Field(None, description="Private key for STARTTLS.")

    # HTTPS of the HTTP API and web UI
    http_tls_cert: Path | None = Field(
        None,
        description="Certificate (PEM, with its chain) the HTTP API and web UI are served "
        "with over HTTPS; needs MAILQA_HTTP_TLS_KEY.",
    )
    http_tls_key: Path | None = Field(
        None, description="Private key (PEM) of MAILQA_HTTP_TLS_CERT."
    )
    http_tls_self_signed: bool = Field(
        False,
        description="Serve HTTPS with a certificate from a local CA made in the data dir "
        "(tls/; reused, renewed when expired or when the names change) for localhost, "
        "127.0.0.1, ::1, MAILQA_HOST and MAILQA_SMTP_HOSTNAME; the CA's path is printed at "
        "start-up for REQUESTS_CA_BUNDLE / NODE_EXTRA_CA_CERTS.",
    )

    # Transport limits (HTTP and SMTP connections, request bodies)
    http_max_body_bytes: int = Field(
        1 * MB,
        ge=1,
        description="Largest request body (bytes) of the JSON and form routes; raw message "
        "uploads take up to MAILQA_SMTP_MAX_MESSAGE_SIZE. Larger ones answer 413 unread.",
    )
    mailtrap_send_max_bytes: int | None = Field(
        None,
        ge=1,
        description="Largest Mailtrap send request (POST /api/send, bytes); default twice "
        "MAILQA_SMTP_MAX_MESSAGE_SIZE (a message's JSON, escapes included), at most the batch "
        "limit.",
    )
    mailtrap_batch_max_bytes: int = Field(
        50 * MB, ge=1, description="Largest Mailtrap batch request (POST /api/batch, bytes)."
    )
    http_header_timeout: float = Field(
        15.0,
        gt=0,
        description="Seconds a client has to send a request's headers, from connecting or "
        "from the first byte of a following request; then the connection is closed.",
    )
    http_keep_alive_timeout: float = Field(
        5.0, gt=0, description="Seconds an idle kept-alive HTTP connection stays open."
    )
    http_max_header_bytes: int = Field(
        64 * 1024, ge=1024, description="Largest request line and headers (bytes); else 431."
    )
    http_max_connections_per_address: int = Field(
        128, ge=0, description="HTTP connections one client address may hold open (0: no limit)."
    )
    http_max_connections: int = Field(
        512,
        ge=0,
        description="HTTP connections the server holds open at once from all addresses "
        "(0: no limit); past it a new one is answered 503 and closed. With "
        "MAILQA_SMTP_MAX_CONNECTIONS, keep it well below the process's open-file limit.",
    )
    smtp_idle_timeout: float = Field(
        60.0,
        gt=0,
        description="Seconds an SMTP session may wait for the client's next command (or, "
        "during DATA, its next bytes) before it is closed.",
    )
    smtp_max_connections_per_address: int = Field(
        64, ge=0, description="SMTP sessions one client address may hold open (0: no limit)."
    )
    smtp_max_connections: int = Field(
        256,
        ge=0,
        description="SMTP sessions the server holds open at once from all addresses "
        "(0: no limit); past it a new one is answered 421 and closed.",
    )
    smtp_spool_bytes: int = Field(
        1 * MB,
        ge=0,
        description="DATA larger than this is spooled to a temporary file while it arrives "
        "instead of being held in memory (bytes).",
    )
    smtp_large_captures: int = Field(
        2,
        ge=1,
        description="Spooled (large) messages loaded and stored at once; others wait their "
        "turn before their 250, which bounds the memory of parallel large messages.",
    )

    # Storage
    inbox_quota_bytes: int = Field(
        100 * MB, ge=1, le=BIGINT_MAX, description="Default per-inbox quota (bytes)."
    )
    max_inbox_quota_bytes: int = Field(
        1024 * MB,
        ge=1,
        le=BIGINT_MAX,
        description="Largest quota a project token may give an inbox (bytes; never below "
        "MAILQA_INBOX_QUOTA_BYTES). Admin tokens may set any quota up to 2^63-1.",
    )
    max_inboxes_per_project: int = Field(
        100,
        ge=0,
        description="Most inboxes a project may have for a project token to create one; "
        "admin tokens may create more.",
    )
    retention_max_messages: int | None = Field(
        None, description="Keep at most this many messages per inbox (oldest pruned)."
    )
    retention_max_age_days: float | None = Field(
        None, description="Prune messages older than this many days."
    )
    retention_source_days: float | None = Field(
        None,
        description="Drop the raw source of messages older than this many days, keeping the "
        "message, its report and its attachment list; the source then answers 410.",
    )
    retention_sweep_seconds: float = Field(
        300.0,
        gt=0,
        description="How often the server applies retention to every inbox (age limits "
        "apply even to inboxes that receive no new mail).",
    )

    # Analysis
    executor: Literal["inline", "celery"] = Field(
        "inline", description="Run analyses in the server process or on Celery workers."
    )
    broker_url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="Celery broker URL (redis://... or amqp://... for RabbitMQ).",
    )
    celery_queue: str = Field("mailqa", description="Celery queue analyses are sent to.")
    change_poll_seconds: float | None = Field(
        None,
        ge=0,
        description="How often long-polls and live UI streams look for mail and reports "
        "written by other processes (one query for all waiters); unset: every second with "
        "the celery executor, never with inline (this process writes everything); 0: never.",
    )
    worker_concurrency: int = Field(
        2, ge=1, description="Processes of a `mailqa worker` (one analysis each at a time)."
    )
    celery_max_retries: int = Field(
        3, ge=0, description="Retries of checks that failed for a transient reason."
    )
    celery_retry_backoff: float = Field(
        2.0, ge=0, description="Seconds before the first retry; doubled each time (jittered)."
    )
    audit_stall_seconds: float = Field(
        900.0,
        gt=0,
        description="An audit started through the API on Celery fails as stalled when no "
        "result arrives for this long and no worker holds or waits on its tasks (keep it above "
        "MAILQA_CELERY_VISIBILITY_TIMEOUT, after which a vanished worker's tasks are retried).",
    )
    celery_visibility_timeout: float = Field(
        600.0,
        gt=0,
        description="Redis broker: seconds before a task taken by a worker that vanished "
        "(killed, machine lost) is handed to another worker.",
    )
    cache_url: str | None = Field(
        None,
        description="Redis URL for the shared DNS/link caches; default the broker's Redis "
        "with the celery executor, else in memory ('memory' forces in memory).",
    )
    checks: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Checks to run (comma-separated); empty means every default-on check.",
    )
    check_timeout: float = Field(30.0, description="Seconds each check may take.")
    check_cpu_seconds: float = Field(
        15.0,
        gt=0,
        description="CPU seconds each check may use on one message (parsing the HTML, walking "
        "its CSS, extracting links); past it the check stops and is reported errored.",
    )
    analysis_concurrency: int = Field(4, description="Analyses run at once by the inline executor.")
    analysis_processes: int = Field(
        2,
        ge=0,
        description="Child processes the inline executor runs the checks in, so that one "
        "costly message never stalls capture or the API; 0 runs them in the serving process.",
    )
    analysis_queue_max: int = Field(
        10_000,
        ge=0,
        description="Analyses that may wait in the serving process's queue; while it is full, "
        "capture answers SMTP 451 4.3.2 and HTTP 503 analysis_queue_full (nothing is stored, "
        "the sender tries again). 0: unbounded. Celery's queue is the broker's.",
    )
    analysis_max_attempts: int = Field(
        3,
        ge=1,
        description="Analyses of one message cut short (the server died during them) before "
        "start-up stops queueing it and reports its checks as errored.",
    )
    offline: bool = Field(False, description="Never touch the network (DNS, HTTP) in checks.")

    # Render previews (headless Chromium)
    render: bool | None = Field(
        None,
        description="Render previews of each captured message's HTML (emulated, in headless "
        "Chromium) as their own job after capture; unset: on when the Chromium executable "
        "exists, else 'unavailable: chromium not found'.",
    )
    render_chromium: str = Field(
        "/usr/bin/chromium", description="Chromium executable the renders use."
    )
    render_concurrency: int = Field(
        2, ge=1, description="Renders (browser contexts) at once in one process."
    )
    render_timeout: float = Field(20.0, gt=0, description="Seconds one render may take.")
    render_remote_images: bool = Field(
        False,
        description="Let renders load remote images (public addresses only, through the "
        "SSRF-safe fetcher with the link check's limits); off: only the message's own parts.",
    )

    # Spam (SpamAssassin's spamd)
    spamd_url: str | None = Field(
        None,
        description="External spamd: tcp://host:port or unix:///path. Unset: a managed spamd "
        "is started when the spamd binary exists.",
    )
    spamd_managed: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Managed spamd child: auto (when no URL and spamd is installed), on "
        "(required: fail if it cannot start), off (never).",
    )
    spamd_binary: str = Field("spamd", description="spamd executable for the managed daemon.")
    spamd_children: int = Field(2, ge=1, description="Worker processes of the managed spamd.")
    spamd_timeout: float = Field(20.0, gt=0, description="Seconds one spamd scan may take.")
    spamd_concurrency: int = Field(
        2, ge=1, description="Scans sent to spamd at once (match its children)."
    )
    spamd_max_size: int = Field(
        500 * 1024,
        ge=1,
        description="Largest message sent to spamd (bytes); larger ones are reported skipped.",
    )
    spamd_network_rules: bool = Field(
        False,
        description="Let the managed spamd run its network rules (RBL/URIBL/SPF/DKIM lookups).",
    )
    spamd_dns_server: str | None = Field(
        None,
        description="DNS server (host:port) the managed spamd's network rules query; "
        "default the first of MAILQA_DNS_SERVERS, else the system resolver.",
    )

    # Links (HTTP validation of every link and image)
    link_check: bool = Field(
        True, description="Validate links and images over HTTP (static link checks always run)."
    )
    link_allow: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Hosts (exact, or .example.com for subdomains) and CIDRs the link checker "
        "may reach although they are not public addresses (comma-separated).",
    )
    link_max_urls: int = Field(200, ge=0, description="Most distinct URLs analysed per message.")
    link_connect_timeout: float = Field(
        5.0, gt=0, description="Seconds to resolve and connect to a link's host."
    )
    link_timeout: float = Field(10.0, gt=0, description="Seconds one HTTP request may take in all.")
    link_total_timeout: float = Field(
        20.0,
        gt=0,
        description="Seconds all HTTP requests of one link may take together (every redirect "
        "hop, HEAD and GET fallback); waiting for a free slot does not count.",
    )
    link_max_redirects: int = Field(10, ge=0, description="Redirects followed per link.")
    link_concurrency: int = Field(20, ge=1, description="HTTP requests in flight at once.")
    link_per_host_concurrency: int = Field(
        4, ge=1, description="HTTP requests in flight at once to one host."
    )
    link_per_host_rate: float = Field(
        10.0, ge=0, description="Requests per second started to one host (0: no limit)."
    )
    link_max_body_bytes: int = Field(
        5 * MB, ge=1, description="Most bytes read from a GET body (image sizes)."
    )
    link_image_max_bytes: int = Field(
        1 * MB, ge=1, description="Images larger than this are flagged as huge (bytes)."
    )
    link_cache_ttl: float = Field(
        3600.0, ge=0, description="Seconds a link result is reused across messages."
    )

    # Webhooks
    public_url: str | None = Field(
        None,
        description="The server's URL as clients reach it: the base of the API links in "
        "webhook payloads; default http://HOST:HTTP_PORT.",
    )
    webhook_allow: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Hosts and CIDRs webhooks may be delivered to although they are not "
        "public addresses (comma-separated; the syntax of MAILQA_LINK_ALLOW).",
    )
    webhook_connect_timeout: float = Field(
        5.0, gt=0, description="Seconds to resolve and connect to a webhook's host."
    )
    webhook_timeout: float = Field(
        10.0, gt=0, description="Seconds one webhook delivery may take in all."
    )
    webhook_concurrency: int = Field(
        8, ge=1, description="Webhook subscriptions delivered to at the same time."
    )
    webhook_retry_hours: float = Field(
        24.0,
        gt=0,
        description="Hours an undelivered webhook event is retried (exponential back-off "
        "with jitter); then its subscription is disabled with the reason.",
    )
    webhook_backoff_seconds: float = Field(
        5.0, gt=0, description="Delay before the first retry of a webhook; doubles each time."
    )
    webhook_backoff_max_seconds: float = Field(
        3600.0, gt=0, description="Longest delay between two attempts of a webhook."
    )
    webhook_secret_overlap_hours: float = Field(
        24.0,
        ge=0,
        description="Hours a rotated webhook secret still signs deliveries, beside the new.",
    )
    webhook_log_days: float = Field(
        14.0,
        gt=0,
        description="Days delivered and failed webhook events and their delivery log are kept.",
    )
    webhook_poll_seconds: float = Field(
        1.0,
        gt=0,
        description="How often the delivery loop looks for events other processes wrote "
        "(Celery workers, analysis processes).",
    )

    # HTML client support (caniemail data)
    html_targets: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_HTML_TARGETS),
        description="Email clients the HTML check reports on: comma-separated globs over "
        "family.platform ids such as gmail.*, outlook.windows, *.ios; * for all. Default: "
        "the clients with most opens.",
    )
    html_fail_below: float = Field(
        70.0,
        ge=0,
        le=100,
        description="The HTML check fails when the market-weighted support score of the "
        "features in use is below this; otherwise unsupported features are warnings.",
    )
    html_strict: bool = Field(
        False,
        description="Judge HTML features by support alone: an error whenever a target client "
        "lacks a feature, whatever its impact and the fallbacks present (the --strict gate).",
    )
    html_min_share: float = Field(
        1.0,
        ge=0,
        le=100,
        description="Share of opens (%) from which a client that lacks a layout, content or "
        "interactive feature makes the finding an error; smaller clients make it a warning.",
    )
    html_impact: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description="Impact classes over rules/impact.yaml, comma-separated slug=class pairs "
        "(classes: harmless, enhancement, layout, content, interactive), e.g. "
        "css-position=harmless,html-form=content.",
    )
    html_fetch_stylesheets: bool = Field(
        False,
        description="Fetch <link rel=stylesheet> sheets (http/https) through the SSRF-safe "
        "link fetcher and check their CSS too. Needs the network: not in offline mode.",
    )

    @field_validator("html_targets", mode="before")
    @classmethod
    def _csv_html_targets(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("html_impact", mode="before")
    @classmethod
    def _html_impact(cls, value: object) -> object:
        if isinstance(value, str):
            pairs = {}
            for item in value.split(","):
                if not item.strip():
                    continue
                slug, sep, klass = item.partition("=")
                if not sep:
                    raise ValueError(f"{item!r} is not slug=class")
                pairs[slug.strip()] = klass.strip()
            value = pairs
        if isinstance(value, dict) and value:
            import difflib

            from mailqa.rules.caniemail import load_rules
            from mailqa.rules.impact import IMPACTS

            known = load_rules().features
            for slug, klass in value.items():
                if slug not in known:
                    near = difflib.get_close_matches(str(slug), list(known), n=1)
                    hint = f" (did you mean {near[0]}?)" if near else ""
                    raise ValueError(f"{slug!r} is no caniemail feature{hint}")
                if klass not in IMPACTS:
                    raise ValueError(f"{slug}: impact {klass!r} is not one of {', '.join(IMPACTS)}")
        return value

    # DNS, blacklists and sender authentication
    dns_servers: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="DNS servers as host:port (IPv6 as [addr]:port), comma-separated; "
        "empty means the system resolver. Used by the DNS checks and to resolve link hosts.",
    )
    dns_timeout: float = Field(3.0, gt=0, description="Seconds one DNS lookup may take.")
    dns_concurrency: int = Field(50, ge=1, description="DNS lookups in flight at once.")
    dns_cache_size: int = Field(50_000, ge=0, description="Most DNS answers kept in the cache.")
    dns_cache_max_ttl: float = Field(
        3600.0, ge=0, description="Longest time (s) a DNS answer is cached, whatever its TTL."
    )
    dns_negative_ttl: float = Field(
        300.0, ge=0, description="Longest time (s) a 'no such name / no record' answer is cached."
    )
    dnsbl_file: Path | None = Field(
        None, description="YAML file of DNS block/allow lists; default the bundled one."
    )
    dnsbl_max_domains: int = Field(
        30, ge=0, description="Most domains (sender and linked) looked up in domain lists."
    )
    docs_url: str = Field(
        DEFAULT_DOCS_URL,
        description="Documentation folder that rule help links point into (SARIF helpUri): "
        "a fork's or an internal mirror's docs/.",
    )
    auth_serv_id: str | None = Field(
        None,
        description="authserv-id of the Authentication-Results header the auth check writes; "
        "default the SMTP host name.",
    )

    @field_validator("dns_servers", mode="before")
    @classmethod
    def _csv_dns(cls, value: object) -> object:
        return _split_csv(value)

    # Forwarding / release of captured mail through a real SMTP relay
    relay_host: str | None = Field(
        None, description="SMTP relay that forwards (releases) captured mail; unset: no forwarding."
    )
    relay_port: int = Field(587, description="SMTP relay port.")
    relay_starttls: bool = Field(True, description="Use STARTTLS with the relay.")
    relay_tls_ca_file: Path | None = Field(
        None, description="CA bundle to verify the relay's certificate (default: system CAs)."
    )
    relay_username: str | None = Field(None, description="SMTP relay login.")
    relay_password: str | None = Field(None, description="SMTP relay password.")
    relay_mail_from: str | None = Field(
        None, description="Envelope sender for forwarded mail; default the captured MAIL FROM."
    )
    relay_allowed_recipients: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Who may receive forwarded mail: comma-separated patterns such as "
        "*@example.com or qa@example.com (* for anyone); empty: nobody.",
    )
    relay_timeout: float = Field(30.0, gt=0, description="Seconds each relay SMTP step may take.")

    # Mailtrap-compatible API
    mailtrap_report_wait: float = Field(
        8.0,
        ge=0,
        description="Seconds Mailtrap spam_report/analyze requests wait for a pending analysis, "
        "then answer 409 analysis_pending; keep it below the SDK's request timeout (Node: "
        "10 s), or the SDK gives up first.",
    )

    @field_validator(
        "checks", "link_allow", "webhook_allow", "relay_allowed_recipients", mode="before"
    )
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'mailqa.db').resolve()}"

    @property
    def effective_mailtrap_send_max_bytes(self) -> int:
        if self.mailtrap_send_max_bytes is not None:
            return self.mailtrap_send_max_bytes
        return min(2 * self.smtp_max_message_size, self.mailtrap_batch_max_bytes)
