"""Unit tests (no consortium): answers to exceptions, addresses, clsctl
config files, results from JSON."""

import json
import os

import pytest

from continuous_learning_system import (ClsError, Conflict, DeploymentStrategy, DriftType,
                                        FederatedRound, InternalError, InvalidArgument,
                                        ModelType, ModelVersion, NotFound, PayloadTooLarge,
                                        PermissionDenied, ResourceExhausted, Unauthenticated,
                                        Unavailable, Unimplemented, WaitTimeout)
from continuous_learning_system._http import split_address
from continuous_learning_system.config import default_config_path, from_environment, load_context
from continuous_learning_system.errors import MethodNotAllowed, error_from_response
from continuous_learning_system.results import Deployment, FederationStatistics, PrivacyStatus


def body(code, message):
    return json.dumps({"error": {"code": code, "message": message}}).encode()


@pytest.mark.parametrize("status,code,cls", [
    (400, "invalid_argument", InvalidArgument),
    (401, "unauthenticated", Unauthenticated),
    (403, "permission_denied", PermissionDenied),
    (404, "not_found", NotFound),
    (404, "unimplemented", Unimplemented),
    (409, "failed_precondition", Conflict),
    (409, "already_exists", Conflict),
    (409, "aborted", Conflict),
    (429, "resource_exhausted", ResourceExhausted),
    (503, "unavailable", Unavailable),
    (500, "internal", InternalError),
    (500, "data_loss", InternalError),
    (500, "deadline_exceeded", InternalError),
])
def test_each_documented_code_maps_to_its_exception(status, code, cls):
    e = error_from_response(status, body(code, "the server's words"), "POST", "/v1/x")
    assert type(e) is cls
    assert isinstance(e, ClsError)
    assert (e.status, e.code, e.message) == (status, code, "the server's words")
    assert (e.method, e.path) == ("POST", "/v1/x")
    assert str(e) == f"POST /v1/x: {status} {code}: the server's words"


def test_the_code_wins_over_the_status():
    # The server's code is its word; the status only when there is none.
    assert type(error_from_response(409, body("invalid_argument", "m"))) is InvalidArgument


@pytest.mark.parametrize("status,cls", [
    (400, InvalidArgument), (403, PermissionDenied), (404, NotFound),
    (405, MethodNotAllowed), (409, Conflict), (413, PayloadTooLarge),
    (503, Unavailable), (418, ClsError), (502, ClsError),
])
def test_without_a_json_error_the_status_decides(status, cls):
    e = error_from_response(status, b"<html>proxy page</html>")
    assert type(e) is cls
    assert e.code is None
    assert e.message == "<html>proxy page</html>"


def test_an_unknown_code_falls_back_to_the_status():
    assert type(error_from_response(404, body("gone_fishing", "m"))) is NotFound
    assert type(error_from_response(599, body("gone_fishing", "m"))) is ClsError


def test_odd_bodies_never_break_the_mapping():
    assert error_from_response(500, b"").message == "HTTP 500"
    assert error_from_response(500, b"\xff\xfe").message  # not UTF-8
    assert error_from_response(400, b'{"error": "flat"}').message == '{"error": "flat"}'
    assert error_from_response(400, b"[1, 2]").message == "[1, 2]"
    e = error_from_response(400, json.dumps({"error": {"code": 7, "message": None}}).encode())
    assert type(e) is InvalidArgument and e.code is None
    long = error_from_response(502, b"x" * 10_000)
    assert len(long.message) == 200


def test_builtin_bases_for_the_guides_handlers():
    assert issubclass(PermissionDenied, PermissionError)
    assert issubclass(WaitTimeout, TimeoutError)
    assert issubclass(Unimplemented, NotFound)
    w = WaitTimeout("3 of 4 rounds")
    assert w.status is None and str(w) == "3 of 4 rounds"


@pytest.mark.parametrize("address,expected", [
    ("127.0.0.1:7444", ("127.0.0.1", 7444)),
    ("https://coord.example.org:9000/", ("coord.example.org", 9000)),
    ("coord.example.org", ("coord.example.org", 7444)),
    ("[::1]:7444", ("::1", 7444)),
    ("[::1]", ("::1", 7444)),
])
def test_addresses(address, expected):
    assert split_address(address, 7444) == expected


@pytest.mark.parametrize("address", ["http://127.0.0.1:7444", ":7444", "host:port"])
def test_bad_addresses(address):
    with pytest.raises(ValueError):
        split_address(address, 7444)


def write(tmp_path, text):
    p = tmp_path / "config.toml"
    p.write_text(text)
    return str(p)


def test_clsctl_config_relative_paths_and_current_context(tmp_path):
    path = write(tmp_path, 'current_context = "prod"\n'
                 '[contexts.prod]\ncoordinator = "c.example.org:7444"\n'
                 'ca = "pki/ca.pem"\ncert = "/abs/alice.pem"\nkey = "pki/alice.key"\n'
                 '[contexts.lab]\nca = "ca.pem"\ncert = "a.pem"\nkey = "a.key"\n')
    prod = load_context(path)
    assert prod.coordinator == "c.example.org:7444"
    assert prod.ca == os.path.join(str(tmp_path), "pki/ca.pem")
    assert prod.cert == "/abs/alice.pem"
    lab = load_context(path, "lab")
    assert lab.coordinator == "127.0.0.1:7444"  # clsctl's default


@pytest.mark.parametrize("text,needle", [
    ('[contexts.a]\nca = "x"\ncert = "y"\nkey = "z"\n', "no context given"),
    ('current_context = "b"\n[contexts.a]\nca = "x"\ncert = "y"\nkey = "z"\n',
     "no context 'b' (known: a)"),
    ('current_context = "a"\n[contexts.a]\nca = "x"\ncert = "y"\n', "contexts.a.key"),
    ('current_context = "a"\n[contexts.a]\nca = "x"\ncert = "y"\nkey = "z"\nport = 1\n',
     "unknown key 'port'"),
    ("current_context = \n", "config.toml"),
])
def test_clsctl_config_errors_name_the_key(tmp_path, text, needle):
    with pytest.raises(ValueError) as e:
        load_context(write(tmp_path, text))
    assert needle in str(e.value)


def test_environment_and_default_path():
    env = {"CLS_CA": "ca.pem", "CLS_CERT": "a.pem", "CLS_KEY": "a.key"}
    assert from_environment(env).coordinator == "127.0.0.1:7444"
    with pytest.raises(ValueError, match="CLS_KEY"):
        from_environment({"CLS_CA": "ca.pem", "CLS_CERT": "a.pem"})
    assert default_config_path({"XDG_CONFIG_HOME": "/x"}) == "/x/clsctl/config.toml"
    assert default_config_path({"HOME": "/h"}) == "/h/.config/clsctl/config.toml"
    assert default_config_path({}) is None


def test_enums_are_the_guides():
    assert ModelType("clinical_nlp") is ModelType.CLINICAL_NLP
    assert [s.value for s in DeploymentStrategy] == [
        "immediate", "gradual_rollout", "ab_testing", "shadow_mode"]
    assert DriftType.PERFORMANCE_DRIFT.value == "performance_drift"


def test_results_from_the_documented_examples():
    # docs/admin-api.md's examples.
    r = FederatedRound.from_json({
        "round_id": 8, "status": "completed", "stage": "completed",
        "started_at": "2026-11-27T06:16:44Z", "finished_at": "2026-11-27T06:16:44Z",
        "duration_ms": 5, "participants": ["HOSP_A", "HOSP_B"], "contributors": ["HOSP_A"],
        "dropped": [{"site_id": "HOSP_B", "reason": "connection lost"}],
        "model_version": "v7_20261127_061644",
        "validation": {"count": 145, "correct": 118, "accuracy": 0.81, "loss": 0.46},
        "evaluation": {"count": 145, "correct": 117, "accuracy": 0.8068, "reports": 3},
        "abort_reason": None})
    assert r.round_number == r.round_id == 8
    assert r.participating_sites == ["HOSP_A", "HOSP_B"]
    assert r.aggregated_accuracy == 0.8068
    assert r["round_number"] == 8 and r["aggregated_accuracy"] == 0.8068
    with pytest.raises(KeyError):
        r["no_such_field"]
    v = ModelVersion.from_json({
        "created_at": "2026-11-27T12:31:05Z", "current": True, "hash": "5b1e",
        "metrics": {"accuracy": 0.8125, "f1": 0.8, "precision": 0.77, "recall": 0.83,
                    "training_samples": 288},
        "model_type": "diagnosis_predictor", "parent_version": "v2", "round_id": 2,
        "sequence": 3, "version_id": "v3_20261127_123105"})
    assert (v.model_hash, v.is_active, v.f1_score) == ("5b1e", True, 0.8)
    assert v.model_type is ModelType.DIAGNOSIS_PREDICTOR
    assert ModelVersion.from_json({"version_id": "v1", "model_type": "future_kind"}).model_type \
        == "future_kind"
    d = Deployment.from_json({
        "action": "deploy", "actor": "alice", "automatic": False,
        "candidate_version": "v3", "created_at": "t", "current_version": "v2",
        "deployment_id": "d2", "percentage": 10.0, "reason": None,
        "strategy": "gradual_rollout"})
    assert d.strategy is DeploymentStrategy.GRADUAL_ROLLOUT and d.percentage == 10.0
    s = FederationStatistics.from_json({
        "federated": True, "total_sites": 3, "active_sites": 2, "total_rounds": 4,
        "total_samples": 1200, "average_accuracy": None, "total_privacy_budget_used": 1.5})
    assert s["total_samples"] == 1200 and s.average_accuracy is None


def test_privacy_status_off_has_no_site_level_figures_but_the_record_level():
    p = PrivacyStatus.from_json({
        "enabled": False, "mode": "off", "noise_multiplier": None,
        "privacy_epsilon_per_round": None, "period": None, "spent_epsilon": None,
        "remaining_epsilon": None, "optimal_order": None, "rounds_charged": None,
        "history": [], "record_level": [{"site_id": "HOSP_DP", "epsilon": 7.25,
                                         "delta": 1e-5, "target_epsilon": 8.5,
                                         "refusals": 0}]})
    assert p.enabled is False and p.mode == "off"
    assert p.spent_epsilon is None and p.remaining_epsilon is None
    assert p.budget_epsilon is None and p.history == []
    assert p.record_level[0]["site_id"] == "HOSP_DP"
    assert p.record_level[0]["epsilon"] == 7.25
