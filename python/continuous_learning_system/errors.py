"""Errors of the consortium's HTTPS APIs as exceptions.

Every answer other than 2xx becomes a ClsError carrying the HTTP status and
the server's error code and message ({"error": {"code", "message"}},
docs/admin-api.md "Errors", docs/serving.md). The subclass is chosen by code
first (the server's word), else by status. TLS failures (an unknown CA, a
refused certificate) are not mapped: they surface as ssl.SSLError or
ConnectionError from the standard library, before any HTTP answer exists.
"""

import json
from typing import Optional


class ClsError(Exception):
    """An error answer of the coordinator or a site agent."""

    def __init__(self, message: str, status: Optional[int] = None,
                 code: Optional[str] = None, method: Optional[str] = None,
                 path: Optional[str] = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.method = method
        self.path = path

    def __str__(self) -> str:
        where = f"{self.method} {self.path}: " if self.method else ""
        status = f"{self.status} " if self.status is not None else ""
        code = f"{self.code}: " if self.code else ""
        return f"{where}{status}{code}{self.message}"


class InvalidArgument(ClsError):
    """400: the request was malformed (the message names the field)."""


class Unauthenticated(ClsError):
    """401."""


class PermissionDenied(ClsError, PermissionError):
    """403: the certificate's role lacks the permission (also a
    PermissionError, the built-in the original guide raises)."""


class NotFound(ClsError):
    """404: no such site, version, prediction or route."""


class Unimplemented(NotFound):
    """404 with code `unimplemented`: a route this coordinator does not
    serve yet."""


class MethodNotAllowed(ClsError):
    """405."""


class Conflict(ClsError):
    """409: failed_precondition, already_exists or aborted (e.g. a round is
    running, a site is revoked, nothing is deployed yet)."""


class PayloadTooLarge(ClsError):
    """413."""


class ResourceExhausted(ClsError):
    """429."""


class Unavailable(ClsError):
    """503 (e.g. a site with nothing deployed yet)."""


class InternalError(ClsError):
    """500: internal, data_loss, deadline_exceeded."""


class WaitTimeout(ClsError, TimeoutError):
    """A wait of this client (a round, sites connecting) ran out of time;
    no HTTP status."""


_BY_CODE = {
    "invalid_argument": InvalidArgument,
    "unauthenticated": Unauthenticated,
    "permission_denied": PermissionDenied,
    "not_found": NotFound,
    "unimplemented": Unimplemented,
    "failed_precondition": Conflict,
    "already_exists": Conflict,
    "aborted": Conflict,
    "resource_exhausted": ResourceExhausted,
    "unavailable": Unavailable,
    "internal": InternalError,
    "data_loss": InternalError,
    "deadline_exceeded": InternalError,
}

_BY_STATUS = {
    400: InvalidArgument,
    401: Unauthenticated,
    403: PermissionDenied,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    413: PayloadTooLarge,
    429: ResourceExhausted,
    500: InternalError,
    503: Unavailable,
}

# A body that is not the JSON error document is quoted only this far (a
# proxy's HTML page, say); the servers never echo request values.
_MAX_QUOTED = 200


def error_from_response(status: int, body: bytes, method: Optional[str] = None,
                        path: Optional[str] = None) -> ClsError:
    """The exception for one non-2xx answer."""
    code = None
    message = None
    try:
        doc = json.loads(body.decode("utf-8"))
        err = doc.get("error") if isinstance(doc, dict) else None
        if isinstance(err, dict):
            code = err.get("code") if isinstance(err.get("code"), str) else None
            if isinstance(err.get("message"), str):
                message = err["message"]
    except (UnicodeDecodeError, ValueError):
        pass
    if message is None:
        text = body.decode("utf-8", errors="replace").strip()
        message = text[:_MAX_QUOTED] if text else f"HTTP {status}"
    cls = _BY_CODE.get(code) or _BY_STATUS.get(status) or ClsError
    return cls(message, status=status, code=code, method=method, path=path)
