"""The in-process parts of the guide's "Integrated System" workflow and
clinical use cases 1 and 3, with the three bound classes together."""

import numpy as np

from continuous_learning_system.enums import (DeploymentStrategy, DriftType,
                                              ModelType)
from continuous_learning_system.local import (ModelDriftDetector,
                                              ModelVersionManager,
                                              OnlineLearningSystem)


def daily_cases(rng, w, n):
    x = rng.normal(size=(n, w.size))
    return x, (x @ w > 0).astype(int)


def test_local_use_case_1_daily_updates_then_redeploy():
    """Use case 1: daily online updates of a diagnosis predictor, then the
    updated model deployed as a new version."""
    rng = np.random.default_rng(100)
    w = rng.normal(size=13)
    online = OnlineLearningSystem(ModelType.DIAGNOSIS_PREDICTOR,
                                  learning_rate=0.02)
    versions = ModelVersionManager(ModelType.DIAGNOSIS_PREDICTOR)

    # Baseline trained on "historical data".
    historical = online.incremental_update(*daily_cases(rng, w, 400))
    baseline = versions.create_version(
        accuracy=historical.validation_accuracy,
        precision=historical.precision, recall=historical.recall,
        f1_score=historical.f1, training_samples=historical.new_samples,
        model_params=online.parameters)
    versions.deploy_version(baseline.version_id, DeploymentStrategy.IMMEDIATE)

    for day in range(7):
        new_cases = daily_cases(rng, w, 60)
        if len(new_cases[0]) >= 50:  # the guide's minimum batch size
            update = online.incremental_update(*new_cases)
    stats = online.get_update_statistics()
    assert stats["total_updates"] == 8
    assert stats["total_samples_processed"] == 400 + 7 * 60
    assert update.validation_accuracy > historical.validation_accuracy

    redeployed = versions.create_version(
        accuracy=update.validation_accuracy, precision=update.precision,
        recall=update.recall, f1_score=update.f1,
        training_samples=stats["total_samples_processed"],
        model_params=online.parameters)
    versions.deploy_version(redeployed.version_id,
                            DeploymentStrategy.GRADUAL_ROLLOUT)
    assert redeployed.deployment_percentage == 10
    assert redeployed.model_hash != baseline.model_hash
    np.testing.assert_allclose(redeployed.model_params, online.parameters)


def test_local_use_case_3_drift_triggers_rollback():
    """Use case 3: a medication recommender's drift monitor sees the new
    version degrade and the handler rolls back to the previous version."""
    versions = ModelVersionManager(ModelType.MEDICATION_RECOMMENDER)
    rng = np.random.default_rng(300)
    metrics = dict(precision=0.85, recall=0.88, f1_score=0.86,
                   training_samples=12000)
    stable = versions.create_version(accuracy=0.88, **metrics,
                                     model_params=rng.normal(size=50))
    versions.deploy_version(stable.version_id, DeploymentStrategy.IMMEDIATE)
    new = versions.create_version(accuracy=0.90, **metrics,
                                  model_params=rng.normal(size=50))
    versions.deploy_version(new.version_id, DeploymentStrategy.IMMEDIATE)

    detector = ModelDriftDetector(ModelType.MEDICATION_RECOMMENDER)
    detector.set_baseline(0.90)
    handled = []

    def handle_drift_alert(alert):
        if alert.severity > 0.8:
            if alert.drift_type == DriftType.PERFORMANCE_DRIFT:
                handled.append(versions.rollback_version(stable.version_id))
        elif alert.severity > 0.5:
            handled.append("retrain")
        else:
            handled.append("log")

    def monitor_production_predictions(hour_accuracy):
        for _ in range(200):
            predicted = 1
            actual = 1 if rng.random() < hour_accuracy else 0
            detector.record_prediction(float(rng.uniform(0.6, 1.0)),
                                       actual == predicted)
        alert = detector.check_drift()
        if alert:
            handle_drift_alert(alert)

    for _ in range(3):
        monitor_production_predictions(0.91)
    assert handled == []
    assert versions.current_version == new.version_id

    for _ in range(3):
        monitor_production_predictions(0.65)
    assert handled and handled[0] is True
    assert versions.current_version == stable.version_id
