"""Federation: the coordinator's admin API (docs/admin-api.md) over mutual
TLS, in the original guide's vocabulary where it has one. The coordinator
enforces every permission by the certificate's role; this client only maps
answers to results and errors (errors.py)."""

import json
import os
import shutil
import subprocess
import tempfile
import time
from typing import Any, Optional, Union
from urllib.parse import quote

from . import config as _config
from ._http import HttpsJsonClient, make_context, split_address
from .enums import DeploymentStrategy
from .errors import ClsError, NotFound, WaitTimeout, error_from_response
from .results import (AuditVerification, Deployment, DeploymentStatus, DriftStatistics,
                      DriftStatus, FederatedRound, FederatedSite, FederationStatistics,
                      ModelVersion, PrivacyStatus, RoundsRequested, SystemStatus,
                      VersionComparison)

SiteRef = Union[str, FederatedSite]


def _id(site: SiteRef) -> str:
    return quote(site.site_id if isinstance(site, FederatedSite) else site, safe="")


class Federation:
    """Client of one coordinator's admin API.

    Federation("127.0.0.1:7444", ca="pki/ca.pem", cert="pki/issued/alice.pem",
    key="pki/issued/alice.key"), or Federation.from_clsctl_config() /
    Federation.from_environment() for clsctl's config file or variables.
    `timeout` (seconds) bounds each request. Thread-safe: each call opens
    its own TLS connection, so threads may share one client.
    """

    def __init__(self, coordinator: str = _config.DEFAULT_ADMIN, *, ca: str, cert: str,
                 key: str, timeout: float = 30.0):
        host, port = split_address(coordinator, 7444)
        self.coordinator = f"{host}:{port}"
        self.ca = ca
        self._http = HttpsJsonClient(host, port, make_context(ca, cert, key), timeout)

    @classmethod
    def from_clsctl_config(cls, path: Optional[str] = None, context: Optional[str] = None,
                           timeout: float = 30.0) -> "Federation":
        c = _config.load_context(path, context)
        return cls(c.coordinator, ca=c.ca, cert=c.cert, key=c.key, timeout=timeout)

    @classmethod
    def from_environment(cls, timeout: float = 30.0) -> "Federation":
        c = _config.from_environment()
        return cls(c.coordinator, ca=c.ca, cert=c.cert, key=c.key, timeout=timeout)

    def _get(self, path: str, **query: Any) -> Any:
        return self._http.request("GET", path, query=query)

    def _post(self, path: str, body: Any = None) -> Any:
        return self._http.request("POST", path, body if body is not None else {})

    # ---------------------------------------------------------------- status
    def get_system_status(self) -> SystemStatus:
        return SystemStatus.from_json(self._get("/v1/status"))

    def get_federation_statistics(self) -> FederationStatistics:
        """The guide's federation statistics (GET /v1/federation/stats)."""
        return FederationStatistics.from_json(self._get("/v1/federation/stats"))

    # ----------------------------------------------------------------- sites
    def list_sites(self) -> list[FederatedSite]:
        return [FederatedSite.from_json(s) for s in self._get("/v1/sites")["sites"]]

    def get_site(self, site: SiteRef) -> FederatedSite:
        return FederatedSite.from_json(self._get(f"/v1/sites/{_id(site)}"))

    def approve_site(self, site: SiteRef) -> str:
        """Admits a site whose agent has connected; its new status."""
        return self._post(f"/v1/sites/{_id(site)}/approve")["status"]

    def register_site(self, site: SiteRef) -> str:
        """The guide's register_site: a site registers itself when its agent
        first connects (with its certificate); the operator's part is to
        approve it. Same as approve_site."""
        return self.approve_site(site)

    def revoke_site(self, site: SiteRef, reason: Optional[str] = None) -> str:
        body = {"reason": reason} if reason else {}
        return self._post(f"/v1/sites/{_id(site)}/revoke", body)["status"]

    def set_trust(self, site: SiteRef, trust_score: float) -> float:
        return self._post(f"/v1/sites/{_id(site)}/trust",
                          {"trust_score": trust_score})["trust_score"]

    def reinstate_site(self, site: SiteRef, trust_score: Optional[float] = None) -> str:
        body = {"trust_score": trust_score} if trust_score is not None else {}
        return self._post(f"/v1/sites/{_id(site)}/reinstate", body)["status"]

    def wait_for_sites(self, count: int, timeout: float = 60.0,
                       poll_interval: float = 0.2) -> SystemStatus:
        """Waits until `count` approved sites are connected."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.get_system_status()
            if status.sites.get("connected", 0) >= count:
                return status
            if time.monotonic() >= deadline:
                raise WaitTimeout(f"{status.sites.get('connected', 0)} of {count} approved "
                                  f"sites connected after {timeout:g} s")
            time.sleep(poll_interval)

    # ---------------------------------------------------------------- rounds
    def start_rounds(self, rounds: int = 1) -> RoundsRequested:
        """Queues `rounds` training rounds; the first starts now. Conflict
        when too few sites are connected or a round is running."""
        r = self._post("/v1/rounds", {"rounds": rounds})
        return RoundsRequested(first_round=r["first_round"], queued=r["queued"])

    def initiate_training_round(self) -> FederatedRound:
        """The guide's initiate_training_round: starts one round and returns
        it as it is now (usually running)."""
        first = self.start_rounds(1).first_round
        current = self._get("/v1/rounds/current").get("round")
        if current and current.get("round_id") == first:
            return FederatedRound.from_json(current)
        return self.get_round(first)

    def current_round(self) -> Optional[FederatedRound]:
        r = self._get("/v1/rounds/current").get("round")
        return FederatedRound.from_json(r) if r else None

    def list_rounds(self, limit: int = 50) -> list[FederatedRound]:
        """The most recent rounds, oldest first."""
        return [FederatedRound.from_json(r) for r in self._get("/v1/rounds", limit=limit)["rounds"]]

    def get_round(self, round_number: int) -> FederatedRound:
        for r in self.list_rounds(limit=10000):
            if r.round_number == round_number:
                return r
        raise NotFound(f"round {round_number} is not in the history")

    def wait_for_rounds(self, first_round: int, count: int = 1, timeout: float = 300.0,
                        poll_interval: float = 0.2) -> list[FederatedRound]:
        """Waits until rounds first_round.. have ended (completed or aborted)
        and returns them. Returns fewer than `count` when the coordinator
        went idle first (a queued round refused, e.g. for privacy budget);
        WaitTimeout after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            ended = [r for r in self.list_rounds(limit=max(50, count + 10))
                     if r.round_number >= first_round and r.status != "running"]
            if len(ended) >= count:
                return ended[:count]
            current = self._get("/v1/rounds/current")
            if current.get("round") is None and current.get("queued_rounds", 0) == 0:
                # Idle: read once more, a round may have ended in between.
                return [r for r in self.list_rounds(limit=max(50, count + 10))
                        if r.round_number >= first_round and r.status != "running"][:count]
            if time.monotonic() >= deadline:
                raise WaitTimeout(f"{len(ended)} of {count} rounds from round {first_round} "
                                  f"ended within {timeout:g} s")
            time.sleep(poll_interval)

    def run_rounds(self, rounds: int = 1, timeout: float = 300.0) -> list[FederatedRound]:
        """Starts `rounds` rounds and waits for them."""
        first = self.start_rounds(rounds).first_round
        return self.wait_for_rounds(first, rounds, timeout)

    def perform_federated_round(self, timeout: float = 300.0) -> FederatedRound:
        """The guide's perform_federated_round: one round, waited for. The
        sites train on their own data; no updates pass through this client."""
        ended = self.run_rounds(1, timeout)
        if not ended:
            raise ClsError("the round was refused before it started (see the audit log)")
        return ended[0]

    def abort_round(self) -> int:
        return self._post("/v1/rounds/abort")["aborted_round"]

    def clear_round_queue(self) -> int:
        return self._http.request("DELETE", "/v1/rounds/queue")["cleared"]

    # -------------------------------------------------------------- versions
    def current_model(self) -> dict:
        """The global model with its parameters (GET /v1/models/current)."""
        return self._get("/v1/models/current")

    def _percentages(self, status: DeploymentStatus) -> dict:
        d = status.deployment
        if d is None or not d.current_version:
            return {}
        if not d.candidate_version:
            return {d.current_version: 100.0}
        served = 0.0 if d.strategy == DeploymentStrategy.SHADOW_MODE else d.percentage
        return {d.current_version: 100.0 - served, d.candidate_version: served}

    def list_versions(self, limit: int = 100) -> list[ModelVersion]:
        """Newest first, with each version's share of requests now."""
        versions = [ModelVersion.from_json(v)
                    for v in self._get("/v1/versions", limit=limit)["versions"]]
        shares = self._percentages(self.get_deployment())
        for v in versions:
            v.deployment_percentage = shares.get(v.version_id, 0.0)
        return versions

    def get_version(self, version_id: str) -> ModelVersion:
        """One version with its lineage; NotFound for an unknown id."""
        v = ModelVersion.from_json(self._get(f"/v1/versions/{quote(version_id, safe='')}"))
        v.deployment_percentage = self._percentages(self.get_deployment()).get(v.version_id, 0.0)
        return v

    get_version_info = get_version

    def compare_versions(self, a: str, b: str) -> VersionComparison:
        """b against a on the outcomes the sites reported."""
        return VersionComparison.from_json(self._get("/v1/versions/compare", a=a, b=b))

    # ----------------------------------------------------------- deployments
    def get_deployment(self) -> DeploymentStatus:
        return DeploymentStatus.from_json(self._get("/v1/deployment"))

    def wait_for_deployment(self, timeout: float = 60.0,
                            poll_interval: float = 0.2) -> DeploymentStatus:
        """Waits until every connected site has acknowledged the deployment
        in force (it serves it); WaitTimeout names the sites still behind."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.get_deployment()
            if status.sites_up_to_date():
                return status
            if time.monotonic() >= deadline:
                behind = [s.get("site_id") for s in status.sites
                          if s.get("connected") and not s.get("up_to_date")]
                raise WaitTimeout(f"sites {', '.join(behind)} have not acknowledged "
                                  f"the deployment within {timeout:g} s")
            time.sleep(poll_interval)

    def deploy(self, version_id: str,
               strategy: Union[str, DeploymentStrategy] = DeploymentStrategy.GRADUAL_ROLLOUT,
               percentage: float = 10, reason: Optional[str] = None) -> Deployment:
        """Deploys a version to every site. The first deployment must be
        IMMEDIATE. GRADUAL_ROLLOUT starts at 10% and, for a larger
        `percentage`, is raised to it at once; the other strategies fix the
        share themselves (AB_TESTING 50%, SHADOW_MODE 0% served), so
        `percentage` applies to GRADUAL_ROLLOUT only."""
        strategy = DeploymentStrategy(strategy)
        if strategy == DeploymentStrategy.GRADUAL_ROLLOUT and not 10 <= percentage <= 100:
            raise ValueError("a gradual rollout starts at 10%: percentage must be 10..100")
        body: dict = {"strategy": strategy.value}
        if reason:
            body["reason"] = reason
        answer = Deployment.from_json(
            self._post(f"/v1/versions/{quote(version_id, safe='')}/deploy", body))
        if strategy == DeploymentStrategy.GRADUAL_ROLLOUT and percentage > answer.percentage:
            answer = self.set_rollout(version_id, percentage)
        return answer

    def deploy_version(self, version_id: str,
                       strategy: Union[str, DeploymentStrategy]) -> Deployment:
        """The guide's deploy_version(version_id, strategy)."""
        return self.deploy(version_id, strategy)

    def deploy_immediately(self, version_id: str, reason: Optional[str] = None) -> Deployment:
        return self.deploy(version_id, DeploymentStrategy.IMMEDIATE, reason=reason)

    def start_ab_test(self, version_id: str, reason: Optional[str] = None) -> Deployment:
        return self.deploy(version_id, DeploymentStrategy.AB_TESTING, reason=reason)

    def deploy_shadow(self, version_id: str, reason: Optional[str] = None) -> Deployment:
        return self.deploy(version_id, DeploymentStrategy.SHADOW_MODE, reason=reason)

    def set_rollout(self, version_id: str, percentage: float) -> Deployment:
        """The candidate of a gradual rollout serves `percentage`% (only
        upwards)."""
        return Deployment.from_json(self._post(
            f"/v1/versions/{quote(version_id, safe='')}/rollout", {"percent": percentage}))

    def increase_rollout(self, version_id: str, increment: float) -> float:
        """The guide's increase_rollout: adds `increment` points to the
        candidate's share (at most 100) and returns the new percentage."""
        current = self.get_deployment().deployment
        now = current.percentage if current else 0.0
        return self.set_rollout(version_id, min(100.0, now + increment)).percentage

    def promote(self, reason: Optional[str] = None) -> Deployment:
        """The candidate becomes the current version."""
        return Deployment.from_json(self._post("/v1/versions/promote",
                                               {"reason": reason} if reason else {}))

    def rollback(self, version_id: Optional[str] = None,
                 reason: Optional[str] = None) -> Deployment:
        """All traffic back to the last stable version, or to the named
        earlier `version_id`."""
        body: dict = {}
        if version_id:
            body["version_id"] = version_id
        if reason:
            body["reason"] = reason
        return Deployment.from_json(self._post("/v1/versions/rollback", body))

    def rollback_version(self, version_id: Optional[str] = None) -> bool:
        """The guide's rollback_version: True once rolled back; a refusal
        raises (Conflict when nothing is rolling out, NotFound for an
        unknown version)."""
        self.rollback(version_id)
        return True

    # ----------------------------------------------------------------- drift
    def get_drift_status(self) -> DriftStatus:
        return DriftStatus.from_json(self._get("/v1/drift"))

    def get_drift_statistics(self, version_id: Optional[str] = None) -> DriftStatistics:
        """One version's statistics merged over the sites (default: the
        current version of the deployment in force). NotFound when no site
        reported on it yet."""
        status = self.get_drift_status()
        if version_id is None:
            if status.deployment is None or not status.deployment.current_version:
                raise ClsError("nothing is deployed: pass a version_id")
            version_id = status.deployment.current_version
        stats = status.version(version_id)
        if stats is None:
            raise NotFound(f"no site has reported drift statistics for version "
                           f"'{version_id}' yet")
        return stats

    def list_drift_alerts(self, limit: int = 100,
                          version_id: Optional[str] = None) -> list[dict]:
        return self._get("/v1/drift/alerts", limit=limit, version=version_id)["alerts"]

    # --------------------------------------------------------------- privacy
    def get_privacy_status(self, limit: Optional[int] = None) -> PrivacyStatus:
        """With the coordinator's cross-site DP off: ``enabled`` False, the
        site-level figures None, the sites' ``record_level`` still listed."""
        return PrivacyStatus.from_json(self._get("/v1/privacy", limit=limit))

    def reset_privacy_budget(self, reason: str, budget_epsilon: Optional[float] = None,
                             delta: Optional[float] = None) -> dict:
        body: dict = {"reason": reason}
        if budget_epsilon is not None:
            body["budget_epsilon"] = budget_epsilon
        if delta is not None:
            body["delta"] = delta
        return self._post("/v1/privacy/reset", body)

    # ----------------------------------------------------------------- audit
    def export_audit(self, since: Optional[str] = None, until: Optional[str] = None) -> dict:
        """The audit log export as a dict (docs/audit.md)."""
        return self._get("/v1/audit", since=since, until=until)

    def export_audit_log(self, since: Optional[str] = None, until: Optional[str] = None) -> str:
        """The guide's export_audit_log: the export as JSON text, exactly as
        the coordinator sent it (keep it as is for verification)."""
        status, raw = self._http.request_raw(
            "GET", "/v1/audit", query={"since": since, "until": until})
        if status != 200:
            raise error_from_response(status, raw, "GET", "/v1/audit")
        return raw.decode("utf-8")

    def verify_audit_log(self, export: Union[str, dict, None] = None,
                         clsctl: Optional[str] = None) -> AuditVerification:
        """Checks an export (default: a new one) with `clsctl audit verify`,
        which recomputes every hash and checks every signed checkpoint
        against the coordinator certificate and this client's CA; the
        verification does not trust the coordinator. `clsctl`: its path
        (default $CLSCTL, else clsctl on PATH)."""
        program = clsctl or os.environ.get("CLSCTL") or shutil.which("clsctl")
        if not program:
            raise FileNotFoundError("clsctl not found: pass clsctl= or set CLSCTL")
        text = self.export_audit_log() if export is None else (
            export if isinstance(export, str) else json.dumps(export))
        with tempfile.TemporaryDirectory(prefix="cls-audit-") as tmp:
            path = os.path.join(tmp, "audit.json")
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            r = subprocess.run([program, "--ca", self.ca, "--json", "audit", "verify", path],
                               capture_output=True, text=True, timeout=300)
        # 0: verified, 5: problems found (listed); anything else is an error.
        if r.returncode not in (0, 5):
            raise ClsError(f"clsctl audit verify failed ({r.returncode}): "
                           f"{(r.stderr or r.stdout).strip()[:500]}")
        return AuditVerification.from_json(json.loads(r.stdout))


# The guide's names: the integrated system, and its federated coordinator
# (a client of the real one).
ContinuousLearningSystem = Federation
FederatedLearningCoordinator = Federation
