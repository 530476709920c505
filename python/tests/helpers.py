"""Polling and deployment helpers shared by the live tests (never fixed
sleeps: every wait polls with a generous deadline)."""

import time

from continuous_learning_system import DeploymentStrategy


def wait_until(condition, timeout=60.0, interval=0.2):
    """Polls until condition() is truthy; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def wait_registered(federation, site_ids, timeout=60.0):
    def registered():
        known = {s.site_id for s in federation.list_sites()}
        return set(site_ids) <= known
    assert wait_until(registered, timeout), f"sites {site_ids} never connected"


def new_versions(federation, count):
    """Runs `count` rounds; the version ids they produced, oldest first."""
    rounds = federation.run_rounds(count, timeout=240)
    assert [r.status for r in rounds] == ["completed"] * count, rounds
    return [r.model_version for r in rounds]


def no_rollout(federation):
    """Ends a rollout a previous test left (rollback), and makes sure
    something is deployed, so each deployment test starts from a stable
    version whatever ran before it."""
    status = federation.get_deployment()
    if status.deployment is None:
        latest = federation.list_versions(limit=1)[0].version_id
        federation.deploy(latest, DeploymentStrategy.IMMEDIATE, reason="baseline")
    elif status.deployment.candidate_version:
        federation.rollback(reason="test setup")
    return federation.get_deployment().deployment


def wait_acked(federation, timeout=60.0):
    """Every connected site acknowledged the deployment in force."""
    return federation.wait_for_deployment(timeout)


# A row of the launcher's synthetic cohort (cluster.cc WriteSyntheticCohort).
def features(i):
    return {"f1": (i % 7) / 3.0 - 1.0, "f2": (i % 5) / 2.0 - 1.0, "f3": 0.5,
            "f4": -0.25, "group": 1 + i % 3}
