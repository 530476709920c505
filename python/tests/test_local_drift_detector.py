"""The guide's "Model Drift Detector" examples against the C++ core
(core/drift's DriftMonitor via continuous_learning_system.local)."""

import datetime as dt
import math

import numpy as np
import pytest

from continuous_learning_system.enums import DriftType, ModelType
from continuous_learning_system.local import (ModelDriftDetector,
                                              StateError)

UTC = dt.timezone.utc


def stream(detector, rng, n, accuracy, timestamp=None):
    """Records n predictions, each correct with probability `accuracy`;
    returns the alerts record_prediction raised."""
    raised = []
    for _ in range(n):
        correct = bool(rng.random() < accuracy)
        confidence = float(rng.uniform(0.8, 1.0) if correct
                           else rng.uniform(0.5, 0.8))
        alert = detector.record_prediction(confidence, correct, timestamp)
        if alert is not None:
            raised.append(alert)
    return raised


def guide_detector(**kwargs):
    detector = ModelDriftDetector(
        model_type=ModelType.DIAGNOSIS_PREDICTOR,
        performance_threshold=kwargs.get("performance_threshold", 0.05),
        window_size=kwargs.get("window_size", 100),
    )
    detector.set_baseline(0.90)
    return detector


def test_local_guide_monitoring_example_raises_nothing_on_three_predictions():
    detector = guide_detector()
    detector.record_prediction(confidence=0.92, is_correct=True)
    detector.record_prediction(confidence=0.88, is_correct=True)
    detector.record_prediction(confidence=0.65, is_correct=False)

    assert detector.check_drift() is None

    stats = detector.get_drift_statistics()
    assert stats["total_predictions"] == 3
    assert stats["baseline_accuracy"] == pytest.approx(0.90)
    assert stats["recent_accuracy"] == pytest.approx(2 / 3)
    assert stats["total_alerts"] == 0
    assert stats["recent_alerts"] == 0


def test_local_alert_after_degraded_stream_not_before():
    detector = guide_detector()
    rng = np.random.default_rng(2024)

    assert stream(detector, rng, 1000, accuracy=0.92) == []
    assert detector.check_drift() is None
    assert detector.alerts == []

    raised = stream(detector, rng, 400, accuracy=0.70)

    assert raised, "a 20-point accuracy drop raised no alert"
    alert = detector.check_drift()
    assert alert is not None
    assert alert.drift_type is DriftType.PERFORMANCE_DRIFT
    # Drop of 20 points at threshold 0.05: severity clamps to 1.
    assert alert.severity > 0.8
    assert alert.recommended_action == "roll back to the last stable version"
    assert alert.prediction_index > 1000  # raised in the degraded part
    assert alert.timestamp.tzinfo is not None
    # check_drift hands an alert out once.
    assert detector.check_drift() is None

    stats = detector.get_drift_statistics()
    assert stats["total_predictions"] == 1400
    assert stats["recent_accuracy"] < 0.80
    assert stats["total_alerts"] == len(detector.alerts) >= 1
    assert stats["recent_alerts"] == stats["total_alerts"]


def test_local_guide_automated_responses():
    actions = []

    def monitor_and_respond(detector):
        alert = detector.check_drift()
        if alert:
            if alert.drift_type == DriftType.PERFORMANCE_DRIFT:
                if alert.severity > 0.8:
                    actions.append("emergency_rollback")
                elif alert.severity > 0.5:
                    actions.append("notify_and_retrain")
                else:
                    actions.append("log")
            elif alert.drift_type == DriftType.CONCEPT_DRIFT:
                actions.append("retrain_with_new_data")

    detector = guide_detector()
    rng = np.random.default_rng(77)
    stream(detector, rng, 500, accuracy=0.92)
    monitor_and_respond(detector)
    assert actions == []
    stream(detector, rng, 500, accuracy=0.60)
    monitor_and_respond(detector)
    assert actions == ["emergency_rollback"]


def even_stream(detector, n, accuracy):
    """n predictions with the errors spread evenly (every window of w
    predictions has accuracy * w correct, +-1): no sampling noise."""
    for i in range(n):
        correct = int((i + 1) * accuracy) - int(i * accuracy) == 1
        detector.record_prediction(0.9 if correct else 0.6, correct)


def test_local_troubleshooting_higher_threshold_ignores_a_small_drop():
    # A 9-point drop (0.90 -> 0.81) alerts at the guide's 0.05 but not at
    # the troubleshooting section's 0.10 / 200.
    strict = guide_detector()
    relaxed = guide_detector(performance_threshold=0.10, window_size=200)
    for detector in (strict, relaxed):
        even_stream(detector, 1000, accuracy=0.91)
        assert detector.get_drift_statistics()["total_alerts"] == 0
        even_stream(detector, 3000, accuracy=0.81)
    assert strict.get_drift_statistics()["total_alerts"] >= 1
    assert relaxed.get_drift_statistics()["total_alerts"] == 0


def test_local_recent_alerts_count_only_the_last_seven_days():
    detector = guide_detector()
    rng = np.random.default_rng(8)
    ten_days_ago = dt.datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    stream(detector, rng, 300, accuracy=0.92, timestamp=ten_days_ago)
    stream(detector, rng, 400, accuracy=0.60, timestamp=ten_days_ago)
    now = dt.datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    stats = detector.get_drift_statistics(now=now)
    assert stats["total_alerts"] >= 1
    assert stats["recent_alerts"] == 0
    alert = detector.check_drift()
    assert alert.timestamp == ten_days_ago


def test_local_data_drift_and_concept_drift():
    detector = guide_detector()
    rng = np.random.default_rng(31)
    reference = rng.normal(size=(2000, 3))
    detector.set_reference_data(reference, ["age", "chol", "thalach"])

    same = detector.check_data_drift(rng.normal(size=(1000, 3)))
    assert same["dataset_drift"] is False
    assert [f["feature"] for f in same["features"]] == ["age", "chol",
                                                        "thalach"]
    assert detector.check_drift() is None

    # Same inputs, falling accuracy: the relationship changed.
    stream(detector, rng, 300, accuracy=0.92)
    stream(detector, rng, 400, accuracy=0.60)
    alert = detector.check_drift()
    assert alert is not None and alert.drift_type is DriftType.CONCEPT_DRIFT

    shifted = rng.normal(size=(1000, 3))
    shifted[:, 1] += 1.0
    moved = detector.check_data_drift(shifted)
    assert moved["dataset_drift"] is True
    drifted = [f["feature"] for f in moved["features"] if f["drifted"]]
    assert drifted == ["chol"]
    alert = detector.check_drift()
    assert alert is not None and alert.drift_type is DriftType.DATA_DRIFT
    assert 0 < alert.severity <= 1


def test_local_brief_aliases_are_the_guide_methods():
    detector = ModelDriftDetector(ModelType.CLINICAL_NLP)
    detector.set_baseline_performance(0.8)
    assert detector.get_drift_statistics()["baseline_accuracy"] == \
        pytest.approx(0.8)
    assert detector.detect_drift() is None


def test_local_baseline_unset_is_nan():
    detector = ModelDriftDetector(ModelType.DIAGNOSIS_PREDICTOR)
    assert math.isnan(detector.get_drift_statistics()["baseline_accuracy"])


@pytest.mark.parametrize("kwargs, field", [
    (dict(performance_threshold=0.0), "performance_threshold"),
    (dict(performance_threshold=1.5), "performance_threshold"),
    (dict(performance_threshold=float("nan")), "performance_threshold"),
    (dict(window_size=0), "window_size"),
    (dict(window_size=-100), "window_size"),
])
def test_local_impossible_detector_parameters(kwargs, field):
    with pytest.raises(ValueError, match=field):
        ModelDriftDetector(ModelType.DIAGNOSIS_PREDICTOR, **kwargs)


def test_local_bad_predictions_are_refused():
    detector = guide_detector()
    with pytest.raises(ValueError, match="confidence"):
        detector.record_prediction(confidence=1.5, is_correct=True)
    with pytest.raises(ValueError, match="confidence"):
        detector.record_prediction(confidence=float("nan"), is_correct=True)
    with pytest.raises(TypeError, match="is_correct"):
        detector.record_prediction(confidence=0.9, is_correct="yes")
    with pytest.raises(ValueError, match="baseline"):
        detector.set_baseline(1.2)
    with pytest.raises(ValueError, match="timezone"):
        detector.record_prediction(0.9, True, dt.datetime(2026, 12, 7))
    assert detector.get_drift_statistics()["total_predictions"] == 0
    assert detector.get_drift_statistics()["baseline_accuracy"] == \
        pytest.approx(0.90)


def test_local_bad_data_drift_input():
    detector = guide_detector()
    with pytest.raises(StateError, match="set_reference_data"):
        detector.check_data_drift(np.zeros((10, 2)))
    with pytest.raises(ValueError, match="2-D"):
        detector.set_reference_data(np.zeros(10))
    with pytest.raises(ValueError, match="reference row 0"):
        detector.set_reference_data(np.zeros((100, 3)), ["only", "two"])
    detector.set_reference_data(np.random.default_rng(1).normal(size=(100, 2)))
    with pytest.raises(ValueError, match="row 0"):
        detector.check_data_drift(np.zeros((50, 3)))  # 3 columns, not 2
