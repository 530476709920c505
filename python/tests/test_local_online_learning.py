"""The guide's "Online Learning System" examples against the C++ core
(_cls_core via continuous_learning_system.local)."""

import math

import numpy as np
import pytest

from continuous_learning_system.enums import ModelType
from continuous_learning_system.local import OnlineLearningSystem, StateError


def learnable_batch(rng, n, w, label_noise=0.0):
    """Rows whose label is sign(x . w), with a share of labels flipped."""
    x = rng.normal(size=(n, w.size))
    y = (x @ w > 0).astype(int)
    flip = rng.random(n) < label_noise
    y[flip] = 1 - y[flip]
    return x, y


def test_local_guide_usage_example():
    online_learning = OnlineLearningSystem(
        model_type=ModelType.READMISSION_RISK,
        learning_rate=0.001,
        batch_size=32,
        retention_rate=0.9,
    )
    rng = np.random.default_rng(7)
    data = rng.standard_normal((500, 100))
    labels = rng.integers(0, 2, 500)

    update = online_learning.incremental_update(data, labels)

    assert update.update_id == "upd_000001"
    assert math.isfinite(update.training_loss) and update.training_loss > 0
    # Random labels: the untrained model scores about half right.
    assert 0.35 < update.validation_accuracy < 0.65
    assert update.new_samples == 500
    assert update.timestamp.endswith("Z")
    assert online_learning.parameters.shape == (101,)


def test_local_guide_statistics_example():
    online_learning = OnlineLearningSystem(ModelType.READMISSION_RISK,
                                           learning_rate=0.02)
    rng = np.random.default_rng(11)
    w = rng.normal(size=10)
    updates = [online_learning.incremental_update(*learnable_batch(rng, 100, w))
               for _ in range(20)]

    stats = online_learning.get_update_statistics()

    assert stats["total_updates"] == 20
    assert stats["total_samples_processed"] == 2000
    assert stats["average_loss"] == pytest.approx(
        np.mean([u.training_loss for u in updates]), rel=1e-9)
    assert stats["latest_accuracy"] == updates[-1].validation_accuracy
    # A learnable stream: prequential accuracy rises, Mann-Kendall sees it.
    late = np.mean([u.validation_accuracy for u in updates[-5:]])
    assert late > 0.85
    assert late > updates[0].validation_accuracy + 0.2
    assert stats["accuracy_trend"] == "improving"
    assert stats["trend_p_value"] < 0.05
    assert [u.update_id for u in updates[:2]] == ["upd_000001", "upd_000002"]


def test_local_statistics_before_any_update_are_empty():
    online_learning = OnlineLearningSystem(ModelType.DIAGNOSIS_PREDICTOR)
    stats = online_learning.get_update_statistics()
    assert stats["total_updates"] == 0
    assert stats["total_samples_processed"] == 0
    assert stats["accuracy_trend"] == "stable"
    assert online_learning.update_history == []
    with pytest.raises(StateError, match="incremental_update"):
        online_learning.predict_proba(np.zeros((1, 3)))


def test_local_updates_change_predictions():
    online_learning = OnlineLearningSystem(ModelType.DIAGNOSIS_PREDICTOR,
                                           learning_rate=0.05, n_features=5)
    rng = np.random.default_rng(3)
    w = np.array([2.0, -1.0, 0.5, 0.0, 1.5])
    probe, probe_labels = learnable_batch(rng, 200, w)
    before = online_learning.predict_proba(probe)
    # A fresh model says 0.5 for everything.
    np.testing.assert_allclose(before, 0.5, atol=1e-6)

    for _ in range(10):
        online_learning.incremental_update(*learnable_batch(rng, 100, w))

    after = online_learning.predict_proba(probe)
    assert after.shape == (200,)
    assert np.all((after >= 0) & (after <= 1))
    assert np.max(np.abs(after - before)) > 0.2
    accuracy = np.mean(online_learning.predict(probe) == probe_labels)
    assert accuracy > 0.85
    assert len(online_learning.update_history) == 10


def test_local_troubleshooting_learning_rate_change_keeps_the_state():
    online_learning = OnlineLearningSystem(ModelType.DIAGNOSIS_PREDICTOR,
                                           learning_rate=0.05)
    rng = np.random.default_rng(5)
    w = rng.normal(size=4)
    online_learning.incremental_update(*learnable_batch(rng, 100, w))
    params = online_learning.parameters.copy()

    online_learning.learning_rate *= 0.5
    online_learning.batch_size *= 2

    assert online_learning.learning_rate == pytest.approx(0.025)
    assert online_learning.batch_size == 64
    np.testing.assert_array_equal(online_learning.parameters, params)
    assert online_learning.get_update_statistics()["total_updates"] == 1
    update = online_learning.incremental_update(*learnable_batch(rng, 100, w))
    assert update.update_id == "upd_000002"
    assert online_learning.get_update_statistics()["total_updates"] == 2
    with pytest.raises(ValueError, match="learning_rate"):
        online_learning.learning_rate = -1.0
    assert online_learning.learning_rate == pytest.approx(0.025)


@pytest.mark.parametrize("kwargs, field", [
    (dict(learning_rate=0.0), "learning_rate"),
    (dict(learning_rate=float("nan")), "learning_rate"),
    (dict(batch_size=0), "batch_size"),
    (dict(retention_rate=1.0), "retention_rate"),
    (dict(retention_rate=-0.1), "retention_rate"),
])
def test_local_impossible_parameters_raise_at_construction(kwargs, field):
    with pytest.raises(ValueError, match=field):
        OnlineLearningSystem(ModelType.READMISSION_RISK, **kwargs)


def test_local_impossible_feature_count():
    for n in (0, -3):
        with pytest.raises(ValueError, match="feature"):
            OnlineLearningSystem(ModelType.READMISSION_RISK, n_features=n)


def test_local_unknown_model_type_is_refused():
    with pytest.raises(ValueError, match="model_type"):
        OnlineLearningSystem("heart_transplant")
    # The enum's value is accepted as well as the enum.
    assert OnlineLearningSystem("readmission_risk").model_type is \
        ModelType.READMISSION_RISK


def test_local_bad_batches_raise_and_change_nothing():
    online_learning = OnlineLearningSystem(ModelType.READMISSION_RISK)
    rng = np.random.default_rng(9)
    x = rng.normal(size=(50, 4))
    y = rng.integers(0, 2, 50)

    with pytest.raises(ValueError, match="2-D"):
        online_learning.incremental_update(x[:, 0], y)
    with pytest.raises(ValueError, match="1-D"):
        online_learning.incremental_update(x, y.reshape(-1, 1))
    with pytest.raises(TypeError, match="numeric"):
        online_learning.incremental_update([["a", "b"]], [1])
    online_learning.incremental_update(x, y)
    params = online_learning.parameters.copy()

    bad_nan = x.copy()
    bad_nan[3, 2] = np.nan
    with pytest.raises(ValueError, match="1 non-finite feature values"):
        online_learning.incremental_update(bad_nan, y)
    with pytest.raises(ValueError, match="50 rows, 49 labels"):
        online_learning.incremental_update(x, y[:-1])
    with pytest.raises(ValueError, match="3 features, expected 4"):
        online_learning.incremental_update(x[:, :3], y)
    bad_labels = y.astype(float)
    bad_labels[0] = 0.5
    with pytest.raises(ValueError, match="1 of 50 labels are not 0 or 1"):
        online_learning.incremental_update(x, bad_labels)
    with pytest.raises(ValueError, match="empty batch"):
        online_learning.incremental_update(x[:0], y[:0])
    with pytest.raises(ValueError, match="features"):
        online_learning.predict_proba(x[:, :2])
    with pytest.raises(ValueError, match="non-finite"):
        online_learning.predict_proba(bad_nan)

    np.testing.assert_array_equal(online_learning.parameters, params)
    stats = online_learning.get_update_statistics()
    assert stats["total_updates"] == 1
    assert stats["total_samples_processed"] == 50


def test_local_error_messages_carry_no_values():
    online_learning = OnlineLearningSystem(ModelType.READMISSION_RISK)
    x = np.full((10, 2), 123.456)
    x[4, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite") as err:
        online_learning.incremental_update(x, np.ones(10))
    assert "123.456" not in str(err.value)
