#ifndef CLS_COORDINATOR_HANGUP_H_
#define CLS_COORDINATOR_HANGUP_H_

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <boost/asio/ssl/context.hpp>

#include "coordinator/config.h"
#include "coordinator/federation.h"
#include "coordinator/monitoring/coordinator_metrics.h"

namespace cls::coordinator {

// What SIGHUP (systemctl reload) does, on the io thread, between two
// events of a round and never instead of one:
//  1. reopens the log file (logrotate moved it);
//  2. reloads [tls] crl into the TLS context both ports use: new
//     handshakes are checked against it at once;
//  3. closes the connection of every connected site whose certificate the
//     new CRL revokes (audited as site_certificate_refused). A round goes
//     on without it, as after any lost site.
// What it does not reload: the config file, the coordinator's own
// certificate and key (a restart), the model KEK (clsctl keys rotate).
// A CRL that cannot be read or is expired is refused with an error log and
// the old list stays in force. Audited as configuration_reloaded.
void ReloadOnHangup(Federation& federation, CoordinatorStore& store,
                    boost::asio::ssl::context& tls,
                    const CoordinatorConfig& config,
                    CoordinatorReadiness& readiness);

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_HANGUP_H_
