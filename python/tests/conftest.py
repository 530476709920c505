"""Fixtures of the client tests: one live consortium per session, started by
cls-test-cluster (tests/integration/test_cluster_main.cc; its path in
CLS_TEST_CLUSTER, set by ctest) and stopped by closing its stdin.

Tests marked `after_merge` need coordinator routes of other branches of
issue 15 (GET /v1/federation/stats, rollback to a named version, "federated"
in /v1/status); CLS_PY_SKIP_AFTER_MERGE=1 skips them before that merge.
"""

import json
import os
import select
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from continuous_learning_system import Federation, SiteClient  # noqa: E402
from helpers import wait_registered  # noqa: E402

# Three sites train (min_sites); the fourth stays pending for the revoke
# test, so revoking it never starves the rounds.
TRAINING_SITES = 3
ALL_SITES = 4
START_TIMEOUT_S = 240


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "after_merge: needs coordinator routes merged from other issue-15 branches")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("CLS_PY_SKIP_AFTER_MERGE") != "1":
        return
    skip = pytest.mark.skip(reason="CLS_PY_SKIP_AFTER_MERGE=1 (route of another branch)")
    for item in items:
        if "after_merge" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def consortium():
    exe = os.environ.get("CLS_TEST_CLUSTER")
    if not exe:
        pytest.skip("CLS_TEST_CLUSTER is not set (ctest -R PythonClientTest sets it)")
    log = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(
        [exe, "--sites", str(ALL_SITES), "--min-sites", str(TRAINING_SITES), "--serve"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT_S)
        line = proc.stdout.readline() if ready else ""
        if not line:
            log.seek(0)
            raise RuntimeError(f"cls-test-cluster did not start:\n{log.read()}")
        info = json.loads(line)
        yield info
    finally:
        proc.stdin.close()  # the launcher's signal to stop everything
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        log.close()
    assert code == 0, f"cls-test-cluster exited with {code}"
    for pid in info["daemon_pids"]:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # the daemon is gone (and was reaped)
    assert not os.path.exists(info["dir"]), "cls-test-cluster left its directory behind"


def _federation(info, role):
    ident = info["identities"][role]
    return Federation(info["admin"]["url"], ca=info["ca"], cert=ident["cert"], key=ident["key"])


@pytest.fixture(scope="session")
def admin(consortium):
    return _federation(consortium, "admin")


@pytest.fixture(scope="session")
def operator(consortium):
    return _federation(consortium, "operator")


@pytest.fixture(scope="session")
def auditor(consortium):
    return _federation(consortium, "auditor")


@pytest.fixture(scope="session")
def viewer(consortium):
    return _federation(consortium, "viewer")


@pytest.fixture(scope="session")
def training_sites(consortium):
    return [s["site_id"] for s in consortium["sites"][:TRAINING_SITES]]


@pytest.fixture(scope="session")
def spare_site(consortium):
    return consortium["sites"][TRAINING_SITES]["site_id"]


@pytest.fixture(scope="session")
def approved(operator, training_sites):
    """The training sites approved and connected (idempotent: the
    registration test may have approved them already)."""
    wait_registered(operator, training_sites)
    for site in training_sites:
        operator.approve_site(site)
    operator.wait_for_sites(len(training_sites), timeout=60)
    return training_sites


@pytest.fixture(scope="session")
def trained(operator, approved):
    """Two completed rounds, so versions exist."""
    rounds = operator.run_rounds(2, timeout=240)
    assert [r.status for r in rounds] == ["completed", "completed"], rounds
    return rounds


@pytest.fixture(scope="session")
def site_clients(consortium):
    """The EHR's client of each serving site, by site id."""
    clients = {}
    for s in consortium["sites"]:
        p = s["predict"]
        clients[s["site_id"]] = SiteClient(p["url"], ca=consortium["ca"], cert=p["cert"],
                                           key=p["key"])
    return clients
