"""Security headers on every response, chosen by what the response is.

The UI's own pages may only run the UI's own script and style (an injected ``<script>`` or
``onerror=`` would not run even if escaping ever failed). API responses, which include raw
messages and attachments straight from senders, are sandboxed in case a browser is ever
made to render one as a page.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

UI_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
API_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox"
_API_PREFIXES = ("/api/", "/pro/api/")
_DOCS_PATHS = ("/docs", "/redoc", "/openapi.json")


def policy_for(path: str) -> str | None:
    if path.startswith(_API_PREFIXES):
        return API_POLICY
    if path.startswith(_DOCS_PATHS) or path.startswith("/ui/messages/"):
        return None  # the docs pages and the preview set their own policies
    return UI_POLICY


class SecurityHeaders:
    """Pure ASGI middleware (streams untouched, unlike BaseHTTPMiddleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        policy = policy_for(path)
        # The UI's modules are imported by name, without the entry's version query: the
        # browser revalidates them (cheap, by ETag) so an upgrade never runs stale ones.
        static = path.startswith("/ui/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                ]
                if policy is not None:
                    extra.append((b"content-security-policy", policy.encode()))
                    extra.append((b"x-frame-options", b"DENY"))
                if static:
                    extra.append((b"cache-control", b"no-cache"))
                headers.extend((k, v) for k, v in extra if k not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
