"""Typed results of the client, in the original guide's vocabulary where it
has one (round_number, participating_sites, model_hash, recent_alerts, ...).

Every result keeps the server's JSON in `raw` (fields added by a newer
coordinator are there), and `result["name"]` reads an attribute, so the
guide's dictionary-style examples (stats['total_sites']) work unchanged.
"""

from dataclasses import dataclass, field, fields
from typing import Any, Optional

from .enums import DeploymentStrategy, ModelType


class _DictAccess:
    def __getitem__(self, name: str) -> Any:
        cls = type(self)
        names = {f.name for f in fields(self)} | {
            n for n in dir(cls) if isinstance(getattr(cls, n, None), property)}
        if name not in names:
            raise KeyError(name)
        return getattr(self, name)

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default


def _model_type(value: Any) -> Any:
    try:
        return ModelType(value)
    except ValueError:
        return value  # a kind this client does not know; kept as the string


def _strategy(value: Any) -> Any:
    try:
        return DeploymentStrategy(value)
    except ValueError:
        return value


@dataclass
class FederatedSite(_DictAccess):
    """A hospital of the consortium (GET /v1/sites). The first five fields
    are the guide's FederatedSite."""
    site_id: str
    site_name: str = ""
    location: str = ""
    num_samples: int = 0
    trust_score: float = 1.0
    status: str = ""  # pending, approved, revoked, quarantined
    connected: bool = False
    registered_at: Optional[str] = None
    last_seen: Optional[str] = None
    agent_version: str = ""
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, d: dict) -> "FederatedSite":
        return cls(site_id=d["site_id"], site_name=d.get("site_name", ""),
                   location=d.get("location", ""), num_samples=d.get("num_samples", 0),
                   trust_score=d.get("trust_score", 1.0), status=d.get("status", ""),
                   connected=d.get("connected", False),
                   registered_at=d.get("registered_at"), last_seen=d.get("last_seen"),
                   agent_version=d.get("agent_version", ""), raw=d)


@dataclass
class FederatedRound(_DictAccess):
    """One training round (GET /v1/rounds)."""
    round_number: int
    status: str  # running, completed, aborted
    stage: str
    participating_sites: list
    contributors: list
    dropped: list
    model_version: Optional[str]
    validation: Optional[dict]
    evaluation: Optional[dict]
    started_at: Optional[str]
    finished_at: Optional[str]
    duration_ms: Optional[int]
    abort_reason: Optional[str]
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def round_id(self) -> int:
        return self.round_number

    @property
    def aggregated_accuracy(self) -> Optional[float]:
        """The produced model's accuracy on the sites' held-out rows (the
        guide's round_result.aggregated_accuracy); None until reported."""
        return (self.evaluation or {}).get("accuracy")

    @property
    def completed(self) -> bool:
        return self.status == "completed"

    @classmethod
    def from_json(cls, d: dict) -> "FederatedRound":
        return cls(round_number=d["round_id"], status=d.get("status", ""),
                   stage=d.get("stage", ""), participating_sites=d.get("participants", []),
                   contributors=d.get("contributors", []), dropped=d.get("dropped", []),
                   model_version=d.get("model_version"), validation=d.get("validation"),
                   evaluation=d.get("evaluation"), started_at=d.get("started_at"),
                   finished_at=d.get("finished_at"), duration_ms=d.get("duration_ms"),
                   abort_reason=d.get("abort_reason"), raw=d)


@dataclass
class RoundsRequested(_DictAccess):
    """POST /v1/rounds: the first requested round's id and how many."""
    first_round: int
    queued: int


@dataclass
class FederationStatistics(_DictAccess):
    """GET /v1/federation/stats: the guide's get_federation_statistics."""
    federated: bool
    total_sites: int
    active_sites: int
    total_rounds: int
    total_samples: int
    average_accuracy: Optional[float]
    total_privacy_budget_used: float
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, d: dict) -> "FederationStatistics":
        return cls(federated=d["federated"], total_sites=d["total_sites"],
                   active_sites=d["active_sites"], total_rounds=d["total_rounds"],
                   total_samples=d["total_samples"],
                   average_accuracy=d.get("average_accuracy"),
                   total_privacy_budget_used=d["total_privacy_budget_used"], raw=d)


@dataclass
class ModelVersion(_DictAccess):
    """A model version (GET /v1/versions, /v1/versions/{id}); metrics are
    summed over the sites' held-out evaluations, None until reported."""
    version_id: str
    model_hash: str
    created_at: str
    round_id: int
    parent_version: Optional[str]
    sequence: int
    model_type: Any
    is_active: bool  # the federation's current global model
    accuracy: Optional[float]
    precision: Optional[float]
    recall: Optional[float]
    f1_score: Optional[float]
    auc: Optional[float]
    loss: Optional[float]
    training_samples: Optional[int]
    evaluated_rows: Optional[int]
    # Share of requests it serves under the deployment in force (0 when not
    # deployed); filled by Federation.list_versions/get_version.
    deployment_percentage: float = 0.0
    lineage: Optional[dict] = None
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, d: dict) -> "ModelVersion":
        m = d.get("metrics") or {}
        return cls(version_id=d["version_id"], model_hash=d.get("hash", ""),
                   created_at=d.get("created_at", ""), round_id=d.get("round_id", 0),
                   parent_version=d.get("parent_version"), sequence=d.get("sequence", 0),
                   model_type=_model_type(d.get("model_type")),
                   is_active=bool(d.get("current", False)), accuracy=m.get("accuracy"),
                   precision=m.get("precision"), recall=m.get("recall"),
                   f1_score=m.get("f1"), auc=m.get("auc"), loss=m.get("loss"),
                   training_samples=m.get("training_samples"),
                   evaluated_rows=m.get("evaluated_rows"), lineage=d.get("lineage"),
                   raw=d)


@dataclass
class Deployment(_DictAccess):
    """A deployment change (deploy, rollout, promote, rollback answers)."""
    deployment_id: str
    action: str
    strategy: Any  # DeploymentStrategy
    current_version: Optional[str]
    candidate_version: Optional[str]
    percentage: float
    actor: str
    automatic: bool
    reason: Optional[str]
    created_at: str
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, d: dict) -> "Deployment":
        return cls(deployment_id=d.get("deployment_id", ""), action=d.get("action", ""),
                   strategy=_strategy(d.get("strategy")),
                   current_version=d.get("current_version") or None,
                   candidate_version=d.get("candidate_version") or None,
                   percentage=float(d.get("percentage") or 0.0), actor=d.get("actor", ""),
                   automatic=bool(d.get("automatic", False)), reason=d.get("reason"),
                   created_at=d.get("created_at", ""), raw=d)


@dataclass
class DeploymentStatus(_DictAccess):
    """GET /v1/deployment: the deployment in force (None before the first),
    the rollout's running comparison, each site's ack, recent history."""
    deployment: Optional[Deployment]
    comparison: Optional[dict]
    policy: dict
    sites: list
    history: list
    raw: dict = field(default_factory=dict, repr=False)

    def sites_up_to_date(self) -> bool:
        """Every connected approved site acked the deployment in force."""
        return all(s.get("up_to_date") for s in self.sites if s.get("connected"))

    @classmethod
    def from_json(cls, d: dict) -> "DeploymentStatus":
        dep = d.get("deployment")
        return cls(deployment=Deployment.from_json(dep) if dep else None,
                   comparison=d.get("comparison"), policy=d.get("policy") or {},
                   sites=d.get("sites") or [],
                   history=[Deployment.from_json(h) for h in d.get("history") or []], raw=d)


@dataclass
class VersionComparison(_DictAccess):
    """GET /v1/versions/compare: b against a (mSPRT on reported outcomes)."""
    a: str
    b: str
    verdict: str
    effect: Optional[float]
    ci_low: Optional[float]
    ci_high: Optional[float]
    p_value: Optional[float]
    description: str
    counts: dict
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, d: dict) -> "VersionComparison":
        return cls(a=d["a"], b=d["b"], verdict=d.get("verdict", ""), effect=d.get("effect"),
                   ci_low=d.get("ci_low"), ci_high=d.get("ci_high"),
                   p_value=d.get("p_value"), description=d.get("description", ""),
                   counts=d.get("counts") or {}, raw=d)


@dataclass
class DriftStatistics(_DictAccess):
    """One version's drift statistics merged over the sites (GET /v1/drift):
    the guide's get_drift_statistics fields (recent_alerts = alerts in the
    last 7 days) and more. Counts only."""
    version_id: str
    role: Optional[str]  # current, candidate or None
    total_predictions: int
    recent_accuracy: Optional[float]
    baseline_accuracy: Optional[float]
    overall_accuracy: Optional[float]
    total_alerts: int
    recent_alerts: int
    max_severity: float
    unlabelled_predictions: int
    estimated_accuracy: Optional[float]
    ece: Optional[float]
    sites_with_data_drift: int
    max_psi: float
    sites: int
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, d: dict) -> "DriftStatistics":
        return cls(version_id=d["version_id"], role=d.get("role"),
                   total_predictions=d.get("total_predictions", 0),
                   recent_accuracy=d.get("recent_accuracy"),
                   baseline_accuracy=d.get("baseline_accuracy"),
                   overall_accuracy=d.get("overall_accuracy"),
                   total_alerts=d.get("total_alerts", 0),
                   recent_alerts=d.get("alerts_last_7_days", 0),
                   max_severity=d.get("max_severity", 0.0),
                   unlabelled_predictions=d.get("unlabelled_predictions", 0),
                   estimated_accuracy=d.get("estimated_accuracy"), ece=d.get("ece"),
                   sites_with_data_drift=d.get("sites_with_data_drift", 0),
                   max_psi=d.get("max_psi", 0.0), sites=d.get("sites", 0), raw=d)


@dataclass
class DriftStatus(_DictAccess):
    """GET /v1/drift: per version statistics, per site last report."""
    deployment: Optional[Deployment]
    versions: list  # of DriftStatistics
    sites: list
    raw: dict = field(default_factory=dict, repr=False)

    def version(self, version_id: str) -> Optional[DriftStatistics]:
        return next((v for v in self.versions if v.version_id == version_id), None)

    @classmethod
    def from_json(cls, d: dict) -> "DriftStatus":
        dep = d.get("deployment")
        return cls(deployment=Deployment.from_json(dep) if dep else None,
                   versions=[DriftStatistics.from_json(v) for v in d.get("versions") or []],
                   sites=d.get("sites") or [], raw=d)


@dataclass
class PrivacyStatus(_DictAccess):
    """GET /v1/privacy: the current period's epsilon, spent and remaining,
    one history row per charged round, and each DP-SGD site's record-level
    ledger (docs/privacy.md). With the coordinator's cross-site DP off,
    ``enabled`` is False, ``mode`` is "off" and the site-level figures are
    None (no site-level guarantee, not "nothing spent"); ``record_level``
    is still filled."""
    mode: str
    spent_epsilon: Optional[float]
    remaining_epsilon: Optional[float]
    rounds_charged: Optional[int]
    period: dict
    history: list
    noise_multiplier: Optional[float] = None
    privacy_epsilon_per_round: Optional[float] = None
    enabled: bool = True
    record_level: list = field(default_factory=list)
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def budget_epsilon(self) -> Optional[float]:
        return self.period.get("epsilon_budget")

    @classmethod
    def from_json(cls, d: dict) -> "PrivacyStatus":
        return cls(mode=d["mode"], spent_epsilon=d.get("spent_epsilon"),
                   remaining_epsilon=d.get("remaining_epsilon"),
                   rounds_charged=d.get("rounds_charged"), period=d.get("period") or {},
                   history=d.get("history") or [],
                   noise_multiplier=d.get("noise_multiplier"),
                   privacy_epsilon_per_round=d.get("privacy_epsilon_per_round"),
                   enabled=d.get("enabled", d["mode"] != "off"),
                   record_level=d.get("record_level") or [], raw=d)


@dataclass
class SystemStatus(_DictAccess):
    """GET /v1/status: the guide's get_system_status."""
    coordinator_id: str
    version: str
    model_type: Any
    model_version: Optional[str]
    min_sites: int
    sites: dict  # approved, connected, pending, quarantined
    round: Optional[FederatedRound]
    queued_rounds: int
    aggregation: dict
    protocol_versions: list
    federated: Optional[bool] = None  # absent on coordinators before issue 15
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, d: dict) -> "SystemStatus":
        r = d.get("round")
        return cls(coordinator_id=d.get("coordinator_id", ""), version=d.get("version", ""),
                   model_type=_model_type(d.get("model_type")),
                   model_version=d.get("model_version"), min_sites=d.get("min_sites", 0),
                   sites=d.get("sites") or {}, round=FederatedRound.from_json(r) if r else None,
                   queued_rounds=d.get("queued_rounds", 0),
                   aggregation=d.get("aggregation") or {},
                   protocol_versions=d.get("protocol_versions") or [],
                   federated=d.get("federated"), raw=d)


@dataclass
class AuditVerification(_DictAccess):
    """`clsctl audit verify --json`'s report (docs/audit.md)."""
    ok: bool
    entries: int
    first_seq: Optional[int]
    last_seq: Optional[int]
    checkpoints_checked: int
    last_signed_seq: Optional[int]
    problems: list
    notes: list
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, d: dict) -> "AuditVerification":
        return cls(ok=bool(d.get("ok")), entries=d.get("entries", 0),
                   first_seq=d.get("first_seq"), last_seq=d.get("last_seq"),
                   checkpoints_checked=d.get("checkpoints_checked", 0),
                   last_signed_seq=d.get("last_signed_seq"),
                   problems=d.get("problems") or [], notes=d.get("notes") or [], raw=d)


@dataclass
class Prediction(_DictAccess):
    """POST /v1/predict at a site: P(y = 1), the label and the version that
    answered; `probabilities` per class with multi-class models."""
    probability: float
    label: Any
    version_id: str
    probabilities: Optional[dict] = None
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, d: dict) -> "Prediction":
        return cls(probability=d.get("probability"), label=d.get("label"),
                   version_id=d.get("version_id", ""), probabilities=d.get("probabilities"),
                   raw=d)
