"""The one error shape, and the exceptions that produce it.

Every 4xx and 5xx answer of the API has this body::

    {"error": {"status": 422, "code": "validation_failed",
               "message": "message must contain text", "details": [{"field": "message", "problem": "..."}]}}

Exception hierarchy (all ``ApiError``)::

    ApiError
    ├── BadRequest            400 bad_request
    ├── Unauthorized          401 unauthorized
    ├── Forbidden             403 forbidden
    ├── NotFound              404 not_found
    ├── Conflict              409 conflict            (wrong state, stale version, idempotency clash)
    ├── PayloadTooLarge       413 payload_too_large
    ├── Unprocessable         422 validation_failed
    ├── RateLimited           429 rate_limited
    └── ServiceUnavailable    503 unavailable         (Chroma or the database is down)

Framework errors (a body that is not JSON, a failed schema check, an unknown route, a body over
the size limit) are translated into the same shape by ``exception_handlers``.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

log = logging.getLogger("replydesk.errors")


class ErrorDetail(msgspec.Struct, omit_defaults=True):
    problem: str
    field: str | None = None


class ErrorInfo(msgspec.Struct):
    status: int
    code: str
    message: str
    details: list[ErrorDetail] = msgspec.field(default_factory=list)


class ErrorBody(msgspec.Struct):
    error: ErrorInfo


class ApiError(Exception):
    status = 500
    code = "internal_error"

    def __init__(
        self, message: str, *, details: list[ErrorDetail] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        self.headers = headers or {}


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class Unprocessable(ApiError):
    status, code = 422, "validation_failed"


class RateLimited(ApiError):
    status, code = 429, "rate_limited"


class ServiceUnavailable(ApiError):
    status, code = 503, "unavailable"


_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[ErrorDetail] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[ErrorBody]:
    return Response(
        ErrorBody(ErrorInfo(status=status, code=code, message=message, details=details or [])),
        status_code=status,
        media_type=MediaType.JSON,
        headers=headers,
    )


def _api_error(_: Request[Any, Any, Any], exc: ApiError) -> Response[ErrorBody]:
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


def _validation(_: Request[Any, Any, Any], exc: ValidationException) -> Response[ErrorBody]:
    details: list[ErrorDetail] = []
    extra = exc.extra if isinstance(exc.extra, list) else []
    for item in extra:
        if isinstance(item, dict):
            key = item.get("key")
            details.append(ErrorDetail(problem=str(item.get("message", "invalid")), field=str(key) if key else None))
    message = str(exc.detail or "the request is not valid")
    if "decode" in message.lower() or "malformed" in message.lower() or "json" in message.lower():
        code = "invalid_json"
    else:
        code = "validation_failed"
    if details and code == "validation_failed":
        message = "; ".join(f"{d.field + ': ' if d.field else ''}{d.problem}" for d in details)[:500]
    return error_response(422, code, message, details)


def _http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorBody]:
    status = exc.status_code
    message = str(exc.detail or "request failed")
    if status == 400:  # Litestar's 400s are all malformed requests: report them like schema errors
        status = 422
    headers = dict(exc.headers or {})
    return error_response(status, _CODES.get(status, "error"), message, headers=headers)


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    # Log the type and route only: exception text can contain buyer data.
    log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
    return error_response(HTTP_500_INTERNAL_SERVER_ERROR, "internal_error", "internal error; it has been logged")


exception_handlers: ExceptionHandlersMap = {
    ApiError: _api_error,
    ValidationException: _validation,
    HTTPException: _http,
    Exception: _internal,
}
