"""The guide's "Drift Statistics", "Get system status" and "Export audit log"
against a live consortium, and the site's prediction endpoint seen from the
hospital's systems (SiteClient)."""

import json

import pytest

from continuous_learning_system import (Conflict, DriftStatistics, InvalidArgument, NotFound,
                                        PermissionDenied, SiteClient, SystemStatus)
from helpers import features, no_rollout, wait_acked, wait_until


def test_drift_statistics_from_the_sites_outcomes(operator, viewer, approved, site_clients):
    current = no_rollout(operator).current_version
    wait_acked(operator)
    client = site_clients[approved[0]]
    for i in range(30):
        key = f"enc-drift-{i}"
        p = client.predict(key, features(i))
        assert p.version_id == current
        # Outcomes equal to the label: every prediction correct.
        assert client.record_outcome(key, p.label) == "recorded"

    # The site reports every second ([serve] report_interval_s = 1).
    def reported():
        try:
            stats = viewer.get_drift_statistics(current)
        except NotFound:
            return None
        return stats if stats.total_predictions >= 30 else None
    stats = wait_until(reported, timeout=60)
    assert isinstance(stats, DriftStatistics), viewer.get_drift_status().raw
    assert stats.role == "current"
    assert stats["total_predictions"] >= 30  # the guide's dictionary access
    assert stats.baseline_accuracy is not None
    assert stats.recent_accuracy is not None
    assert stats.recent_alerts <= stats.total_alerts
    # Default version: the current one.
    assert viewer.get_drift_statistics().version_id == current
    assert isinstance(viewer.list_drift_alerts(limit=10), list)


def test_outcome_twice_is_a_conflict_and_unknown_key_not_found(approved, site_clients):
    client = site_clients[approved[1]]
    wait_until(lambda: client.health().get("status") == "ok", timeout=60)
    p = client.predict("enc-outcome-1", features(3))
    client.record_outcome("enc-outcome-1", 1)
    with pytest.raises(Conflict) as e:
        client.record_outcome("enc-outcome-1", 0)
    assert e.value.status == 409
    with pytest.raises(NotFound):
        client.record_outcome("enc-never-predicted", 1)
    assert p.version_id in client.metrics()


def test_bad_feature_names_the_column_not_the_value(approved, site_clients):
    client = site_clients[approved[2]]
    bad = dict(features(0), f1="very high")
    with pytest.raises(InvalidArgument) as e:
        client.predict("enc-bad-1", bad)
    assert e.value.status == 400
    assert "f1" in e.value.message
    assert "very high" not in e.value.message


def test_another_hospitals_certificate_is_refused_by_the_site(consortium, approved):
    own, other = consortium["sites"][0], consortium["sites"][1]
    client = SiteClient(own["predict"]["url"], ca=consortium["ca"], cert=other["cert"],
                        key=other["key"])
    with pytest.raises(PermissionDenied) as e:
        client.predict("enc-other-1", features(0))
    assert e.value.status == 403
    assert e.value.message == (f"certificate '{other['site_id']}' (role site) "
                               "may not call this endpoint")


def test_system_status(viewer, approved, trained):
    status = viewer.get_system_status()
    assert isinstance(status, SystemStatus)
    assert status.coordinator_id == "test-coordinator"
    assert status["model_type"].value == "diagnosis_predictor"
    assert status.min_sites == len(approved)
    assert status.sites["approved"] >= len(approved)
    assert status.sites["connected"] >= len(approved)
    assert status.model_version
    assert status.protocol_versions
    assert status.aggregation["secure_aggregation"] is True
    assert status.version  # the coordinator's build


def test_export_and_verify_the_audit_log(auditor, consortium, approved, trained):
    text = auditor.export_audit_log()
    doc = json.loads(text)
    assert doc["format"] == "cls-audit-export-v1"
    assert doc["complete"] is True
    events = [e["event_type"] for e in doc["entries"]]
    assert "site_approved" in events
    assert "federated_round_completed" in events
    # The export audits itself before it is taken.
    assert events[-1] == "audit_exported"
    report = auditor.verify_audit_log(text, clsctl=consortium["clsctl"])
    assert report.ok, report.raw
    assert report.entries == len(doc["entries"])
    assert report.problems == []


def test_an_edited_audit_export_fails_verification(auditor, consortium, approved):
    doc = auditor.export_audit()
    entry = next(e for e in doc["entries"] if e["event_type"] == "site_approved")
    entry["fields"]["site_id"] = "HOSP_EDITED"
    entry["site_id"] = "HOSP_EDITED"
    report = auditor.verify_audit_log(doc, clsctl=consortium["clsctl"])
    assert not report.ok
    assert any(p["kind"] == "edited" for p in report.problems), report.raw


def test_operators_may_not_export_the_audit_log(operator):
    with pytest.raises(PermissionDenied) as e:
        operator.export_audit_log()
    assert e.value.message == "role 'operator' lacks permission audit.export"
