"""The guide's "Model Version Manager" examples against the C++ core
(core/rollout's VersionRegistry and Deployment via
continuous_learning_system.local)."""

import hashlib
import re

import numpy as np
import pytest

from continuous_learning_system.enums import DeploymentStrategy, ModelType
from continuous_learning_system.local import (ModelVersionManager,
                                              StateError)

KEYS = [f"encounter-{i}" for i in range(20000)]


def share_served_by(manager, version_id, keys=KEYS):
    served = sum(manager.route(k).serve == version_id for k in keys)
    return 100.0 * served / len(keys)


def create(manager, seed, accuracy=0.89):
    params = np.random.default_rng(seed).standard_normal(5000)
    return manager.create_version(accuracy=accuracy, precision=0.87,
                                  recall=0.91, f1_score=0.89,
                                  training_samples=15000, model_params=params)


def test_local_guide_version_creation():
    manager = ModelVersionManager(ModelType.IMAGING_CLASSIFIER)
    model_params = np.random.default_rng(1).standard_normal(5000)

    version = manager.create_version(accuracy=0.89, precision=0.87,
                                     recall=0.91, f1_score=0.89,
                                     training_samples=15000,
                                     model_params=model_params)

    assert re.fullmatch(r"v1_\d{8}_\d{6}", version.version_id)
    # SHA-256 of the parameters as float32, the coordinator's hash.
    expected = hashlib.sha256(
        model_params.astype(np.float32).tobytes()).hexdigest()
    assert version.model_hash == expected
    assert version.accuracy == pytest.approx(0.89)
    assert version.training_samples == 15000
    assert version.deployment_percentage == 0
    assert version.is_active is False
    np.testing.assert_allclose(version.model_params,
                               model_params.astype(np.float32))
    assert create(manager, 2).version_id.startswith("v2_")


def test_local_guide_gradual_rollout_routes_the_share():
    manager = ModelVersionManager(ModelType.IMAGING_CLASSIFIER)
    stable = create(manager, 1, accuracy=0.87)
    manager.deploy_version(stable.version_id, DeploymentStrategy.IMMEDIATE)
    version = create(manager, 2)

    manager.deploy_version(version.version_id,
                           DeploymentStrategy.GRADUAL_ROLLOUT)
    assert version.deployment_percentage == 10
    assert stable.deployment_percentage == 90
    assert share_served_by(manager, version.version_id) == \
        pytest.approx(10, abs=1.0)
    first_slice = {k for k in KEYS
                   if manager.route(k).serve == version.version_id}

    new_percentage = manager.increase_rollout(version.version_id, 15.0)
    assert new_percentage == 25
    assert share_served_by(manager, version.version_id) == \
        pytest.approx(25, abs=1.5)
    # Sticky: every encounter that saw the new version at 10% still does.
    assert all(manager.route(k).serve == version.version_id
               for k in first_slice)

    assert manager.increase_rollout(version.version_id, 25.0) == 50
    assert share_served_by(manager, version.version_id) == \
        pytest.approx(50, abs=1.5)
    assert manager.increase_rollout(version.version_id, 50.0) == 100
    # Complete: the version is the stable one now.
    assert manager.current_version == version.version_id
    assert version.deployment_percentage == 100
    assert stable.is_active is False
    assert share_served_by(manager, version.version_id, KEYS[:1000]) == 100


def test_local_gradual_rollout_from_a_chosen_percentage():
    manager = ModelVersionManager(ModelType.IMAGING_CLASSIFIER)
    stable, version = create(manager, 1), create(manager, 2)
    with pytest.raises(StateError, match="first version serves 100%"):
        manager.deploy_version(stable.version_id,
                               DeploymentStrategy.GRADUAL_ROLLOUT, 5.0)
    manager.deploy_version(stable.version_id, DeploymentStrategy.IMMEDIATE)
    with pytest.raises(ValueError, match="gradual_rollout only"):
        manager.deploy_version(version.version_id,
                               DeploymentStrategy.AB_TESTING, 20.0)
    with pytest.raises(ValueError, match=r"\(0, 100\]"):
        manager.deploy_version(version.version_id,
                               DeploymentStrategy.GRADUAL_ROLLOUT, 0.0)
    assert version.deployment_percentage == 0

    manager.deploy_version(version.version_id,
                           DeploymentStrategy.GRADUAL_ROLLOUT, 2.5)

    assert version.deployment_percentage == 2.5
    assert share_served_by(manager, version.version_id) == \
        pytest.approx(2.5, abs=0.6)
    assert manager.increase_rollout(version.version_id, 7.5) == 10


def test_local_guide_ab_testing_then_promote_the_winner():
    manager = ModelVersionManager(ModelType.DIAGNOSIS_PREDICTOR)
    version_v1 = create(manager, 1)
    version_v2 = create(manager, 2)

    v1_id = manager.deploy_version(version_v1.version_id,
                                   DeploymentStrategy.IMMEDIATE)
    v2_id = manager.deploy_version(version_v2.version_id,
                                   DeploymentStrategy.AB_TESTING)
    assert (v1_id, v2_id) == (version_v1.version_id, version_v2.version_id)
    assert version_v2.deployment_percentage == 50
    assert share_served_by(manager, v2_id) == pytest.approx(50, abs=1.5)

    # Outcomes of the requests each version answered: v2 is right 92% of
    # the time, v1 85%.
    rng = np.random.default_rng(12)
    for key in KEYS[:8000]:
        served = manager.route(key).serve
        p = 0.92 if served == v2_id else 0.85
        manager.record_outcome(served, bool(rng.random() < p))
    comparison = manager.compare_versions()
    assert comparison["verdict"] == "candidate_better"
    assert comparison["effect"] == pytest.approx(0.07, abs=0.02)
    assert comparison["ci_low"] > 0

    manager.promote_version(v2_id)
    assert manager.current_version == v2_id
    assert version_v2.deployment_percentage == 100
    with pytest.raises(StateError):
        manager.compare_versions()  # nothing rolling out any more


def test_local_shadow_mode_scores_but_never_answers():
    manager = ModelVersionManager(ModelType.CLINICAL_NLP)
    current = create(manager, 1)
    shadow = create(manager, 2)
    manager.deploy_version(current.version_id, DeploymentStrategy.IMMEDIATE)
    manager.deploy_version(shadow.version_id, DeploymentStrategy.SHADOW_MODE)
    assert shadow.deployment_percentage == 0
    assert shadow.is_active is True
    for key in KEYS[:500]:
        decision = manager.route(key)
        assert decision.serve == current.version_id
        assert decision.shadow == shadow.version_id


def test_local_guide_rollback():
    manager = ModelVersionManager(ModelType.MEDICATION_RECOMMENDER)
    previous = create(manager, 1)
    manager.deploy_version(previous.version_id, DeploymentStrategy.IMMEDIATE)
    bad = create(manager, 2)
    manager.deploy_version(bad.version_id, DeploymentStrategy.IMMEDIATE)
    assert manager.current_version == bad.version_id
    previous_version_id = previous.version_id

    success = manager.rollback_version(previous_version_id)

    assert success is True
    assert manager.current_version == previous_version_id
    assert share_served_by(manager, previous_version_id, KEYS[:1000]) == 100
    info = manager.get_version_info(bad.version_id)
    assert info["is_active"] is False and info["role"] == "retired"


def test_local_rollback_during_a_rollout_and_refused_rollbacks():
    manager = ModelVersionManager(ModelType.MEDICATION_RECOMMENDER)
    v1, v2, v3 = create(manager, 1), create(manager, 2), create(manager, 3)
    assert manager.rollback_version(v1.version_id) is False  # none deployed
    manager.deploy_version(v1.version_id, DeploymentStrategy.IMMEDIATE)
    manager.deploy_version(v2.version_id, DeploymentStrategy.GRADUAL_ROLLOUT)
    # The guide's troubleshooting rollback: back to the last stable version.
    assert manager.rollback_version(v1.version_id) is True
    assert v2.deployment_percentage == 0
    assert share_served_by(manager, v1.version_id, KEYS[:1000]) == 100
    # v3 never served as the current version; v1 serves everything already.
    assert manager.rollback_version(v3.version_id) is False
    assert manager.rollback_version(v1.version_id) is False
    with pytest.raises(KeyError, match="v9_"):
        manager.rollback_version("v9_20261207_000000")


def test_local_guide_version_management():
    manager = ModelVersionManager(ModelType.IMAGING_CLASSIFIER)
    v1 = create(manager, 1, accuracy=0.85)
    v2 = create(manager, 2, accuracy=0.88)
    manager.deploy_version(v1.version_id, DeploymentStrategy.IMMEDIATE)
    manager.deploy_version(v2.version_id, DeploymentStrategy.GRADUAL_ROLLOUT)

    versions = manager.list_versions()

    assert [v["version_id"] for v in versions] == [v1.version_id,
                                                   v2.version_id]
    assert [(v["is_active"], v["deployment_percentage"]) for v in versions] \
        == [(True, 90), (True, 10)]
    assert [v["accuracy"] for v in versions] == pytest.approx([0.85, 0.88])
    info = manager.get_version_info(v2.version_id)
    assert info["version_id"] == v2.version_id
    assert f"{info['training_samples']:,}" == "15,000"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", info["created_at"])
    assert info["deployment_strategy"] == "gradual_rollout"
    assert info["role"] == "candidate"


@pytest.mark.parametrize("field, value", [
    ("accuracy", 1.5),
    ("precision", -0.1),
    ("recall", float("nan")),
    ("f1_score", float("inf")),
    ("training_samples", -1),
])
def test_local_bad_version_metrics(field, value):
    manager = ModelVersionManager(ModelType.IMAGING_CLASSIFIER)
    args = dict(accuracy=0.9, precision=0.9, recall=0.9, f1_score=0.9,
                training_samples=10, model_params=np.ones(4))
    args[field] = value
    with pytest.raises(ValueError, match=field):
        manager.create_version(**args)
    assert manager.list_versions() == []


def test_local_bad_parameters_and_calls():
    manager = ModelVersionManager(ModelType.IMAGING_CLASSIFIER)
    metrics = dict(accuracy=0.9, precision=0.9, recall=0.9, f1_score=0.9,
                   training_samples=10)
    params = np.ones(4)
    params[2] = np.nan
    with pytest.raises(ValueError, match=r"model_params\[2\]"):
        manager.create_version(**metrics, model_params=params)
    with pytest.raises(ValueError, match="1-D"):
        manager.create_version(**metrics, model_params=np.ones((2, 2)))
    with pytest.raises(ValueError, match="empty"):
        manager.create_version(**metrics, model_params=np.array([]))
    with pytest.raises(TypeError, match="numeric"):
        manager.create_version(**metrics, model_params=["w"])

    v1 = manager.create_version(**metrics, model_params=np.ones(4))
    v2 = manager.create_version(**metrics, model_params=np.zeros(4))
    v3 = manager.create_version(**metrics, model_params=np.full(4, 2.0))
    with pytest.raises(StateError, match="nothing deployed"):
        manager.route("encounter-1")
    with pytest.raises(ValueError, match="strategy"):
        manager.deploy_version(v1.version_id, "big_bang")
    with pytest.raises(KeyError):
        manager.deploy_version("v7_20261207_000000",
                               DeploymentStrategy.IMMEDIATE)
    manager.deploy_version(v1.version_id, DeploymentStrategy.IMMEDIATE)
    with pytest.raises(ValueError, match="already the current"):
        manager.deploy_version(v1.version_id, DeploymentStrategy.AB_TESTING)
    manager.deploy_version(v2.version_id, DeploymentStrategy.AB_TESTING)
    with pytest.raises(StateError, match="still rolling out"):
        manager.deploy_version(v3.version_id,
                               DeploymentStrategy.GRADUAL_ROLLOUT)
    # A/B splits are fixed at 50%; only gradual rollouts grow.
    with pytest.raises(StateError, match="not gradual_rollout"):
        manager.increase_rollout(v2.version_id, 10)
    with pytest.raises(StateError, match="not rolling out"):
        manager.increase_rollout(v3.version_id, 10)
    with pytest.raises(StateError, match="serves no requests"):
        manager.record_outcome(v3.version_id, True)
    manager.rollback_version(v1.version_id)
    manager.deploy_version(v3.version_id, DeploymentStrategy.GRADUAL_ROLLOUT)
    with pytest.raises(ValueError, match=">= 0"):
        manager.increase_rollout(v3.version_id, -5)
    with pytest.raises(ValueError, match=">= 0"):
        manager.increase_rollout(v3.version_id, float("nan"))
    assert v3.deployment_percentage == 10
