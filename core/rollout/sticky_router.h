#ifndef CLS_CORE_ROLLOUT_STICKY_ROUTER_H_
#define CLS_CORE_ROLLOUT_STICKY_ROUTER_H_

#include <array>
#include <cstdint>
#include <string_view>

namespace cls::rollout {

inline constexpr uint32_t kRouteBuckets = 10'000;

// SipHash-2-4 (Aumasson and Bernstein 2012) of data under a 128-bit key,
// words read little-endian whatever the host, so a bucket is the same on
// every site and after every restart.
uint64_t SipHash24(const std::array<uint8_t, 16>& key, std::string_view data);

// Maps a request key (e.g. an encounter id) to one of 10,000 buckets:
//   bucket = SipHash-2-4_k(request_key) mod 10,000,  k = SHA-256(salt)[0:16]
// The same key and salt give the same bucket in any process on any
// platform, so an encounter sees the same version for the whole rollout; a
// new deployment gets a new salt, so a different slice of encounters goes
// first each time. SipHash is keyed, so a client who does not know the salt
// cannot pick keys that land on the candidate. (The modulo bias of 2^64 mod
// 10,000 is below 1e-15.) Immutable; thread-safe.
class StickyRouter {
 public:
  explicit StickyRouter(std::string_view salt);

  uint32_t Bucket(std::string_view request_key) const {
    return static_cast<uint32_t>(SipHash24(key_, request_key) % kRouteBuckets);
  }

 private:
  std::array<uint8_t, 16> key_{};
};

}  // namespace cls::rollout

#endif  // CLS_CORE_ROLLOUT_STICKY_ROUTER_H_
