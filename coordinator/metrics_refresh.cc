#include "coordinator/metrics_refresh.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace cls::coordinator {

FederationGauges ReadFederationGauges(Federation& federation) {
  FederationGauges g;
  g.sites_connected = static_cast<int>(federation.sites().connected_count());
  if (auto sites = federation.sites().List(); sites) {
    bool any = false;
    for (const auto& site : *sites) {
      if (site.status == SiteStatus::kApproved) ++g.sites_approved;
      if (site.status == SiteStatus::kApproved ||
          site.status == SiteStatus::kQuarantined) {
        g.trust_min =
            any ? std::min(g.trust_min, site.trust_score) : site.trust_score;
        any = true;
      }
    }
  } else {
    spdlog::warn("metrics: cannot list sites: {}", sites.error().message);
  }
  g.round_running = federation.rounds().CurrentRound().has_value();
  g.queue_length = federation.rounds().queued_rounds();
  if (RoundPrivacy* privacy = federation.privacy()) {
    if (auto report = privacy->ledger().Snapshot(1); report) {
      g.epsilon_spent = report->spent_epsilon;
      g.epsilon_remaining = report->remaining_epsilon;
      g.epsilon_budget = report->period.epsilon_budget;
    }
  }
  // Versions are v1..vN: the newest one's sequence is their number.
  g.model_versions = static_cast<int>(federation.model().sequence);
  if (const auto& current = federation.deployments().current();
      current && !current->state.candidate_version.empty()) {
    g.rollout_percentage = current->state.percentage;
  }
  return g;
}

MetricsRefresh::MetricsRefresh(boost::asio::io_context& io,
                               Federation& federation,
                               CoordinatorMetrics& metrics,
                               std::chrono::milliseconds interval)
    : federation_(federation),
      metrics_(metrics),
      interval_(interval),
      timer_(io) {}

void MetricsRefresh::Start() { Tick(); }

void MetricsRefresh::Tick() {
  metrics_.SetGauges(ReadFederationGauges(federation_));
  timer_.expires_after(interval_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) Tick();
  });
}

}  // namespace cls::coordinator
