#ifndef CLS_COORDINATOR_SITES_FAKE_SITE_CONNECTION_H_
#define CLS_COORDINATOR_SITES_FAKE_SITE_CONNECTION_H_

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <memory>
#include <string>
#include <vector>

#include "common/testing/temp_dir.h"
#include "coordinator/sites/site_registry.h"
#include "crypto/test_pki.h"
#include "protocol/frame.h"

namespace cls::coordinator::testing {

// A site connection that records what the coordinator sends and whether
// it closed it (the tests of the coordinator's services).
class FakeSiteConnection final : public SiteConnection {
 public:
  void Send(std::shared_ptr<const Bytes> frame) override {
    frames.push_back(std::move(frame));
  }
  void Close(std::string_view reason) override {
    closed = true;
    close_reason = std::string(reason);
  }
  // The kind names of the frames received, in order ("round_result").
  std::vector<std::string> Kinds() const {
    std::vector<std::string> kinds;
    for (const auto& f : frames) {
      auto m = protocol::DecodeFrame(*f);
      kinds.push_back(m ? std::string(protocol::MessageName(*m))
                        : "undecodable");
    }
    return kinds;
  }
  std::vector<std::shared_ptr<const Bytes>> frames;
  bool closed = false;
  std::string close_reason;
};

using cls::testing::TempDir;

// A site's TLS identity as the site server hands it over, from a real
// in-memory CA.
inline crypto::PeerIdentity PeerFor(crypto::testing::TestPki& pki,
                                    const std::string& site_id) {
  auto issued = pki.Issue(site_id, "site");
  return {site_id, "site", "01", issued.certificate_der};
}

// The audit entries of one event type, in order.
inline std::vector<audit::AuditEntry> AuditEntries(CoordinatorStore& store,
                                                   const std::string& event) {
  std::vector<audit::AuditEntry> out;
  auto all = store.audit_log().Entries("", "");
  if (!all) return out;
  for (auto& e : *all) {
    if (e.event_type == event) out.push_back(e);
  }
  return out;
}

inline protocol::Hello HelloFrom(const std::string& site_id,
                                 uint64_t samples = 100) {
  protocol::Hello hello;
  hello.site_id = site_id;
  hello.site_name = site_id + " hospital";
  hello.location = "test";
  hello.num_samples = samples;
  return hello;
}

}  // namespace cls::coordinator::testing

#endif  // CLS_COORDINATOR_SITES_FAKE_SITE_CONNECTION_H_
