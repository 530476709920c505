"""HTTPS with mutual TLS over the standard library (http.client + ssl).

One connection per request: an admin client makes few requests, and a fresh
connection never meets a keep-alive connection the server has just closed
(idle timeout, session limit, or the close after a 403 by role), which would
make retrying a POST unsafe.
"""

import http.client
import json
import ssl
from typing import Any, Mapping, Optional
from urllib.parse import urlencode

from .errors import error_from_response


def make_context(ca: str, cert: Optional[str], key: Optional[str]) -> ssl.SSLContext:
    """Verifies the server against the project CA (host name included) and
    presents the client certificate when given."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def split_address(address: str, default_port: int) -> tuple[str, int]:
    """"host:port", "[v6]:port", "https://host:port" or "host"."""
    a = address
    if "://" in a:
        scheme, a = a.split("://", 1)
        if scheme != "https":
            raise ValueError(f"address {address!r}: only https is supported")
    a = a.rstrip("/")
    if a.startswith("["):
        host, _, rest = a[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif a.count(":") == 1:
        host, port = a.split(":")
    else:
        host, port = a, ""
    if not host:
        raise ValueError(f"address {address!r} has no host")
    try:
        return host, int(port) if port else default_port
    except ValueError:
        raise ValueError(f"address {address!r}: port is not a number") from None


class HttpsJsonClient:
    def __init__(self, host: str, port: int, context: ssl.SSLContext, timeout: float):
        self.host = host
        self.port = port
        self._context = context
        self.timeout = timeout

    def request_raw(self, method: str, path: str, body: Any = None,
                    query: Optional[Mapping[str, Any]] = None) -> tuple[int, bytes]:
        if query:
            q = {k: v for k, v in query.items() if v is not None}
            if q:
                path = f"{path}?{urlencode(q)}"
        data = None
        headers = {"Accept": "application/json"}
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        conn = http.client.HTTPSConnection(self.host, self.port, context=self._context,
                                           timeout=self.timeout)
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def request(self, method: str, path: str, body: Any = None,
                query: Optional[Mapping[str, Any]] = None) -> Any:
        """The decoded JSON answer; a ClsError subclass for any non-2xx."""
        status, raw = self.request_raw(method, path, body, query)
        if not 200 <= status < 300:
            raise error_from_response(status, raw, method, path.split("?")[0])
        return json.loads(raw.decode("utf-8")) if raw.strip() else None
