#include "coordinator/sites/connection_limiter.h"

#include <utility>

namespace cls::coordinator {

ConnectionLimiter::Slot::~Slot() {
  if (!counts_) return;  // moved from
  --counts_->total;
  if (!site_.empty()) {
    auto it = counts_->per_site.find(site_);
    if (it != counts_->per_site.end() && --it->second <= 0) {
      counts_->per_site.erase(it);
    }
  }
}

ConnectionLimiter::ConnectionLimiter(int max_total, int max_per_site)
    : max_total_(max_total),
      max_per_site_(max_per_site),
      counts_(std::make_shared<Slot::Counts>()) {}

std::optional<ConnectionLimiter::Slot> ConnectionLimiter::Admit() {
  if (counts_->total >= max_total_) return std::nullopt;
  ++counts_->total;
  return Slot(counts_);
}

bool ConnectionLimiter::ClaimSite(Slot& slot, const std::string& site) {
  if (!slot.counts_ || !slot.site_.empty() || site.empty()) return false;
  int& n = counts_->per_site[site];
  if (n >= max_per_site_) {
    if (n == 0) counts_->per_site.erase(site);
    return false;
  }
  ++n;
  slot.site_ = site;
  return true;
}

int ConnectionLimiter::total() const { return counts_->total; }

int ConnectionLimiter::of_site(const std::string& site) const {
  auto it = counts_->per_site.find(site);
  return it == counts_->per_site.end() ? 0 : it->second;
}

}  // namespace cls::coordinator
