"""Map mailqa errors to HTTP status codes and JSON bodies ``{"error": code, "message": text}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from mailqa.core.errors import (
    AnalysisFailed,
    AnalysisQueueFull,
    ConfigError,
    Forbidden,
    LimitExceeded,
    MailqaError,
    MessageParseError,
    NotFound,
    QuotaExceeded,
    SourceExpired,
)

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error with its own status and machine-readable code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_body(code: str, message: str) -> dict[str, str]:
    return {"error": code, "message": message}


def validation_text(error: Any) -> str:
    """One pydantic validation error as ``field: problem``."""
    where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
    return f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg"))


_STATUS: list[tuple[type[MailqaError], int, str]] = [
    (SourceExpired, 410, "source_expired"),
    (NotFound, 404, "not_found"),
    (QuotaExceeded, 507, "quota_exceeded"),
    (Forbidden, 403, "forbidden"),
    (LimitExceeded, 403, "limit_exceeded"),
    (ConfigError, 400, "bad_request"),
    (MessageParseError, 400, "bad_message"),
    (AnalysisFailed, 503, "analysis_unavailable"),
    (AnalysisQueueFull, 503, "analysis_queue_full"),
]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status)

    @app.exception_handler(MailqaError)
    async def _mailqa_error(_: Request, exc: MailqaError) -> JSONResponse:
        for cls, status, code in _STATUS:
            if isinstance(exc, cls):
                headers = (
                    {"Retry-After": str(exc.retry_after)}
                    if isinstance(exc, AnalysisQueueFull)
                    else None
                )
                return JSONResponse(error_body(code, str(exc)), status_code=status, headers=headers)
        return JSONResponse(error_body("error", str(exc)), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [validation_text(e) for e in exc.errors()]
        body: dict[str, Any] = error_body("invalid_request", "; ".join(problems))
        body["errors"] = problems
        return JSONResponse(body, status_code=422)

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _out_of_range(_: Request, exc: Exception) -> JSONResponse:
        # A number beyond what the database stores (ids, page numbers): nothing can match.
        return JSONResponse(
            error_body("out_of_range", "a number in the request is out of range"),
            status_code=422,
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(
            error_body("internal_error", f"{type(exc).__name__}: {exc}"), status_code=500
        )
