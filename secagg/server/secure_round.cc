#include "secagg/server/secure_round.h"

#include <cmath>
#include <random>
#include <utility>

#include "secagg/common/secagg.h"
#include "secagg/server/round_r0_advertise_keys_state.h"

namespace cls::coordinator {

SecureRound::SecureRound(RoundSender* sender) { context_.sender = sender; }

Result<std::unique_ptr<SecureRound>> SecureRound::Start(
    RoundSettings settings, const std::vector<RoundParticipant>& participants,
    RoundSender* sender, WorkerPool* workers,
    std::function<void()> on_progress) {
  if (workers != nullptr && (sender == nullptr || !sender->executor())) {
    return InvalidArgument(
        "round: a worker pool needs the sender's executor to report back on");
  }
  const size_t fewest = settings.allow_single_site ? 1 : 2;
  if (participants.size() < fewest) {
    return InvalidArgument(
        "round: " + std::to_string(participants.size()) + " participants; " +
        (fewest == 1 ? std::string("a round needs at least 1")
                     : std::string("secure aggregation needs at least 2")));
  }
  if (auto ok = core::ValidateQuantizationSpec(settings.quantization); !ok) {
    return std::unexpected(ok.error());
  }
  auto ring = core::RingBitsFor(settings.quantization.value_bits,
                                static_cast<int>(participants.size()));
  if (!ring) return std::unexpected(ring.error());
  if (settings.quantization.ring_bits < *ring) {
    return InvalidArgument("round: ring of " +
                           std::to_string(settings.quantization.ring_bits) +
                           " bits can wrap with " +
                           std::to_string(participants.size()) + " sites");
  }
  if (participants.size() < settings.min_sites) {
    return InvalidArgument("round: " + std::to_string(participants.size()) +
                           " participants, at least " +
                           std::to_string(settings.min_sites) + " needed");
  }
  double weight_sum = 0;
  for (const auto& p : participants) {
    if (!p.certificate) {
      return InvalidArgument("round: site " + p.site_id +
                             " has no certificate");
    }
    if (!(p.weight > 0)) {
      return InvalidArgument("round: site " + p.site_id + " has weight " +
                             std::to_string(p.weight));
    }
    weight_sum += p.weight;
  }
  if (std::abs(weight_sum - 1.0) > 1e-6) {
    return InvalidArgument("round: weights sum to " +
                           std::to_string(weight_sum));
  }

  std::unique_ptr<SecureRound> round(new SecureRound(sender));
  RoundContext& ctx = round->context_;
  ctx.settings = std::move(settings);
  ctx.workers = workers;
  round->on_progress_ = std::move(on_progress);
  SecureRound* self = round.get();
  ctx.advance = [self](std::unique_ptr<RoundState> next) {
    // Aborted while the work ran: the state that asked for it (no longer
    // busy) aborts instead, unless the result aborted the round anyway.
    if (!self->pending_abort_.empty() &&
        (!next || next->stage() != RoundStage::kAborted)) {
      next = self->state_->OnAbort(std::exchange(self->pending_abort_, {}));
    }
    self->Apply(std::move(next));
    // The driver may destroy the round from here: copy, then touch nothing.
    if (auto progress = self->on_progress_) progress();
  };
  std::mt19937_64 rng(ctx.settings.graph_seed);
  auto graph = protocol::BuildNeighbourGraph(
      participants.size(), ctx.settings.complete_graph_up_to, rng);
  const uint32_t threshold =
      protocol::PlanNeighbourhood(participants.size(),
                                  ctx.settings.complete_graph_up_to)
          .threshold;
  for (size_t i = 0; i < participants.size(); ++i) {
    ParticipantState site;
    site.site_id = participants[i].site_id;
    site.index = static_cast<uint32_t>(i + 1);
    site.weight = participants[i].weight;
    site.certificate = participants[i].certificate;
    for (uint32_t n : graph[i]) site.neighbours.push_back(n + 1);
    site.threshold = threshold;
    if (!ctx.index_of.emplace(site.site_id, site.index).second) {
      return InvalidArgument("round: site " + site.site_id + " listed twice");
    }
    ctx.participants.push_back(std::move(site));
  }

  const RoundSettings& s = ctx.settings;
  for (const auto& site : ctx.participants) {
    protocol::RoundAnnounce announce;
    announce.round_id = s.round_id;
    announce.model_version = s.model_version;
    announce.model_hash = s.model_hash;
    announce.model_kind = s.model_kind;
    announce.model_spec = s.model_spec;
    announce.parameters = s.global_parameters;
    announce.training = s.training;
    announce.clip = s.quantization.clip;
    announce.value_bits = static_cast<uint8_t>(s.quantization.value_bits);
    announce.ring_bits = static_cast<uint8_t>(s.quantization.ring_bits);
    announce.weight = site.weight;
    announce.self_index = site.index;
    for (uint32_t n : site.neighbours) {
      announce.neighbours.push_back({ctx.at(n).site_id, n});
    }
    announce.threshold = site.threshold;
    announce.stage_timeout_ms = static_cast<uint32_t>(s.stage_timeout.count());
    announce.feature_statistics = s.feature_statistics;
    announce.noise_variance = s.noise_variance;
    ctx.Send(site.index, std::move(announce));
  }
  round->state_ = std::make_unique<RoundAdvertiseKeysState>(ctx);
  return round;
}

void SecureRound::OnMessage(const std::string& site_id,
                            const protocol::Message& message) {
  auto it = context_.index_of.find(site_id);
  if (it == context_.index_of.end()) return;
  Apply(state_->OnMessage(it->second, message));
}

void SecureRound::OnSiteLost(const std::string& site_id) {
  auto it = context_.index_of.find(site_id);
  if (it == context_.index_of.end()) return;
  Apply(state_->OnSiteLost(it->second));
}

void SecureRound::OnDeadline() { Apply(state_->OnDeadline()); }

void SecureRound::Abort(std::string reason) {
  if (finished()) return;
  if (computing()) {
    pending_abort_ = std::move(reason);
    return;
  }
  Apply(state_->OnAbort(std::move(reason)));
}

void SecureRound::Apply(std::unique_ptr<RoundState> next) {
  if (!next) return;
  state_ = std::move(next);
  ++transitions_;
}

}  // namespace cls::coordinator
