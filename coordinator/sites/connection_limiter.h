#ifndef CLS_COORDINATOR_SITES_CONNECTION_LIMITER_H_
#define CLS_COORDINATOR_SITES_CONNECTION_LIMITER_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace cls::coordinator {

// Caps the site port's connections: in total (every accepted TCP connection,
// before TLS) and per site certificate (after the handshake, by CN). Each
// admitted connection holds a Slot; the count drops when the Slot is
// destroyed, so a session releases its place however it ends. Slots may
// outlive the limiter. Not thread-safe: used on the io_context thread.
class ConnectionLimiter {
 public:
  ConnectionLimiter(int max_total, int max_per_site);

  // One connection's place. Movable; releases on destruction.
  class Slot {
   public:
    Slot(Slot&&) noexcept = default;
    Slot& operator=(Slot&& other) noexcept {
      Slot old(std::move(other));  // releases what this held, on return
      std::swap(counts_, old.counts_);
      std::swap(site_, old.site_);
      return *this;
    }
    ~Slot();

   private:
    friend class ConnectionLimiter;
    struct Counts;
    explicit Slot(std::shared_ptr<Counts> counts)
        : counts_(std::move(counts)) {}
    std::shared_ptr<Counts> counts_;
    std::string site_;  // "" until ClaimSite succeeds
  };

  // A slot for a new connection, or nullopt when max_total are open.
  std::optional<Slot> Admit();
  // Counts `slot` against `site`; false (and nothing counted) when that site
  // already has max_per_site connections. At most once per slot.
  bool ClaimSite(Slot& slot, const std::string& site);

  int total() const;
  int of_site(const std::string& site) const;
  int max_total() const { return max_total_; }
  int max_per_site() const { return max_per_site_; }

 private:
  int max_total_;
  int max_per_site_;
  std::shared_ptr<Slot::Counts> counts_;
};

struct ConnectionLimiter::Slot::Counts {
  int total = 0;
  std::map<std::string, int> per_site;
};

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_SITES_CONNECTION_LIMITER_H_
