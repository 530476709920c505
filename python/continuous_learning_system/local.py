"""The guide's in-process classes over the project's C++ core (``_cls_core``).

``OnlineLearningSystem``, ``ModelDriftDetector`` and ``ModelVersionManager``
keep the original guide's names and signatures; the work is done by the same
C++ code the site agent runs (core/online_learning, core/drift,
core/rollout), bound with pybind11. This module only adapts names, enums and
types; see docs/python-binding.md.

Thread safety: like the C++ classes, each object is for one thread at a
time (or under the caller's lock); calls into C++ keep the GIL.

Errors: bad arguments raise ``ValueError`` (``TypeError`` for non-numeric
arrays), unknown version ids ``KeyError``, and calls the current state
refuses (e.g. a second rollout while one is in progress)
``_cls_core.StateError``, a ``RuntimeError``.
"""

from __future__ import annotations

import datetime as _dt
import secrets
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

import _cls_core

from .enums import DeploymentStrategy, DriftType, ModelType

__all__ = [
    "DriftAlert",
    "ModelDriftDetector",
    "ModelVersion",
    "ModelVersionManager",
    "OnlineLearningSystem",
    "RouteDecision",
    "StateError",
    "TrainingUpdate",
]

StateError = _cls_core.StateError
# core::TrainingUpdate: update_id, training_loss, validation_accuracy,
# precision, recall, f1, holdout_accuracy, holdout_count, new_samples,
# rehearsal_samples, timestamp.
TrainingUpdate = _cls_core.TrainingUpdate


def _model_type(model_type: Any) -> ModelType:
    """The guide's ModelType from the enum or its string value."""
    if isinstance(model_type, ModelType):
        return model_type
    try:
        return ModelType(model_type)
    except ValueError:
        names = ", ".join(t.value for t in ModelType)
        raise ValueError(f"model_type must be a ModelType ({names})") from None


def _strategy(strategy: Any) -> DeploymentStrategy:
    if isinstance(strategy, DeploymentStrategy):
        return strategy
    try:
        return DeploymentStrategy(strategy)
    except ValueError:
        names = ", ".join(s.value for s in DeploymentStrategy)
        raise ValueError(
            f"strategy must be a DeploymentStrategy ({names})") from None


def _unix_seconds(timestamp: Optional[_dt.datetime]) -> Optional[int]:
    if timestamp is None:
        return None
    if timestamp.tzinfo is None:
        raise ValueError("timestamp must be timezone-aware (e.g. UTC)")
    return int(timestamp.timestamp())


# --------------------------------------------------------------------------
# Online learning


class OnlineLearningSystem:
    """Incremental training as labelled batches arrive (the guide's
    OnlineLearningSystem): prequential validation, mini-batch SGD, an
    elastic anchor against catastrophic forgetting (retention_rate) and
    reservoir rehearsal, by core::OnlineLearningSystem.

    The model is a binary logistic regression whatever the model_type (the
    guide's model types name the clinical use, not an architecture); its
    width is taken from the first batch unless n_features is given.
    """

    def __init__(self, model_type: ModelType, learning_rate: float = 0.001,
                 batch_size: int = 32, retention_rate: float = 0.9, *,
                 n_features: Optional[int] = None,
                 rehearsal_samples: int = 0, holdout_size: int = 200,
                 epochs_per_update: int = 1, seed: int = 1):
        self.model_type = _model_type(model_type)
        self._config = dict(learning_rate=learning_rate,
                            batch_size=batch_size,
                            retention_rate=retention_rate,
                            rehearsal_samples=rehearsal_samples,
                            holdout_size=holdout_size,
                            epochs_per_update=epochs_per_update, seed=seed)
        # Build now so a bad parameter fails here, not at the first update
        # (a one-feature learner when the width is not known yet).
        probe = _cls_core.OnlineLearner(
            1 if n_features is None else n_features, **self._config)
        self._learner = probe if n_features is not None else None

    def incremental_update(self, data: np.ndarray,
                           labels: np.ndarray) -> TrainingUpdate:
        """Scores the batch with the current model (validation_accuracy),
        then learns from it. data: n_samples x n_features; labels: 0/1."""
        if self._learner is None:
            width = np.shape(data)[1] if np.ndim(data) == 2 else 1
            learner = _cls_core.OnlineLearner(width, **self._config)
            update = learner.incremental_update(data, labels)
            self._learner = learner  # only once a batch was accepted
            return update
        return self._learner.incremental_update(data, labels)

    def predict_proba(self, data: np.ndarray) -> np.ndarray:
        """P(label = 1) for each row of data."""
        return self._trained().predict_proba(data)

    def predict(self, data: np.ndarray, threshold: float = 0.5) -> np.ndarray:
        return (self.predict_proba(data) >= threshold).astype(int)

    def get_update_statistics(self) -> Dict[str, Any]:
        """total_updates, total_samples_processed, average_loss,
        latest_accuracy, accuracy_trend ("improving" / "declining" /
        "stable", Mann-Kendall) and trend_p_value."""
        if self._learner is None:
            return _cls_core.OnlineLearner.empty_statistics()
        return self._learner.statistics()

    @property
    def update_history(self) -> List[TrainingUpdate]:
        return [] if self._learner is None else self._learner.history()

    @property
    def parameters(self) -> np.ndarray:
        """The model's weights followed by its bias."""
        return self._trained().parameters

    @property
    def learning_rate(self) -> float:
        return self._config["learning_rate"]

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self._reconfigure(learning_rate=value)

    @property
    def batch_size(self) -> int:
        return self._config["batch_size"]

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        self._reconfigure(batch_size=value)

    @property
    def retention_rate(self) -> float:
        return self._config["retention_rate"]

    def _reconfigure(self, **changes: Any) -> None:
        config = {**self._config, **changes}
        if self._learner is None:
            _cls_core.OnlineLearner(1, **config)  # validates
        else:
            # The learning state carried over under the new config.
            self._learner = self._learner.with_config(
                config["learning_rate"], config["batch_size"])
        self._config = config

    def _trained(self) -> "_cls_core.OnlineLearner":
        if self._learner is None:
            raise StateError("no model yet: call incremental_update first")
        return self._learner


# --------------------------------------------------------------------------
# Drift detection


@dataclass(frozen=True)
class DriftAlert:
    """One drift alert (core::drift::DriftAlert)."""

    drift_type: DriftType
    severity: float  # [0, 1]
    recommended_action: str
    detector: str  # e.g. "windowed_binomial", "adwin", "data_drift"
    evidence: Dict[str, float] = field(default_factory=dict)
    prediction_index: int = 0  # predictions recorded when raised
    timestamp: Optional[_dt.datetime] = None

    @classmethod
    def _from_core(cls, alert: Any) -> Optional["DriftAlert"]:
        if alert is None:
            return None
        return cls(
            drift_type=DriftType(alert.drift_type),
            severity=alert.severity,
            recommended_action=alert.recommended_action,
            detector=alert.detector,
            evidence=dict(alert.evidence),
            prediction_index=alert.prediction_index,
            timestamp=_dt.datetime.fromtimestamp(alert.timestamp_s,
                                                 _dt.timezone.utc))


class ModelDriftDetector:
    """The guide's ModelDriftDetector over core::drift::DriftMonitor: each
    recorded prediction feeds a windowed binomial test, ADWIN, DDM, EDDM and
    Page-Hinkley; an accuracy drop of more than performance_threshold below
    the baseline raises a PERFORMANCE_DRIFT alert (CONCEPT_DRIFT when
    check_data_drift found the inputs unchanged), and check_data_drift
    raises DATA_DRIFT when the inputs moved (docs/drift.md).

    The guide's three drift types only: the core's calibration detector is
    off here.
    """

    def __init__(self, model_type: ModelType,
                 performance_threshold: float = 0.05,
                 window_size: int = 100):
        self.model_type = _model_type(model_type)
        self.performance_threshold = performance_threshold
        self.window_size = window_size
        self._monitor = _cls_core.DriftMonitor(
            performance_threshold=performance_threshold,
            window_size=window_size, use_calibration=False)
        self._data_detector: Optional[_cls_core.DataDriftDetector] = None

    def set_baseline(self, baseline_accuracy: float) -> None:
        """The accuracy the model is expected to keep, in [0, 1]."""
        self._monitor.set_baseline(baseline_accuracy)

    # The brief's name for set_baseline.
    set_baseline_performance = set_baseline

    def record_prediction(self, confidence: float, is_correct: bool,
                          timestamp: Optional[_dt.datetime] = None
                          ) -> Optional[DriftAlert]:
        """Records one labelled prediction (confidence in [0, 1]); returns
        the alert it raised, if any (also kept for check_drift)."""
        if not isinstance(is_correct, (bool, np.bool_)):
            raise TypeError("is_correct must be a bool")
        alert = self._monitor.record_prediction(
            confidence, bool(is_correct), _unix_seconds(timestamp))
        return DriftAlert._from_core(alert)

    def check_drift(self) -> Optional[DriftAlert]:
        """The most severe alert raised since the last call, or None."""
        return DriftAlert._from_core(self._monitor.check_drift())

    # The brief's name for check_drift.
    detect_drift = check_drift

    def set_reference_data(self, reference: np.ndarray,
                           feature_names: Optional[Sequence[str]] = None
                           ) -> None:
        """The training inputs (n_samples x n_features, NaN = missing) that
        check_data_drift compares later batches with."""
        width = np.shape(reference)[1] if np.ndim(reference) == 2 else 0
        names = (list(feature_names) if feature_names is not None
                 else [f"feature_{i}" for i in range(width)])
        self._data_detector = _cls_core.DataDriftDetector(reference, names)

    def check_data_drift(self, current: np.ndarray,
                         timestamp: Optional[_dt.datetime] = None
                         ) -> Dict[str, Any]:
        """Compares a batch of inputs with the reference (per feature PSI and
        Kolmogorov-Smirnov); a drifted dataset raises a DATA_DRIFT alert.
        Returns the report as a dict."""
        if self._data_detector is None:
            raise StateError("no reference data: call set_reference_data")
        report = self._data_detector.assess(current)
        self._monitor.observe_data_drift(report, _unix_seconds(timestamp))
        return report.to_dict()

    def get_drift_statistics(self,
                             now: Optional[_dt.datetime] = None
                             ) -> Dict[str, Any]:
        """total_predictions, recent_accuracy (last window_size),
        baseline_accuracy (NaN until set), total_alerts, recent_alerts (last
        7 days), plus overall_accuracy, calibration and label-free figures."""
        return self._monitor.statistics(_unix_seconds(now))

    @property
    def alerts(self) -> List[DriftAlert]:
        """Every alert raised, oldest first."""
        return [DriftAlert._from_core(a) for a in self._monitor.alerts]


# --------------------------------------------------------------------------
# Versions and rollout


class RouteDecision:
    """Where one request goes: the version that answers and, in shadow mode,
    the version that also scores it."""

    __slots__ = ("serve", "shadow")

    def __init__(self, serve: str, shadow: Optional[str]):
        self.serve = serve
        self.shadow = shadow

    def __repr__(self) -> str:
        return f"RouteDecision(serve={self.serve!r}, shadow={self.shadow!r})"


class ModelVersion:
    """A version as create_version returns it; its deployment fields are
    read live from the manager."""

    def __init__(self, manager: "ModelVersionManager", version_id: str):
        self._manager = manager
        self.version_id = version_id

    def _info(self) -> Dict[str, Any]:
        return self._manager.get_version_info(self.version_id)

    model_hash = property(lambda self: self._info()["model_hash"])
    accuracy = property(lambda self: self._info()["accuracy"])
    precision = property(lambda self: self._info()["precision"])
    recall = property(lambda self: self._info()["recall"])
    f1_score = property(lambda self: self._info()["f1_score"])
    training_samples = property(lambda self: self._info()["training_samples"])
    created_at = property(lambda self: self._info()["created_at"])
    is_active = property(lambda self: self._info()["is_active"])
    deployment_percentage = property(
        lambda self: self._info()["deployment_percentage"])

    @property
    def model_params(self) -> np.ndarray:
        return self._manager.get_version_params(self.version_id)

    def __repr__(self) -> str:
        return f"ModelVersion({self.version_id!r})"


class ModelVersionManager:
    """The guide's ModelVersionManager over core::rollout::VersionRegistry
    and Deployment: versions numbered v{N}_{YYYYMMDD_HHMMSS}, deployed
    IMMEDIATE (100% at once), GRADUAL_ROLLOUT (10%, raised with
    increase_rollout; 100% promotes), AB_TESTING (50/50) or SHADOW_MODE
    (scores every request, answers none). Requests are routed stickily by a
    key (route). The first deployed version serves 100% whatever the
    strategy: there is nothing else to serve.
    """

    def __init__(self, model_type: ModelType):
        self.model_type = _model_type(model_type)
        self._registry = _cls_core.VersionRegistry()

    def create_version(self, accuracy: float, precision: float,
                       recall: float, f1_score: float, training_samples: int,
                       model_params: np.ndarray) -> ModelVersion:
        version_id = self._registry.create(
            accuracy=accuracy, precision=precision, recall=recall,
            f1_score=f1_score, training_samples=training_samples,
            model_params=model_params)
        return ModelVersion(self, version_id)

    def deploy_version(self, version_id: str,
                       strategy: DeploymentStrategy,
                       percentage: Optional[float] = None) -> str:
        """Deploys the version with the strategy; returns its id (its
        percentage is in get_version_info / ModelVersion). percentage: a
        GRADUAL_ROLLOUT's starting share in (0, 100] instead of 10."""
        # A new salt per rollout: a different slice of requests goes first.
        self._registry.deploy(version_id, _strategy(strategy).value,
                              f"{version_id}:{secrets.token_hex(16)}",
                              percentage)
        return version_id

    def increase_rollout(self, version_id: str, increment: float) -> float:
        """Raises a gradual rollout by increment points; returns the new
        percentage (capped at 100, which promotes the version)."""
        return self._registry.increase_rollout(version_id, increment)

    def promote_version(self, version_id: str) -> None:
        """The candidate (e.g. an A/B winner) serves 100%."""
        self._registry.promote(version_id)

    def rollback_version(self, version_id: str) -> bool:
        """All traffic to version_id (the current version during a rollout,
        or an earlier current version). False when the state refuses it
        (e.g. the version never served as the current one); KeyError for an
        unknown id."""
        try:
            self._registry.rollback(version_id)
        except StateError:
            return False
        return True

    def route(self, request_key: str) -> RouteDecision:
        """The version answering the request with this key (sticky: the same
        key gets the same version for the whole rollout)."""
        serve, shadow = self._registry.route(str(request_key))
        return RouteDecision(serve, shadow)

    def record_outcome(self, version_id: str, is_correct: bool) -> None:
        """One outcome of a request the version answered (A/B comparison)."""
        self._registry.record_outcome(version_id, bool(is_correct))

    def compare_versions(self) -> Dict[str, Any]:
        """The sequential A/B test of the candidate against the current
        version: effect, always-valid CI and p-value, verdict
        ("inconclusive", "candidate_better", "candidate_worse")."""
        return self._registry.compare()

    def list_versions(self) -> List[Dict[str, Any]]:
        return self._registry.list()

    def get_version_info(self, version_id: str) -> Dict[str, Any]:
        return self._registry.get(version_id)

    def get_version_params(self, version_id: str) -> np.ndarray:
        return self._registry.parameters(version_id)

    @property
    def current_version(self) -> Optional[str]:
        for info in self._registry.list():
            if info["role"] == "current":
                return info["version_id"]
        return None
