"""The guide's "Complete Workflow" (Integrated System) against a live
consortium, end to end with one operator client: sites, a federated round,
an improved version rolled out gradually and served, predictions and
outcomes at a site, the audit trail, the status."""

import json

from continuous_learning_system import (ContinuousLearningSystem, DeploymentStrategy,
                                        FederatedLearningCoordinator, Federation)
from helpers import features, no_rollout


def test_complete_workflow(consortium, auditor, approved, site_clients):
    ident = consortium["identities"]["operator"]
    # 1. Connect (the guide's ContinuousLearningSystem is this client).
    system = ContinuousLearningSystem(consortium["admin"]["url"], ca=consortium["ca"],
                                      cert=ident["cert"], key=ident["key"])
    assert ContinuousLearningSystem is Federation is FederatedLearningCoordinator

    # 2. Federated sites: registered by their agents, approved here.
    for site in system.list_sites():
        if site.site_id in approved:
            assert system.register_site(site) == "approved"

    # 3. A deployed baseline.
    baseline = no_rollout(system).current_version

    # 5. Federated learning: the sites train, the coordinator aggregates.
    round_result = system.perform_federated_round(timeout=240)
    assert round_result.completed, round_result.raw
    assert round_result.aggregated_accuracy is None or 0 <= round_result.aggregated_accuracy <= 1

    # 6. Deploy the improved model, gradually.
    improved = round_result.model_version
    deployment = system.deploy(improved, DeploymentStrategy.GRADUAL_ROLLOUT, percentage=50,
                               reason="monthly federated model")
    assert (deployment.current_version, deployment.candidate_version) == (baseline, improved)
    system.wait_for_deployment(timeout=60)

    # 7. Monitor predictions: the hospital's systems predict and report
    # outcomes at their site; both versions serve at 50%.
    site = site_clients[approved[0]]
    served = set()
    for i in range(40):
        key = f"enc-workflow-{i}"
        p = site.predict(key, features(i))
        served.add(p.version_id)
        site.record_outcome(key, p.label)
    assert served == {baseline, improved}
    assert system.increase_rollout(improved, 50.0) == 100.0
    assert system.promote(reason="workflow complete").current_version == improved

    # 8. Export the audit log (HIPAA): the deployment is there with who,
    # what, how and why.
    audit = json.loads(auditor.export_audit_log())
    deployed = [e for e in audit["entries"] if e["event_type"] == "version_deployed"
                and e["fields"].get("candidate_version") == improved]
    assert len(deployed) == 1, [e["fields"] for e in audit["entries"][-20:]]
    entry = deployed[0]
    assert entry["actor"] == "operator"
    assert entry["fields"]["strategy"] == "gradual_rollout"
    assert entry["fields"]["reason"] == "monthly federated model"
    assert entry["timestamp"].endswith("Z")
    assert any(e["event_type"] == "version_promoted" for e in audit["entries"])

    # 9. Status.
    status = system.get_system_status()
    assert json.loads(json.dumps(status.raw))["model_type"] == "diagnosis_predictor"
    assert status.model_version == improved  # the newest global model
