"""The guide's "Version Management", "Gradual Rollout", "A/B Testing" and
"Rollback" against a live consortium: versions come from training rounds,
deployments are pushed to the sites and acknowledged, and the sites serve
what was deployed."""

import pytest

from continuous_learning_system import (Conflict, DeploymentStrategy, InvalidArgument,
                                        ModelType, ModelVersion, NotFound, PermissionDenied)
from helpers import features, new_versions, no_rollout, wait_acked


def test_list_and_get_versions(operator, trained):
    versions = operator.list_versions()
    assert all(isinstance(v, ModelVersion) for v in versions)
    ids = [v.version_id for v in versions]
    for r in trained:
        assert r.model_version in ids
    # Newest first; exactly one is the federation's current model.
    assert [v.sequence for v in versions] == sorted((v.sequence for v in versions), reverse=True)
    assert sum(v.is_active for v in versions) == 1
    for v in versions:  # the guide's listing
        line = (f"{v['version_id']}: accuracy={v['accuracy'] or 0:.2f}, "
                f"active={v['is_active']}, deployment={v['deployment_percentage']}%")
        assert v.version_id in line
        assert v.model_type == ModelType.DIAGNOSIS_PREDICTOR
    info = operator.get_version_info(trained[-1].model_version)
    assert info.version_id == trained[-1].model_version
    assert len(info.model_hash) == 64
    assert info.training_samples > 0
    assert info.created_at.endswith("Z")
    assert info.lineage["round_id"] == trained[-1].round_number


def test_unknown_version_is_not_found(operator):
    with pytest.raises(NotFound) as e:
        operator.get_version("v99_20200101_000000")
    assert e.value.status == 404
    assert e.value.message == "no model version 'v99_20200101_000000' (clsctl versions list)"
    with pytest.raises(NotFound):
        operator.deploy("v99_20200101_000000", DeploymentStrategy.IMMEDIATE)


def test_a_viewer_may_not_read_versions(viewer):
    with pytest.raises(PermissionDenied) as e:
        viewer.list_versions()
    assert e.value.message == "role 'viewer' lacks permission model.read"


def test_immediate_deployment_is_served_by_the_sites(operator, approved, site_clients):
    no_rollout(operator)
    [v] = new_versions(operator, 1)
    d = operator.deploy_immediately(v, reason="first release")
    assert d.action == "deploy"
    assert d.strategy == DeploymentStrategy.IMMEDIATE
    assert d.actor == "operator"
    assert d.reason == "first release"
    # Against a current version, "immediate" serves the new one to 100% at
    # once and keeps the old one to roll back to, until promoted.
    assert d.candidate_version == v
    assert d.percentage == 100.0
    wait_acked(operator)
    assert operator.get_version(v).deployment_percentage == 100.0
    client = site_clients[approved[0]]
    p = client.predict("enc-immediate-1", features(1))
    assert p.version_id == v
    assert 0.0 <= p.probability <= 1.0
    assert p.label == (1 if p.probability >= 0.5 else 0)
    assert operator.promote().current_version == v


def test_gradual_rollout_10_25_50_100(operator, approved, site_clients):
    stable = no_rollout(operator)
    [candidate] = new_versions(operator, 1)
    d = operator.deploy(candidate, DeploymentStrategy.GRADUAL_ROLLOUT)
    assert d.percentage == 10.0
    assert d.candidate_version == candidate
    assert operator.get_version(candidate).deployment_percentage == 10.0
    # The guide's increments: +15 -> 25, +25 -> 50, +50 -> 100.
    assert operator.increase_rollout(candidate, 15.0) == 25.0
    assert operator.increase_rollout(candidate, 25.0) == 50.0
    versions = {v.version_id: v for v in operator.list_versions()}
    assert versions[candidate].deployment_percentage == 50.0
    assert versions[stable.current_version].deployment_percentage == 50.0
    # Only upwards.
    with pytest.raises(InvalidArgument):
        operator.set_rollout(candidate, 20)
    assert operator.increase_rollout(candidate, 50.0) == 100.0
    status = wait_acked(operator)
    assert status.deployment.percentage == 100.0
    # At 100% every encounter is routed to the candidate.
    client = site_clients[approved[1]]
    served = {client.predict(f"enc-rollout-{i}", features(i)).version_id for i in range(20)}
    assert served == {candidate}
    promoted = operator.promote(reason="rollout complete")
    assert promoted.action == "promote"
    assert promoted.current_version == candidate
    assert not promoted.candidate_version


def test_deploy_straight_to_a_percentage(operator, approved):
    no_rollout(operator)
    [candidate] = new_versions(operator, 1)
    d = operator.deploy(candidate, percentage=25)
    assert d.percentage == 25.0
    assert operator.rollback_version() is True
    with pytest.raises(ValueError):
        operator.deploy(candidate, percentage=5)


def test_ab_test_then_promote_the_winner(operator, approved, site_clients):
    champion = no_rollout(operator).current_version
    [challenger] = new_versions(operator, 1)
    d = operator.deploy_version(challenger, DeploymentStrategy.AB_TESTING)
    assert d.strategy == DeploymentStrategy.AB_TESTING
    assert d.percentage == 50.0
    wait_acked(operator)
    client = site_clients[approved[0]]
    served = {}
    for i in range(60):
        key = f"enc-ab-{i}"
        p = client.predict(key, features(i))
        served[p.version_id] = served.get(p.version_id, 0) + 1
        client.record_outcome(key, p.label)
    # Sticky 50/50 routing by request key: both arms get traffic.
    assert set(served) == {champion, challenger}, served
    comparison = operator.compare_versions(champion, challenger)
    assert comparison.a == champion and comparison.b == challenger
    assert comparison.verdict
    assert operator.promote().current_version == challenger


def test_shadow_mode_serves_only_the_current_version(operator, approved, site_clients):
    current = no_rollout(operator).current_version
    [shadow] = new_versions(operator, 1)
    operator.deploy_shadow(shadow)
    wait_acked(operator)
    assert operator.get_version(shadow).deployment_percentage == 0.0
    client = site_clients[approved[2]]
    served = {client.predict(f"enc-shadow-{i}", features(i)).version_id for i in range(10)}
    assert served == {current}
    rolled = operator.rollback(reason="shadow test over")
    assert rolled.action == "rollback"
    assert rolled.current_version == current


def test_rollback_returns_all_traffic_to_the_stable_version(operator, approved, site_clients):
    stable = no_rollout(operator).current_version
    [bad] = new_versions(operator, 1)
    operator.deploy(bad, DeploymentStrategy.GRADUAL_ROLLOUT, percentage=50)
    # The guide's emergency rollback.
    assert operator.rollback_version() is True
    status = wait_acked(operator)
    assert status.deployment.current_version == stable
    assert not status.deployment.candidate_version
    client = site_clients[approved[0]]
    served = {client.predict(f"enc-rollback-{i}", features(i)).version_id for i in range(10)}
    assert served == {stable}
    # Nothing is rolling out any more.
    with pytest.raises(Conflict):
        operator.rollback()
    with pytest.raises(Conflict):
        operator.promote()


def test_a_viewer_may_not_deploy(viewer, trained):
    with pytest.raises(PermissionDenied) as e:
        viewer.deploy(trained[-1].model_version, DeploymentStrategy.IMMEDIATE)
    assert e.value.message == "role 'viewer' lacks permission model.deploy"


# AFTER-MERGE: POST /v1/versions/rollback {"version_id"} comes from the
# coordinator branch of issue 15 (contract "coord").
@pytest.mark.after_merge
def test_rollback_to_a_named_earlier_version(operator, approved):
    no_rollout(operator)
    older, newer = new_versions(operator, 2)
    for v in (older, newer):
        operator.deploy_immediately(v)
        operator.promote()
        wait_acked(operator)
    assert operator.rollback_version(older) is True
    status = wait_acked(operator)
    assert status.deployment.current_version == older
    with pytest.raises(NotFound):
        operator.rollback(version_id="v99_20200101_000000")
