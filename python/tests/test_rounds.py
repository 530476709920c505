"""The guide's "Training Rounds", "Federation Statistics" and "Privacy Budget
Management" against a live consortium. The sites train on their own data;
the client starts rounds and reads what they produced."""

import pytest

from continuous_learning_system import Conflict, FederatedRound, PermissionDenied

PRIVACY_BUDGET_LIMIT = 10.0  # the guide's example limit


def test_initiate_a_training_round_and_wait_for_it(operator, approved):
    round_obj = operator.initiate_training_round()
    assert isinstance(round_obj, FederatedRound)
    assert round_obj.round_number >= 1
    # The guide prints these two:
    assert sorted(round_obj.participating_sites) == sorted(approved) or round_obj.completed
    [done] = operator.wait_for_rounds(round_obj.round_number, 1, timeout=240)
    assert done.round_number == round_obj.round_number
    assert done.status == "completed", done.raw
    assert sorted(done.participating_sites) == sorted(approved)
    assert sorted(done.contributors) == sorted(approved)
    assert done.model_version and done.model_version.startswith("v")
    assert done.finished_at is not None


def test_perform_federated_round(operator, approved):
    result = operator.perform_federated_round(timeout=240)
    assert result.completed, result.raw
    # The guide's round_result.aggregated_accuracy: the new model on the
    # sites' held-out rows (reported by the sites after the round).
    acc = result.aggregated_accuracy
    assert acc is None or 0.0 <= acc <= 1.0
    assert operator.get_system_status().model_version == result.model_version


def test_several_rounds_and_the_history(operator, approved):
    rounds = operator.run_rounds(3, timeout=240)
    assert len(rounds) == 3
    ids = [r.round_number for r in rounds]
    assert ids == list(range(ids[0], ids[0] + 3))
    history = {r.round_number: r for r in operator.list_rounds(limit=100)}
    for r in rounds:
        assert history[r.round_number].model_version == r.model_version
    # Each round starts from the previous round's model.
    versions = [operator.get_version(r.model_version) for r in rounds]
    assert versions[1].parent_version == versions[0].version_id
    assert versions[2].parent_version == versions[1].version_id


def test_a_viewer_cannot_start_rounds(viewer, approved):
    with pytest.raises(PermissionDenied) as e:
        viewer.start_rounds(1)
    assert e.value.message == "role 'viewer' lacks permission round.start"


def test_no_round_to_abort_is_a_conflict(operator, approved):
    with pytest.raises(Conflict) as e:
        operator.abort_round()
    assert e.value.message == "no round is running"


def test_privacy_budget_check(operator, trained):
    privacy = operator.get_privacy_status()
    assert privacy.mode == "central"
    assert privacy.rounds_charged >= len(trained)
    assert privacy.spent_epsilon > 0
    assert privacy.remaining_epsilon == pytest.approx(privacy.budget_epsilon -
                                                      privacy.spent_epsilon)
    charged = {row["round_id"] for row in privacy.history}
    assert {r.round_number for r in trained} <= charged
    # The guide's check, on the coordinator's ledger.
    exhausted = privacy.spent_epsilon > PRIVACY_BUDGET_LIMIT
    assert exhausted == (privacy["spent_epsilon"] > PRIVACY_BUDGET_LIMIT)


def test_a_viewer_may_not_read_the_privacy_ledger(viewer):
    with pytest.raises(PermissionDenied) as e:
        viewer.get_privacy_status()
    assert e.value.message == "role 'viewer' lacks permission privacy.read"


# AFTER-MERGE: GET /v1/federation/stats comes from the coordinator branch
# of issue 15 (contract "coord"); passes once it is merged.
@pytest.mark.after_merge
def test_federation_statistics(operator, viewer, approved, trained):
    stats = operator.get_federation_statistics()
    assert stats.federated is True
    assert stats.total_sites >= len(approved)
    assert stats.active_sites == len(approved)
    assert stats.total_rounds >= len(trained)
    sites = {s.site_id: s for s in operator.list_sites()}
    assert stats.total_samples >= sum(sites[s].num_samples for s in approved)
    assert stats.average_accuracy is None or 0.0 <= stats.average_accuracy <= 1.0
    privacy = operator.get_privacy_status()
    assert stats.total_privacy_budget_used == pytest.approx(privacy.spent_epsilon, rel=1e-6,
                                                            abs=1e-9)
    # The guide's prints read it as a dict; every role may read it.
    assert stats["total_sites"] == viewer.get_federation_statistics()["total_sites"]


# AFTER-MERGE: "federated" in /v1/status (contract "coord").
@pytest.mark.after_merge
def test_status_says_whether_the_federation_is_federated(viewer):
    assert viewer.get_system_status().federated is True
