// In-process secure aggregation benchmark: SecureRound (coordinator) against
// real SecAggClients (sites) with real crypto, messages handed over in memory.
// Prints one JSON object per line (see scripts/bench.sh).
//
//   secagg_bench [--sites N] [--params P] [--rounds R]
//                [--complete-graph-up-to K] [--value-bits B]
//
// Training is excluded: each site's delta is a fixed random vector made once.
// Timed per round (std::chrono::steady_clock):
//   mask       per site: weighting + quantization of its delta, plus
//              SecAggClient::OnShareDelivery (self mask + pairwise masks)
//   sum inputs every MaskedInput OnMessage on the coordinator
//   unmask     the UnmaskResponse OnMessage that completes the round
//              (reconstruct secrets, remove masks, dequantize)
//   round      all protocol work: SecureRound::Start, every client call,
//              quantization, every OnMessage (frame encoding excluded)
// Wire bytes are protocol::EncodeFrame(msg).size(), computed outside timers
// (MaskedInput's vector is bit-packed at ring_bits per value).
//   pack / unpack   protocol::PackBits / UnpackBits of one --params vector at
//                   the round's ring width (the MaskedInput wire format)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/quantization.h"
#include "protocol/bit_pack.h"
#include "protocol/frame.h"
#include "secagg/client/secagg_client.h"
#include "secagg/server/round_test_util.h"
#include "secagg/server/secure_round.h"

namespace {

using cls::coordinator::RoundParticipant;
using cls::coordinator::RoundSender;
using cls::coordinator::RoundSettings;
using cls::coordinator::RoundStage;
using cls::coordinator::SecureRound;
namespace protocol = cls::protocol;
using Clock = std::chrono::steady_clock;
using json = nlohmann::ordered_json;

double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

template <typename F>
auto Timed(double& acc, F&& f) {
  const auto t0 = Clock::now();
  if constexpr (std::is_void_v<decltype(f())>) {
    f();
    acc += Seconds(Clock::now() - t0);
  } else {
    auto r = f();
    acc += Seconds(Clock::now() - t0);
    return r;
  }
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "secagg_bench: %s\n", what.c_str());
  std::exit(1);
}

class Network final : public RoundSender {
 public:
  void Send(const std::string& site_id, protocol::Message message) override {
    inbox[site_id].push_back(std::move(message));
  }
  void Disconnect(const std::string& site_id,
                  std::string_view reason) override {
    Fail("coordinator disconnected " + site_id + ": " + std::string(reason));
  }
  std::map<std::string, std::deque<protocol::Message>> inbox;
};

struct Site {
  std::string id;
  double weight = 0;
  std::vector<float> delta;
  std::optional<cls::site::SecAggClient> client;
  std::vector<uint32_t> quantized;
  double mask_s = 0;
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
};

struct RoundTimes {
  double round_s = 0;
  double sum_inputs_s = 0;
  double unmask_s = 0;
  std::vector<double> mask_s;  // per site
  uint64_t bytes_per_site =
      0;  // median over sites (all equal up to a few bytes)
  uint64_t bytes_to_site = 0;
  uint64_t bytes_per_site_max = 0;
  uint64_t bytes_to_site_max = 0;
};

struct Options {
  int sites = 10;
  size_t params = 1000000;
  int rounds = 3;
  size_t complete_graph_up_to = 32;
  int value_bits = 16;
};

uint64_t FrameBytes(const protocol::Message& m) {
  return protocol::EncodeFrame(m).size();
}

RoundTimes RunRound(std::vector<Site>& sites, const Options& opt,
                    uint64_t round_id,
                    cls::coordinator::TestSiteIdentities& ids) {
  Network net;
  RoundTimes times;
  for (auto& s : sites) {
    s.client.reset();
    s.mask_s = 0;
    s.bytes_sent = s.bytes_received = 0;
  }
  RoundSettings settings;
  settings.round_id = round_id;
  settings.coordinator_id = cls::coordinator::kTestCoordinatorId;
  settings.model_version = "bench";
  settings.model_kind = "benchmark_vector";
  settings.global_parameters.assign(opt.params, 0.0f);
  settings.quantization.clip = 1.0;
  settings.quantization.value_bits = opt.value_bits;
  auto ring = cls::core::RingBitsFor(opt.value_bits, opt.sites);
  if (!ring) Fail(ring.error().message);
  settings.quantization.ring_bits = *ring;
  settings.complete_graph_up_to = opt.complete_graph_up_to;
  settings.graph_seed = 1000 + round_id;
  std::vector<RoundParticipant> participants;
  for (const auto& s : sites) {
    participants.push_back(ids.Participant(s.id, s.weight));
  }

  auto started = Timed(times.round_s, [&] {
    return SecureRound::Start(std::move(settings), participants, &net);
  });
  if (!started) Fail("start: " + started.error().message);
  SecureRound& round = **started;

  auto deliver = [&](Site& site, const protocol::Message& reply) {
    site.bytes_sent += FrameBytes(reply);
    const bool input = std::holds_alternative<protocol::MaskedInput>(reply);
    const bool unmask = std::holds_alternative<protocol::UnmaskResponse>(reply);
    double t = 0;
    Timed(t, [&] { round.OnMessage(site.id, reply); });
    times.round_s += t;
    if (input) times.sum_inputs_s += t;
    if (unmask && round.stage() == RoundStage::kCompleted) times.unmask_s = t;
  };

  bool moved = true;
  while (moved) {
    moved = false;
    for (auto& site : sites) {
      auto& queue = net.inbox[site.id];
      while (!queue.empty()) {
        protocol::Message m = std::move(queue.front());
        queue.pop_front();
        moved = true;
        site.bytes_received += FrameBytes(m);
        if (const auto* a = std::get_if<protocol::RoundAnnounce>(&m)) {
          auto client = Timed(times.round_s, [&] {
            return cls::site::SecAggClient::Start(*a, ids.Setup(site.id));
          });
          if (!client) Fail(site.id + " start: " + client.error().message);
          site.client = std::move(*client);
          // Weighting and quantization of the (already trained) delta.
          double q = 0;
          std::vector<float> weighted =
              site.delta;  // the site weights in place
          site.quantized.resize(weighted.size());
          Timed(q, [&] {
            for (float& v : weighted) v *= static_cast<float>(a->weight);
            cls::core::QuantizationSpec spec{a->clip, a->value_bits,
                                             a->ring_bits};
            std::mt19937_64 rng(std::hash<std::string>{}(site.id) ^ round_id);
            cls::core::Quantize(weighted, spec, rng, site.quantized);
          });
          site.mask_s += q;
          times.round_s += q;
          deliver(site, site.client->advertise_keys());
        } else if (const auto* d = std::get_if<protocol::KeyDirectory>(&m)) {
          auto out = Timed(times.round_s,
                           [&] { return site.client->OnKeyDirectory(*d); });
          if (!out) Fail(site.id + " key directory: " + out.error().message);
          deliver(site, *out);
        } else if (const auto* d = std::get_if<protocol::ShareDelivery>(&m)) {
          double t = 0;
          auto out = Timed(t, [&] {
            return site.client->OnShareDelivery(*d, site.quantized,
                                                {0, 0, 0, 1});
          });
          site.mask_s += t;
          times.round_s += t;
          if (!out) Fail(site.id + " share delivery: " + out.error().message);
          deliver(site, *out);
        } else if (const auto* v = std::get_if<protocol::SurvivorSet>(&m)) {
          auto out = Timed(times.round_s,
                           [&] { return site.client->OnSurvivorSet(*v); });
          if (!out) Fail(site.id + " survivor set: " + out.error().message);
          deliver(site, *out);
        } else if (const auto* r = std::get_if<protocol::UnmaskRequest>(&m)) {
          auto out = Timed(times.round_s,
                           [&] { return site.client->OnUnmaskRequest(*r); });
          if (!out) Fail(site.id + " unmask request: " + out.error().message);
          deliver(site, *out);
        }
      }
    }
  }
  if (round.stage() != RoundStage::kCompleted) {
    Fail("round did not complete: " + round.abort_reason());
  }
  if (round.outcome().contributors.size() != sites.size())
    Fail("not every site contributed");
  // Check the aggregate against the plaintext weighted mean (a wrong mask
  // would make the numbers meaningless).
  const auto& mean = round.outcome().mean_delta;
  const double step = 2.0 / ((1 << opt.value_bits) - 1);
  for (size_t i = 0; i < mean.size();
       i += std::max<size_t>(1, mean.size() / 1000)) {
    double expected = 0;
    for (const auto& s : sites) expected += s.weight * s.delta[i];
    if (std::abs(expected - mean[i]) > sites.size() * step + 1e-6) {
      Fail("aggregate wrong at element " + std::to_string(i));
    }
  }
  std::vector<double> sent, received;
  for (const auto& s : sites) {
    times.mask_s.push_back(s.mask_s);
    sent.push_back(static_cast<double>(s.bytes_sent));
    received.push_back(static_cast<double>(s.bytes_received));
    times.bytes_per_site_max = std::max(times.bytes_per_site_max, s.bytes_sent);
    times.bytes_to_site_max =
        std::max(times.bytes_to_site_max, s.bytes_received);
  }
  times.bytes_per_site = static_cast<uint64_t>(Median(sent));
  times.bytes_to_site = static_cast<uint64_t>(Median(received));
  return times;
}

void Print(const std::string& name, json value, const std::string& unit,
           json params, const char* peer = nullptr, double peer_value = 0) {
  json j = {{"name", name},
            {"value", std::move(value)},
            {"unit", unit},
            {"params", std::move(params)}};
  if (peer) {
    j["peer"] = peer;
    j["peer_value"] = peer_value;
  }
  std::printf("%s\n", j.dump().c_str());
  std::fflush(stdout);
}

double Round6(double v) { return std::round(v * 1e6) / 1e6; }

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Fail("missing value for " + a);
      return argv[++i];
    };
    try {
      if (a == "--sites")
        opt.sites = std::stoi(next());
      else if (a == "--params")
        opt.params = std::stoul(next());
      else if (a == "--rounds")
        opt.rounds = std::stoi(next());
      else if (a == "--complete-graph-up-to")
        opt.complete_graph_up_to = std::stoul(next());
      else if (a == "--value-bits")
        opt.value_bits = std::stoi(next());
      else if (a == "-h" || a == "--help") {
        std::printf(
            "usage: secagg_bench [--sites N] [--params P] [--rounds R] "
            "[--complete-graph-up-to K] [--value-bits B]\n");
        return 0;
      } else {
        Fail("unknown argument " + a);
      }
    } catch (const std::exception&) {
      Fail("bad value for " + a);
    }
  }
  if (opt.sites < 2 || opt.params < 1 || opt.rounds < 1)
    Fail("need sites >= 2, params >= 1, rounds >= 1");

  // Each site's "trained" delta: random, inside the clip range, L2 norm
  // irrelevant here (quantization clamps per coordinate).
  std::vector<Site> sites(static_cast<size_t>(opt.sites));
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  double total = 0;
  for (int i = 0; i < opt.sites; ++i) {
    Site& s = sites[static_cast<size_t>(i)];
    s.id = "SITE_" + std::to_string(i);
    s.weight = 100.0 + i;
    total += s.weight;
    s.delta.resize(opt.params);
    for (float& v : s.delta) v = u(rng);
  }
  for (auto& s : sites) s.weight /= total;

  std::vector<double> round_s, sum_s, unmask_s, mask_median, all_mask;
  RoundTimes last;
  // Certificates and signing keys, issued once (the sites' enrolment).
  cls::coordinator::TestSiteIdentities ids;
  for (const auto& s : sites) ids.Setup(s.id);
  for (int r = 0; r < opt.rounds; ++r) {
    last = RunRound(sites, opt, static_cast<uint64_t>(r + 1), ids);
    round_s.push_back(last.round_s);
    sum_s.push_back(last.sum_inputs_s);
    unmask_s.push_back(last.unmask_s);
    mask_median.push_back(Median(last.mask_s));
    all_mask.insert(all_mask.end(), last.mask_s.begin(), last.mask_s.end());
  }

  const int ring_bits = *cls::core::RingBitsFor(opt.value_bits, opt.sites);
  const bool complete =
      static_cast<size_t>(opt.sites) <= opt.complete_graph_up_to;
  auto base = [&] {
    return json{{"sites", opt.sites},
                {"parameters", opt.params},
                {"value_bits", opt.value_bits},
                {"ring_bits", ring_bits},
                {"graph", complete ? "complete" : "sparse (SecAgg+)"},
                {"rounds", opt.rounds}};
  };
  auto per_round = [](const std::vector<double>& v) {
    json a = json::array();
    for (double x : v) a.push_back(Round6(x));
    return a;
  };

  {
    json p = base();
    p["min"] = Round6(*std::min_element(all_mask.begin(), all_mask.end()));
    p["max"] = Round6(*std::max_element(all_mask.begin(), all_mask.end()));
    p["per_round_median"] = per_round(mask_median);
    p["includes"] =
        "weighting+quantization of the delta, OnShareDelivery (self mask + "
        "pairwise masks)";
    Print("secagg.mask_s", Round6(Median(mask_median)), "s", p);
  }
  {
    json p = base();
    p["per_round"] = per_round(unmask_s);
    p["target"] = 0.3;
    p["includes"] =
        "final UnmaskResponse OnMessage: reconstruct secrets, remove masks, "
        "dequantize";
    Print("secagg.unmask_s", Round6(Median(unmask_s)), "s", p);
  }
  {
    json p = base();
    p["per_round"] = per_round(sum_s);
    p["includes"] =
        "all MaskedInput OnMessage calls (check + add into the running sum)";
    Print("secagg.sum_inputs_s", Round6(Median(sum_s)), "s", p);
  }
  {
    json p = base();
    p["max"] = last.bytes_per_site_max;
    p["messages"] = "advertise_keys, share_keys, masked_input, unmask_response";
    Print("secagg.wire_bytes_per_site", last.bytes_per_site, "bytes", p);
  }
  {
    json p = base();
    p["max"] = last.bytes_to_site_max;
    p["messages"] =
        "round_announce, key_directory, share_delivery, unmask_request";
    Print("secagg.wire_bytes_to_site", last.bytes_to_site, "bytes", p);
  }
  {
    json p = base();
    p["per_round"] = per_round(round_s);
    p["includes"] =
        "all protocol work of one round in one process, no network, no "
        "training";
    Print("secagg.inprocess_round_s", Round6(Median(round_s)), "s", p);
  }
  {
    // The plain (insecure) float sum of the sites' vectors.
    std::vector<double> reps;
    std::vector<float> sum(opt.params);
    double checksum = 0;
    for (int rep = 0; rep < 5; ++rep) {
      double t = 0;
      Timed(t, [&] {
        std::fill(sum.begin(), sum.end(), 0.0f);
        for (const auto& s : sites) {
          const float* d = s.delta.data();
          float* out = sum.data();
          for (size_t i = 0; i < opt.params; ++i) out[i] += d[i];
        }
      });
      checksum += sum[rep % opt.params];
      reps.push_back(t);
    }
    json p = {{"sites", opt.sites},
              {"parameters", opt.params},
              {"repetitions", 5},
              {"checksum", checksum}};
    Print("secagg.plain_sum_10x1M_s", Round6(Median(reps)), "s", p,
          "original guide target", 0.5);
  }
  {
    // Bit packing of one masked vector at the ring's width (the MaskedInput
    // wire format), each way; median of 21 repetitions.
    std::vector<uint32_t> values(opt.params);
    const uint32_t mask =
        ring_bits >= 32 ? ~0u : (uint32_t{1} << ring_bits) - 1;
    for (size_t i = 0; i < values.size(); ++i) {
      values[i] = static_cast<uint32_t>(i * 2654435761u) & mask;
    }
    std::vector<uint8_t> packed(
        protocol::PackedBytes(values.size(), ring_bits));
    std::vector<uint32_t> back(values.size());
    std::vector<double> pack_reps, unpack_reps;
    for (int rep = 0; rep < 21; ++rep) {
      double t = 0;
      Timed(t, [&] { protocol::PackBits(values, ring_bits, packed); });
      pack_reps.push_back(t);
      t = 0;
      Timed(t, [&] {
        if (!protocol::UnpackBits(packed, ring_bits, back)) Fail("unpack");
      });
      unpack_reps.push_back(t);
    }
    if (back != values) Fail("bit packing did not round-trip");
    json p = base();
    p["bytes"] = packed.size();
    p["repetitions"] = 21;
    p["target"] = 0.01;
    Print("secagg.pack_masked_s", Round6(Median(pack_reps)), "s", p);
    Print("secagg.unpack_masked_s", Round6(Median(unpack_reps)), "s", p);
  }
  return 0;
}
