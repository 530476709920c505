#ifndef CLS_COORDINATOR_ROUND_ROUND_TEST_UTIL_H_
#define CLS_COORDINATOR_ROUND_ROUND_TEST_UTIL_H_

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>

#include "coordinator/round/round_context.h"
#include "core/quantization.h"
#include "protocol/messages.h"

namespace cls::coordinator {

// Records what a round sends; a test then delivers it to in-process
// SecAggClients (secure_round_test, grouped_round_test).
class FakeNetwork final : public RoundSender {
 public:
  void Send(const std::string& site_id, protocol::Message message) override {
    inbox[site_id].push_back(std::move(message));
  }
  void Disconnect(const std::string& site_id,
                  std::string_view reason) override {
    disconnected[site_id] = std::string(reason);
  }
  std::map<std::string, std::deque<protocol::Message>> inbox;
  std::map<std::string, std::string> disconnected;
};

// A round over `sites` sites of `dim` raw float values: 16-bit values,
// clip 1, the benchmark vector kind.
inline RoundSettings TestRoundSettings(size_t dim, int sites, uint64_t round_id,
                                       uint64_t graph_seed) {
  RoundSettings settings;
  settings.round_id = round_id;
  settings.model_version = "v1_20260101_000000";
  settings.model_kind = "benchmark_vector";
  settings.global_parameters.assign(dim, 0.0f);
  settings.quantization.clip = 1.0;
  settings.quantization.value_bits = 16;
  settings.quantization.ring_bits = *core::RingBitsFor(16, sites);
  settings.graph_seed = graph_seed;
  return settings;
}

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_ROUND_ROUND_TEST_UTIL_H_
