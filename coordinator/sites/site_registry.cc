#include "coordinator/sites/site_registry.h"

#include <spdlog/spdlog.h>

#include "coordinator/sites/site_trust_store.h"
#include "protocol/frame.h"

namespace cls::coordinator {

void AuditOrLog(CoordinatorStore& store, const Actor& actor,
                const std::string& event, const nlohmann::json& fields) {
  if (auto s = store.Audit(actor.name, actor.role, event, fields); !s) {
    spdlog::error("audit entry {} could not be written: {}", event,
                  s.error().message);
  }
}

SiteRegistry::SiteRegistry(const CoordinatorConfig& config,
                           CoordinatorStore& store)
    : config_(config), store_(store) {}

void SiteRegistry::NoteRecordPrivacy(
    const std::string& site_id, const protocol::RecordPrivacyReport& report) {
  if (!report.dp_sgd) return;
  auto [it, added] = record_privacy_.try_emplace(site_id, report);
  if (!added && report.refusals > it->second.refusals) {
    spdlog::warn(
        "site {} refused {} training(s) for its record-level privacy budget "
        "(epsilon {:.4g} of {:.4g} spent at delta {:.3g})",
        site_id, report.refusals - it->second.refusals, report.epsilon,
        report.target_epsilon, report.delta);
  }
  it->second = report;
}

Result<protocol::Welcome> SiteRegistry::Admit(
    std::shared_ptr<SiteConnection> connection,
    const crypto::PeerIdentity& peer, const protocol::Hello& hello) {
  if (hello.site_id != peer.common_name) {
    return PermissionDenied("certificate is for '" + peer.common_name +
                            "' but hello names '" + hello.site_id + "'");
  }
  auto found = store_.FindSite(hello.site_id);
  if (!found) return std::unexpected(found.error());
  NoteRecordPrivacy(hello.site_id, hello.record_privacy);
  if (!*found) {
    SiteRecord site{hello.site_id,
                    hello.site_name,
                    hello.location,
                    static_cast<int64_t>(hello.num_samples),
                    1.0,
                    SiteStatus::kPending,
                    UtcNow(),
                    UtcNow(),
                    hello.agent_version};
    if (auto s = store_.InsertSite(site); !s) return std::unexpected(s.error());
    AuditOrLog(
        store_, {hello.site_id, "site"}, "site_registered",
        {{"site_id", hello.site_id}, {"num_samples", hello.num_samples}});
    spdlog::info("site {} registered; awaiting operator approval",
                 hello.site_id);
  } else if ((*found)->status == SiteStatus::kRevoked) {
    return PermissionDenied("site " + hello.site_id + " is revoked");
  }
  if (!*found || (*found)->status == SiteStatus::kPending) {
    (void)store_.UpdateSiteHello(hello.site_id, hello.site_name, hello.location,
                                 static_cast<int64_t>(hello.num_samples),
                                 hello.agent_version);
    return FailedPrecondition(
        "site " + hello.site_id +
        " awaits operator approval (clsctl sites approve " + hello.site_id +
        ")");
  }
  if (hello.num_samples == 0) {
    return InvalidArgument("site " + hello.site_id +
                           " reports no training samples");
  }
  if (auto s = store_.UpdateSiteHello(
          hello.site_id, hello.site_name, hello.location,
          static_cast<int64_t>(hello.num_samples), hello.agent_version);
      !s) {
    return std::unexpected(s.error());
  }
  if (auto old = connections_.find(hello.site_id); old != connections_.end()) {
    old->second->Close("replaced by a new connection");
    connections_.erase(old);
    if (on_replaced_) on_replaced_(hello.site_id);
  }
  auto certificate = crypto::Certificate::FromDer(peer.certificate_der);
  if (!certificate) return std::unexpected(certificate.error());
  certificates_[hello.site_id] =
      std::make_shared<const crypto::Certificate>(std::move(*certificate));
  connections_[hello.site_id] = std::move(connection);
  spdlog::info("site {} connected ({} connected)", hello.site_id,
               connections_.size());
  return protocol::Welcome{hello.site_id, true};
}

bool SiteRegistry::Remove(const std::string& site_id,
                          const SiteConnection* connection) {
  auto it = connections_.find(site_id);
  if (it == connections_.end() || it->second.get() != connection) return false;
  connections_.erase(it);
  spdlog::info("site {} disconnected ({} connected)", site_id,
               connections_.size());
  return true;
}

Status SiteRegistry::Approve(const std::string& site_id, const Actor& actor) {
  auto found = store_.FindSite(site_id);
  if (!found) return std::unexpected(found.error());
  if (!*found) {
    return NotFound(
        "no site '" + site_id +
        "' has connected yet; start its agent first, then approve it");
  }
  if ((*found)->status == SiteStatus::kRevoked) {
    return FailedPrecondition("site " + site_id + " is revoked");
  }
  if ((*found)->status == SiteStatus::kApproved) return {};
  if ((*found)->status == SiteStatus::kQuarantined) {
    return FailedPrecondition("site " + site_id +
                              " is quarantined for low trust; reinstate it "
                              "(clsctl sites reinstate " +
                              site_id + ")");
  }
  if (auto s = store_.SetSiteStatus(site_id, SiteStatus::kApproved); !s)
    return s;
  AuditOrLog(store_, actor, "site_approved", {{"site_id", site_id}});
  spdlog::info("site {} approved by {}", site_id, actor.name);
  return {};
}

Status SiteRegistry::Reinstate(const std::string& site_id, double trust_score,
                               const Actor& actor) {
  if (!(trust_score >= 0 && trust_score <= 1)) {
    return InvalidArgument("trust_score must be a number from 0 to 1");
  }
  auto found = store_.FindSite(site_id);
  if (!found) return std::unexpected(found.error());
  if (!*found) return NotFound("no site '" + site_id + "'");
  if ((*found)->status != SiteStatus::kQuarantined) {
    return FailedPrecondition("site " + site_id + " is " +
                              std::string(SiteStatusName((*found)->status)) +
                              ", not quarantined");
  }
  auto trust = LoadSiteTrust(store_.db(), site_id, (*found)->trust_score, true);
  if (!trust) return std::unexpected(trust.error());
  if (auto s = core::robust::Reinstate(*trust, trust_score); !s) return s;
  const double now = core::robust::TrustScore(*trust, config_.robust.trust);
  Status saved = store_.db().Transaction([&]() -> Status {
    if (auto s = SaveSiteTrust(store_.db(), site_id, *trust, now); !s) return s;
    return store_.SetSiteStatus(site_id, SiteStatus::kApproved);
  });
  if (!saved) return saved;
  AuditOrLog(store_, actor, "site_reinstated",
             {{"site_id", site_id},
              {"trust_score", trust_score},
              {"previous_trust", (*found)->trust_score}});
  spdlog::info("site {} reinstated by {} with trust {}", site_id, actor.name,
               trust_score);
  return {};
}

Status SiteRegistry::Revoke(const std::string& site_id,
                            const std::string& reason, const Actor& actor) {
  auto site = store_.FindSite(site_id);
  if (!site) return std::unexpected(site.error());
  if (!*site) return NotFound("no site '" + site_id + "'");
  if ((*site)->status == SiteStatus::kRevoked) return {};
  if (auto s = store_.SetSiteStatus(site_id, SiteStatus::kRevoked); !s) {
    return s;
  }
  AuditOrLog(store_, actor, "site_revoked",
             {{"site_id", site_id}, {"reason", reason}});
  // Refused at its next hello; the live connection goes now, which drops
  // it from a running round like any lost site.
  Disconnect(site_id, "revoked by an operator");
  return {};
}

std::vector<std::string> SiteRegistry::DisconnectRefusedCertificates(
    const crypto::CertificateAuthority& ca) {
  std::vector<std::string> refused;
  for (const auto& [site_id, certificate] : certificates_) {
    if (!connections_.count(site_id)) continue;
    if (auto checked = ca.Check(certificate->der()); !checked) {
      refused.push_back(site_id);
      AuditOrLog(store_, kSystemActor, "site_certificate_refused",
                 {{"site_id", site_id}, {"reason", checked.error().message}});
    }
  }
  for (const auto& site_id : refused) {
    Disconnect(site_id, "its certificate is refused by the reloaded CRL");
  }
  return refused;
}

Status SiteRegistry::SetTrustScore(const std::string& site_id, double score,
                                   const Actor& actor) {
  if (!(score >= 0.0) || !(score <= 1.0)) {
    return InvalidArgument("trust_score must be a number from 0 to 1");
  }
  auto site = store_.FindSite(site_id);
  if (!site) return std::unexpected(site.error());
  if (!*site) return NotFound("no site '" + site_id + "'");
  if (auto s = store_.SetSiteTrustScore(site_id, score); !s) return s;
  AuditOrLog(store_, actor, "site_trust_set",
             {{"site_id", site_id},
              {"trust_score", score},
              {"previous", (*site)->trust_score}});
  return {};
}

Result<std::optional<SiteRecord>> SiteRegistry::Find(
    const std::string& site_id) {
  return store_.FindSite(site_id);
}

Result<std::vector<SiteRecord>> SiteRegistry::List() {
  return store_.ListSites();
}

std::vector<SiteRecord> SiteRegistry::ActiveSites() {
  std::vector<SiteRecord> active;
  auto sites = store_.ListSites();
  if (!sites) {
    spdlog::error("listing sites: {}", sites.error().message);
    return active;
  }
  for (auto& site : *sites) {
    if (site.status == SiteStatus::kApproved &&
        connections_.count(site.site_id)) {
      active.push_back(std::move(site));
    }
  }
  return active;
}

std::vector<std::string> SiteRegistry::ConnectedSites() const {
  std::vector<std::string> sites;
  for (const auto& [site_id, connection] : connections_) {
    sites.push_back(site_id);
  }
  return sites;
}

std::shared_ptr<const crypto::Certificate> SiteRegistry::CertificateOf(
    const std::string& site_id) const {
  auto it = certificates_.find(site_id);
  return it == certificates_.end() ? nullptr : it->second;
}

Result<std::vector<core::robust::SiteTrust>> SiteRegistry::LoadTrust(
    const std::vector<SiteRecord>& sites) {
  std::vector<core::robust::SiteTrust> trust;
  for (const auto& s : sites) {
    auto t = LoadSiteTrust(store_.db(), s.site_id, s.trust_score,
                           s.status == SiteStatus::kQuarantined);
    if (!t) return std::unexpected(t.error());
    trust.push_back(*t);
  }
  return trust;
}

Status SiteRegistry::SaveTrust(const std::vector<TrustUpdate>& updates) {
  for (const TrustUpdate& p : updates) {
    if (auto s = SaveSiteTrust(store_.db(), p.site_id, p.state, p.trust); !s) {
      return s;
    }
    if (p.quarantined_now) {
      if (auto s = store_.SetSiteStatus(p.site_id, SiteStatus::kQuarantined);
          !s) {
        return s;
      }
    }
  }
  return {};
}

void SiteRegistry::AnnounceQuarantines(
    int64_t round_id, const std::vector<TrustUpdate>& updates) {
  for (const TrustUpdate& p : updates) {
    if (!p.quarantined_now) continue;
    AuditOrLog(store_, kSystemActor, "site_quarantined",
               {{"site_id", p.site_id},
                {"round", round_id},
                {"trust", p.trust},
                {"floor", config_.robust.trust.floor}});
    spdlog::warn(
        "site {} quarantined: trust {:.3f} below {} (clsctl sites reinstate "
        "{})",
        p.site_id, p.trust, config_.robust.trust.floor, p.site_id);
  }
}

void SiteRegistry::RecordMisbehaviours(
    int64_t round, const std::vector<Misbehaviour>& misbehaviours) {
  for (const auto& m : misbehaviours) {
    spdlog::warn("round {}: site {} broke the protocol: {}", round, m.site_id,
                 m.what);
    AuditOrLog(store_, kSystemActor, "site_misbehaved",
               {{"site_id", m.site_id}, {"round", round}, {"what", m.what}});
    auto site = store_.FindSite(m.site_id);
    if (!site || !*site) continue;
    auto trust = LoadSiteTrust(store_.db(), m.site_id, (*site)->trust_score,
                               (*site)->status == SiteStatus::kQuarantined);
    if (!trust) {
      spdlog::error("loading trust of {}: {}", m.site_id,
                    trust.error().message);
      continue;
    }
    // Signed proof, not a statistical guess: full blame for the round.
    auto change = core::robust::UpdateTrust(
        *trust, {.participated = true, .blame = 1.0, .clearance = 0.0},
        config_.robust.trust);
    if (!change) continue;
    if (auto s = SaveSiteTrust(store_.db(), m.site_id, *trust, change->after);
        !s) {
      spdlog::error("saving trust of {}: {}", m.site_id, s.error().message);
      continue;
    }
    if (change->quarantined_now) {
      (void)store_.SetSiteStatus(m.site_id, SiteStatus::kQuarantined);
      AuditOrLog(store_, kSystemActor, "site_quarantined",
                 {{"site_id", m.site_id},
                  {"round", round},
                  {"trust", change->after},
                  {"floor", config_.robust.trust.floor}});
    }
  }
}

void SiteRegistry::Broadcast(std::shared_ptr<const Bytes> frame) {
  for (auto& [site_id, connection] : connections_) connection->Send(frame);
}

void SiteRegistry::PublishAuditCheckpoint(std::string checkpoint_json) {
  latest_audit_checkpoint_ = std::move(checkpoint_json);
  Broadcast(std::make_shared<const Bytes>(protocol::EncodeFrame(
      protocol::AuditCheckpoint{latest_audit_checkpoint_})));
}

void SiteRegistry::SendLatestAuditCheckpoint(const std::string& site_id) {
  if (latest_audit_checkpoint_.empty()) return;
  Send(site_id, protocol::AuditCheckpoint{latest_audit_checkpoint_});
}

void SiteRegistry::Send(const std::string& site_id, protocol::Message message) {
  auto it = connections_.find(site_id);
  if (it == connections_.end()) return;
  it->second->Send(
      std::make_shared<const Bytes>(protocol::EncodeFrame(message)));
}

void SiteRegistry::Disconnect(const std::string& site_id,
                              std::string_view reason) {
  spdlog::warn("dropping site {}: {}", site_id, reason);
  auto it = connections_.find(site_id);
  if (it != connections_.end()) it->second->Close(reason);
}

}  // namespace cls::coordinator
