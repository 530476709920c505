"""The guide's "Site Registration" against a live consortium: sites register
themselves by connecting with their certificates; an operator approves them.
Plus who may do it, and TLS refusals."""

import ssl

import pytest

from continuous_learning_system import (ClsError, Conflict, FederatedSite, Federation,
                                        InvalidArgument, NotFound, PermissionDenied)
from helpers import wait_registered


def test_sites_register_and_an_operator_approves_them(operator, training_sites):
    wait_registered(operator, training_sites)
    sites = {s.site_id: s for s in operator.list_sites()}
    for site_id in training_sites:
        site = sites[site_id]
        assert isinstance(site, FederatedSite)
        assert site.site_name == f"Test {site_id}"
        assert site.num_samples > 0
        assert site.status in ("pending", "approved")
        # The guide's coordinator.register_site(site): the operator's part.
        assert operator.register_site(site) == "approved"
    status = operator.wait_for_sites(len(training_sites), timeout=60)
    assert status.sites["approved"] >= len(training_sites)
    for site_id in training_sites:
        got = operator.get_site(site_id)
        assert got.status == "approved"
        assert got["site_id"] == site_id  # the guide's dictionary access


def test_viewer_cannot_approve_and_gets_the_servers_message(viewer, spare_site, operator):
    wait_registered(operator, [spare_site])
    before = viewer.get_site(spare_site).status
    assert before != "approved"
    with pytest.raises(PermissionDenied) as e:
        viewer.approve_site(spare_site)
    assert e.value.status == 403
    assert e.value.code == "permission_denied"
    assert e.value.message == "role 'viewer' lacks permission site.approve"
    assert isinstance(e.value, PermissionError)  # what the guide's RBAC raises
    # It only reads: the site is still as it was.
    assert viewer.get_site(spare_site).status == before


def test_unknown_site_is_not_found(operator):
    with pytest.raises(NotFound) as e:
        operator.get_site("HOSP_NOWHERE")
    assert e.value.status == 404
    assert "HOSP_NOWHERE" in e.value.message
    with pytest.raises(NotFound):
        operator.approve_site("HOSP_NOWHERE")


def test_trust_score_is_set_and_checked(operator, approved):
    site = approved[0]
    assert operator.set_trust(site, 0.75) == 0.75
    assert operator.get_site(site).trust_score == 0.75
    with pytest.raises(InvalidArgument) as e:
        operator.set_trust(site, 1.5)
    assert e.value.message == "trust_score must be a number from 0 to 1"
    assert operator.set_trust(site, 1.0) == 1.0


def test_revoked_site_cannot_be_approved_again(admin, operator, spare_site):
    wait_registered(admin, [spare_site])
    # An operator may approve but not revoke.
    with pytest.raises(PermissionDenied):
        operator.revoke_site(spare_site, reason="left the consortium")
    assert admin.revoke_site(spare_site, reason="left the consortium") == "revoked"
    assert admin.get_site(spare_site).status == "revoked"
    with pytest.raises(Conflict) as e:
        operator.approve_site(spare_site)
    assert e.value.status == 409
    assert e.value.message == f"site {spare_site} is revoked"


def test_clsctl_config_contexts(consortium):
    viewer = Federation.from_clsctl_config(consortium["clsctl_config"], "viewer")
    assert viewer.get_system_status().coordinator_id == "test-coordinator"
    with pytest.raises(PermissionDenied):
        viewer.get_privacy_status()
    # Without a context name: the file's current_context (admin).
    assert Federation.from_clsctl_config(consortium["clsctl_config"]).get_privacy_status()


def test_a_client_trusting_another_ca_refuses_the_coordinator(consortium):
    ident = consortium["identities"]["admin"]
    wrong = Federation(consortium["admin"]["url"], ca=consortium["foreign"]["ca"],
                       cert=ident["cert"], key=ident["key"])
    with pytest.raises(ssl.SSLCertVerificationError):
        wrong.get_system_status()


def test_the_coordinator_refuses_a_certificate_of_another_ca(consortium):
    f = consortium["foreign"]
    intruder = Federation(consortium["admin"]["url"], ca=consortium["ca"], cert=f["cert"],
                          key=f["key"])
    # The handshake fails on the server's side; the client sees an alert or
    # a closed connection (TLS 1.3 reports it after the client's Finished),
    # never an HTTP answer.
    with pytest.raises((ssl.SSLError, ConnectionError)) as e:
        intruder.get_system_status()
    assert not isinstance(e.value, ClsError)
