"""Errors as Mailtrap's clients read them.

The testing API answers ``{"error": text, "code": code}`` (the SDKs show ``error`` or
``errors``) and request validation as ``{"errors": ["field: problem", ...]}``; the send API
answers ``{"success": false, "errors": [...]}``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from mailqa.api.errors import ApiError, validation_text
from mailqa.core.errors import (
    AnalysisQueueFull,
    Forbidden,
    LimitExceeded,
    MailqaError,
    NotFound,
    QuotaExceeded,
    SourceExpired,
)


def mailtrap_error(status: int, message: str, code: str) -> JSONResponse:
    return JSONResponse({"error": message, "code": code}, status_code=status)


class MailtrapRoute(APIRoute):
    """A testing-API route: its errors in Mailtrap's shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as exc:
                return mailtrap_error(exc.status, exc.message, exc.code)
            except SourceExpired as exc:
                return mailtrap_error(410, str(exc), "source_expired")
            except NotFound as exc:
                return mailtrap_error(404, str(exc), "not_found")
            except QuotaExceeded as exc:
                return mailtrap_error(507, str(exc), "quota_exceeded")
            except AnalysisQueueFull as exc:
                response = mailtrap_error(503, str(exc), "analysis_queue_full")
                response.headers["Retry-After"] = str(exc.retry_after)
                return response
            except Forbidden as exc:
                return mailtrap_error(403, str(exc), "forbidden")
            except LimitExceeded as exc:
                return mailtrap_error(403, str(exc), "limit_exceeded")
            except MailqaError as exc:
                return mailtrap_error(400, str(exc), "bad_request")
            except RequestValidationError as exc:
                return JSONResponse(
                    {"errors": [validation_text(e) for e in exc.errors()]}, status_code=422
                )

        return handle


class SendFailed(Exception):
    """A send API request refused: its status and the errors to list."""

    def __init__(self, status: int, errors: list[str], *, retry_after: int | None = None) -> None:
        super().__init__("; ".join(errors))
        self.status = status
        self.errors = errors
        self.retry_after = retry_after


def send_error(status: int, errors: list[str], *, retry_after: int | None = None) -> JSONResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse({"success": False, "errors": errors}, status_code=status, headers=headers)


class SendRoute(MailtrapRoute):
    """A send API route: ``SendFailed`` (from the handler or its dependencies) in the send
    API's shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except SendFailed as exc:
                return send_error(exc.status, exc.errors, retry_after=exc.retry_after)

        return handle
