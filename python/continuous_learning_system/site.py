"""SiteClient: a site agent's prediction endpoint (docs/serving.md), as the
hospital's systems call it with their own certificate (`cls-pki issue ehr
NAME`). Features stay between the caller and its own site."""

from typing import Any, Mapping, Optional, Union

from ._http import HttpsJsonClient, make_context, split_address
from .errors import error_from_response
from .results import Prediction


class SiteClient:
    """SiteClient("127.0.0.1:8443", ca="pki/ca.pem", cert="ehr.pem",
    key="ehr.key"). The server must present a certificate with the address
    in its subjectAltName ([serve] cert, docs/serving.md). Thread-safe:
    each call opens its own TLS connection."""

    def __init__(self, address: str, *, ca: str, cert: Optional[str] = None,
                 key: Optional[str] = None, timeout: float = 10.0):
        host, port = split_address(address, 8443)
        self.address = f"{host}:{port}"
        self._http = HttpsJsonClient(host, port, make_context(ca, cert, key), timeout)

    def predict(self, request_key: str, features: Mapping[str, Any]) -> Prediction:
        """Scores one encounter with the version its request_key is routed
        to. InvalidArgument names a bad column (never its value);
        Unavailable while nothing is deployed."""
        return Prediction.from_json(self._http.request(
            "POST", "/v1/predict", {"request_key": request_key, "features": dict(features)}))

    def record_outcome(self, request_key: str, outcome: Union[int, bool]) -> str:
        """Joins the true outcome to the prediction made for request_key
        (NotFound past the retention window, Conflict when already
        recorded); feeds the site's drift monitors."""
        return self._http.request("POST", "/v1/outcome",
                                  {"request_key": request_key, "outcome": outcome})["status"]

    def health(self) -> dict:
        """{"status": "ok", "current_version": ...}; Unavailable with no model."""
        return self._http.request("GET", "/healthz")

    def metrics(self) -> str:
        """The Prometheus text of the serving endpoint."""
        status, raw = self._http.request_raw("GET", "/metrics")
        if status != 200:
            raise error_from_response(status, raw, "GET", "/metrics")
        return raw.decode("utf-8")
