#include "coordinator/hangup.h"

#include <spdlog/spdlog.h>

#include "common/logging.h"
#include "crypto/signature.h"
#include "crypto/tls_context.h"

namespace cls::coordinator {

void ReloadOnHangup(Federation& federation, CoordinatorStore& store,
                    boost::asio::ssl::context& tls,
                    const CoordinatorConfig& config,
                    CoordinatorReadiness& readiness) {
  nlohmann::json fields;
  if (auto s = ReopenLogs(); !s) {
    // Logging goes on to the old file descriptor.
    spdlog::error("SIGHUP: {}", s.error().message);
    fields["log_file_error"] = s.error().message;
  }
  spdlog::info("SIGHUP: log reopened; reloading the CRL {}",
               config.tls.crl_file);
  if (auto s = crypto::ReloadCrl(tls, config.tls); !s) {
    spdlog::error(
        "SIGHUP: CRL not reloaded, the previous one stays in force: {}",
        s.error().message);
    fields["crl_error"] = s.error().message;
  } else {
    if (auto next = crypto::CrlNextUpdate(config.tls.crl_file); next) {
      readiness.SetCrlNextUpdate(*next);
    }
    auto ca = crypto::CertificateAuthority::FromFiles(config.tls.ca_file,
                                                      config.tls.crl_file);
    if (!ca) {
      spdlog::error("SIGHUP: cannot check connected sites: {}",
                    ca.error().message);
    } else {
      auto refused = federation.sites().DisconnectRefusedCertificates(*ca);
      fields["sites_disconnected"] = refused;
      spdlog::info("SIGHUP: CRL reloaded; {} connected site(s) refused by it",
                   refused.size());
    }
  }
  fields["crl_file"] = config.tls.crl_file;
  AuditOrLog(store, kSystemActor, "configuration_reloaded", fields);
}

}  // namespace cls::coordinator
