"""The guide's "Automated Responses" (drift on a candidate -> rollback),
which the coordinator carries out itself (docs/serving.md "Automatic
rollback"): seen from the client, a candidate whose predictions turn out
wrong at a site is rolled back automatically, and the comparison and the
deployment history say why."""

from continuous_learning_system import DeploymentStrategy
from helpers import features, new_versions, no_rollout, wait_until


def test_a_bad_candidate_is_rolled_back_automatically(operator, viewer, approved,
                                                      site_clients):
    stable = no_rollout(operator).current_version
    [candidate] = new_versions(operator, 1)
    operator.deploy(candidate, DeploymentStrategy.AB_TESTING, reason="challenger")
    operator.wait_for_deployment(timeout=60)
    site = site_clients[approved[0]]

    def rolled_back():
        d = operator.get_deployment().deployment
        return d if d.action == "rollback" else None
    served = {stable: 0, candidate: 0}
    # The site reports every second; the coordinator may roll back on an
    # alert before the sequential test has its 100 outcomes per arm, so
    # stream until it acts (or enough for both rules).
    for i in range(600):
        key = f"enc-bad-candidate-{i}"
        p = site.predict(key, features(i))
        served[p.version_id] += 1
        # The current version is always right, the candidate always wrong.
        outcome = p.label if p.version_id == stable else 1 - p.label
        site.record_outcome(key, outcome)
        if i % 50 == 49 and rolled_back():
            break
    assert served[candidate] > 0, served

    d = wait_until(rolled_back, timeout=60)
    assert d, operator.get_deployment().raw
    assert d.automatic is True
    assert d.actor == "coordinator"
    assert d.current_version == stable
    assert not d.candidate_version
    # Why: the summed outcomes say the candidate is worse, or a site raised
    # a severe performance/concept alert on it (the two documented rules).
    comparison = operator.compare_versions(stable, candidate)
    alerts = [a for a in viewer.list_drift_alerts(version_id=candidate)
              if a["drift_type"] in ("performance_drift", "concept_drift")]
    assert (comparison.verdict == "candidate_worse"
            or any(a["severity"] > 0.8 for a in alerts)), (comparison.raw, alerts)
    stats = viewer.get_drift_status().version(candidate)
    assert stats is not None and stats.total_predictions > 0
    assert stats.overall_accuracy == 0.0
    operator.wait_for_deployment(timeout=60)
    assert {site.predict(f"enc-after-{i}", features(i)).version_id
            for i in range(10)} == {stable}
