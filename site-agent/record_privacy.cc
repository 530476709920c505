#include "site-agent/record_privacy.h"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/bytes.h"
#include "core/dp_sgd.h"
#include "crypto/sha256.h"
#include "site-agent/state_store.h"

namespace cls::site {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

std::string Num(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", x);
  return buf;
}

// A corrupt ledger must stop the agent, never reset the budget.
Result<Json> ReadLedger(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Unavailable("cannot open " + path.string());
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string text = std::move(buffer).str();
  // "<json>\n<sha256 hex of json>\n"
  const size_t newline = text.find('\n');
  if (newline == std::string::npos) {
    return DataLoss(path.string() + ": truncated");
  }
  const std::string body = text.substr(0, newline);
  std::string digest = text.substr(newline + 1);
  while (!digest.empty() && digest.back() == '\n') digest.pop_back();
  if (crypto::Sha256Hex(AsBytes(body)) != digest) {
    return DataLoss(path.string() + ": checksum mismatch");
  }
  Json j = Json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return DataLoss(path.string() + ": not a record privacy ledger");
  }
  return j;
}

}  // namespace

RecordPrivacyLedger::RecordPrivacyLedger(fs::path path,
                                         const PrivacyConfig& config,
                                         double delta)
    : path_(std::move(path)), config_(config), delta_(delta) {
  status_.dp_sgd = config.dp_sgd;
  status_.delta = delta;
  status_.target_epsilon = config.target_epsilon;
  status_.clip_norm = config.clip_norm;
  status_.noise_multiplier = config.noise_multiplier;
}

Result<std::unique_ptr<RecordPrivacyLedger>> RecordPrivacyLedger::Open(
    const fs::path& data_dir, const PrivacyConfig& config,
    uint64_t train_rows) {
  const double n = static_cast<double>(std::max<uint64_t>(train_rows, 1));
  const double delta =
      config.delta ? *config.delta : std::min(1e-5, std::pow(n, -1.1));
  std::unique_ptr<RecordPrivacyLedger> ledger(
      new RecordPrivacyLedger(data_dir / kRecordPrivacyFile, config, delta));
  std::error_code ec;
  if (!fs::exists(ledger->path_, ec)) return ledger;
  CLS_ASSIGN_OR_RETURN(const Json j, ReadLedger(ledger->path_));
  const auto& orders = ledger->accountant_.orders();
  try {
    const auto rdp = j.at("rdp").get<std::vector<double>>();
    if (rdp.size() != orders.size() ||
        j.at("orders").get<std::vector<double>>() != orders) {
      return DataLoss(ledger->path_.string() +
                      ": RDP orders differ from this agent's");
    }
    CLS_RETURN_IF_ERROR(ledger->accountant_.Restore(rdp));
    ledger->status_.steps = j.at("steps").get<uint64_t>();
    ledger->status_.trainings = j.at("trainings").get<uint64_t>();
    ledger->status_.refusals = j.at("refusals").get<uint64_t>();
  } catch (const Json::exception&) {
    return DataLoss(ledger->path_.string() + ": missing or mistyped field");
  }
  CLS_ASSIGN_OR_RETURN(ledger->status_.epsilon,
                       ledger->EpsilonOf(ledger->accountant_.rdp()));
  return ledger;
}

core::DpSgdConfig RecordPrivacyLedger::DpSgd() const {
  core::DpSgdConfig dp;
  dp.enabled = config_.dp_sgd;
  dp.clip_norm = config_.clip_norm;
  dp.noise_multiplier = config_.noise_multiplier;
  dp.poisson_sampling = true;  // what the sampled-Gaussian bound assumes
  return dp;
}

Result<double> RecordPrivacyLedger::EpsilonOf(
    std::span<const double> rdp) const {
  if (std::all_of(rdp.begin(), rdp.end(), [](double v) { return v == 0; })) {
    return 0.0;
  }
  CLS_ASSIGN_OR_RETURN(const auto e, core::privacy::EpsilonFromRdp(
                                         accountant_.orders(), rdp, delta_));
  return e.epsilon;
}

Status RecordPrivacyLedger::Save(std::span<const double> rdp, uint64_t steps,
                                 uint64_t trainings, uint64_t refusals) const {
  const Json j = {{"version", 1},
                  {"orders", accountant_.orders()},
                  {"rdp", std::vector<double>(rdp.begin(), rdp.end())},
                  {"steps", steps},
                  {"trainings", trainings},
                  {"refusals", refusals}};
  const std::string body = j.dump();
  const std::string text =
      body + "\n" + crypto::Sha256Hex(AsBytes(body)) + "\n";
  return WriteFileAtomically(path_, AsBytes(text));
}

Status RecordPrivacyLedger::Charge(int64_t rows, const core::TrainConfig& cfg,
                                   std::string_view what) {
  if (!config_.dp_sgd) return {};
  if (!cfg.dp.enabled || cfg.dp.noise_multiplier != config_.noise_multiplier ||
      cfg.dp.clip_norm != config_.clip_norm || !cfg.dp.poisson_sampling) {
    return FailedPrecondition(std::string(what) +
                              ": training without the site's DP-SGD options");
  }
  const core::DpSgdSchedule schedule = core::DpSgdScheduleFor(rows, cfg);
  RecordPrivacyStatus after;
  Status result;
  {
    std::lock_guard lock(mu_);
    CLS_ASSIGN_OR_RETURN(const auto curve,
                         accountant_.GaussianCurve(schedule.sampling_rate,
                                                   config_.noise_multiplier));
    std::vector<double> rdp = accountant_.rdp();
    for (size_t k = 0; k < rdp.size(); ++k) {
      rdp[k] += static_cast<double>(schedule.steps) * curve[k];
    }
    CLS_ASSIGN_OR_RETURN(const double epsilon, EpsilonOf(rdp));
    if (epsilon > config_.target_epsilon) {
      ++status_.refusals;
      // Best effort: the refusal count is informational.
      (void)Save(accountant_.rdp(), status_.steps, status_.trainings,
                 status_.refusals);
      result = ResourceExhausted(
          std::string(what) +
          ": refused, record-level privacy budget: this "
          "training (" +
          std::to_string(schedule.steps) +
          " DP-SGD steps at "
          "q " +
          Num(schedule.sampling_rate) + ", sigma " +
          Num(config_.noise_multiplier) + ") would take epsilon from " +
          Num(status_.epsilon) + " to " + Num(epsilon) + " > target_epsilon " +
          Num(config_.target_epsilon) + " (delta " + Num(delta_) + ")");
    } else {
      // On disk first: an update must never leave the site uncharged.
      CLS_RETURN_IF_ERROR(Save(rdp, status_.steps + schedule.steps,
                               status_.trainings + 1, status_.refusals));
      CLS_RETURN_IF_ERROR(accountant_.Restore(rdp));
      status_.steps += static_cast<uint64_t>(schedule.steps);
      ++status_.trainings;
      status_.epsilon = epsilon;
      spdlog::info(
          "{}: DP-SGD, {} steps at q {:.4g} charged; record-level epsilon "
          "{:.4g} of target {:.4g} (delta {:.3g})",
          what, schedule.steps, schedule.sampling_rate, epsilon,
          config_.target_epsilon, delta_);
    }
    after = status_;
  }
  if (on_change_) on_change_(after);
  return result;
}

RecordPrivacyStatus RecordPrivacyLedger::Current() const {
  std::lock_guard lock(mu_);
  return status_;
}

void RecordPrivacyLedger::SetOnChange(
    std::function<void(const RecordPrivacyStatus&)> f) {
  on_change_ = std::move(f);
  if (on_change_) on_change_(Current());
}

}  // namespace cls::site
