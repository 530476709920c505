#ifndef CLS_COORDINATOR_SITES_SITE_REGISTRY_H_
#define CLS_COORDINATOR_SITES_SITE_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "coordinator/config.h"
#include "coordinator/storage/store.h"
#include "core/robust/trust.h"
#include "crypto/signature.h"
#include "crypto/tls_context.h"
#include "protocol/messages.h"
#include "secagg/server/round_context.h"

namespace cls::coordinator {

// A live connection to a site agent, as the coordinator sees it.
class SiteConnection {
 public:
  virtual ~SiteConnection() = default;
  // Queues an encoded frame; never blocks.
  virtual void Send(std::shared_ptr<const Bytes> frame) = 0;
  virtual void Close(std::string_view reason) = 0;
};

// Who asked, for the audit log.
struct Actor {
  std::string name;
  std::string role;
};

// The coordinator itself, for what it does on its own.
inline const Actor kSystemActor{"coordinator", "system"};

// Appends an audit entry; a failure is logged (the action already happened).
void AuditOrLog(CoordinatorStore& store, const Actor& actor,
                const std::string& event, const nlohmann::json& fields);

// A site's trust as a round's robust rule left it: stored only if the round
// commits (or alone when the rule rejected every group).
struct TrustUpdate {
  std::string site_id;
  core::robust::SiteTrust state;
  double trust = 0;
  bool quarantined_now = false;
};

// Which sites exist and which are connected: admission (a site's hello),
// operator approval, revocation, trust and reinstatement, and the live
// connections every message to a site goes through (one at a time per
// site; a new hello replaces the old connection).
// Single-threaded: every call on the io_context thread. Borrows the config
// and the store; shares ownership of the connections with their sessions.
class SiteRegistry final : public RoundSender {
 public:
  SiteRegistry(const CoordinatorConfig& config, CoordinatorStore& store);

  // A site's hello: the Welcome, or why it is refused (certificate and hello
  // disagree, revoked, awaiting approval, no samples). A first hello
  // registers the site as pending.
  Result<protocol::Welcome> Admit(std::shared_ptr<SiteConnection> connection,
                                  const crypto::PeerIdentity& peer,
                                  const protocol::Hello& hello);
  // The session of `connection` ended; true when it was the site's live
  // connection (now forgotten), false for a replaced one.
  bool Remove(const std::string& site_id, const SiteConnection* connection);
  // Called when a new hello replaced a site's live connection.
  void SetOnConnectionReplaced(std::function<void(const std::string&)> f) {
    on_replaced_ = std::move(f);
  }

  // Operator actions, audited with the actor.
  Status Approve(const std::string& site_id, const Actor& actor);
  // Lifts a trust quarantine: clears the site's evidence, sets the
  // operator's trust score and lets it join rounds again.
  // FailedPrecondition unless the site is quarantined.
  Status Reinstate(const std::string& site_id, double trust_score,
                   const Actor& actor);
  // Bars the site: refused at its next hello, its live connection closed
  // now. Revoking a revoked site changes nothing.
  Status Revoke(const std::string& site_id, const std::string& reason,
                const Actor& actor);
  // After a CRL reload: closes the live connection of every site whose
  // certificate `ca` now refuses (revoked, or expired), audited as
  // site_certificate_refused; their next hello fails the TLS handshake.
  // Returns those sites.
  std::vector<std::string> DisconnectRefusedCertificates(
      const crypto::CertificateAuthority& ca);
  // Sets the operator's trust score (0..1) of a site.
  Status SetTrustScore(const std::string& site_id, double score,
                       const Actor& actor);

  // Queries.
  Result<std::optional<SiteRecord>> Find(const std::string& site_id);
  Result<std::vector<SiteRecord>> List();
  // Approved and connected: who may take part in the next round.
  std::vector<SiteRecord> ActiveSites();
  bool IsConnected(const std::string& site_id) const {
    return connections_.count(site_id) > 0;
  }
  size_t connected_count() const { return connections_.size(); }
  // Issue 14: each DP-SGD site's record-level ledger as it last reported
  // it (Hello, MaskedInput). In memory: every connection reports it again.
  // A rise in refusals is logged (the site refused to train past its
  // budget and left the round).
  void NoteRecordPrivacy(const std::string& site_id,
                         const protocol::RecordPrivacyReport& report);
  const std::map<std::string, protocol::RecordPrivacyReport>& record_privacy()
      const {
    return record_privacy_;
  }
  std::vector<std::string> ConnectedSites() const;
  // The certificate the site connected with (null when not connected).
  std::shared_ptr<const crypto::Certificate> CertificateOf(
      const std::string& site_id) const;

  // Trust ([robust]).
  Result<std::vector<core::robust::SiteTrust>> LoadTrust(
      const std::vector<SiteRecord>& sites);
  // Writes trust states and new quarantines; call inside the transaction
  // that commits the round's outcome.
  Status SaveTrust(const std::vector<TrustUpdate>& updates);
  // After that commit: audits and logs the new quarantines.
  void AnnounceQuarantines(int64_t round_id,
                           const std::vector<TrustUpdate>& updates);
  // Sites whose own signatures proved a protocol breach in a round:
  // audited, logged and given full blame in their trust.
  void RecordMisbehaviours(int64_t round_id,
                           const std::vector<Misbehaviour>& misbehaviours);

  // Broadcast to every connected site.
  void Broadcast(std::shared_ptr<const Bytes> frame);
  // Audit checkpoints (docs/audit.md): each new one goes to every connected
  // site, and the latest to each site right after its Welcome.
  void PublishAuditCheckpoint(std::string checkpoint_json);
  void SendLatestAuditCheckpoint(const std::string& site_id);

  // RoundSender: a message to a site that is not connected is dropped (the
  // stage deadline drops the site).
  void Send(const std::string& site_id, protocol::Message message) override;
  void Disconnect(const std::string& site_id, std::string_view reason) override;

 private:
  const CoordinatorConfig& config_;
  CoordinatorStore& store_;
  std::map<std::string, std::shared_ptr<SiteConnection>> connections_;
  std::map<std::string, protocol::RecordPrivacyReport> record_privacy_;
  // Each connected site's certificate, from its TLS session: rounds relay it
  // to the site's neighbours and check its signatures with it.
  std::map<std::string, std::shared_ptr<const crypto::Certificate>>
      certificates_;
  std::function<void(const std::string&)> on_replaced_;
  std::string latest_audit_checkpoint_;  // JSON; empty until the first
};

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_SITES_SITE_REGISTRY_H_
