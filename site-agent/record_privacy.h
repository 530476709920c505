#ifndef CLS_SITE_AGENT_RECORD_PRIVACY_H_
#define CLS_SITE_AGENT_RECORD_PRIVACY_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/error.h"
#include "core/logistic_regression.h"
#include "core/privacy/rdp_accountant.h"
#include "site-agent/config.h"

namespace cls::site {

// The site's own record-level (patient-level) privacy ledger for DP-SGD
// ([privacy] dp_sgd = true): an RDP accountant over every local training of
// this site, federated rounds and online updates alike, composed as
// Poisson-subsampled Gaussian steps (core/dp_sgd.h DpSgdSchedule). It is the
// site's, not the coordinator's: the hospital's guarantee holds whatever the
// coordinator asks.
//
// Each training is charged BEFORE it starts, and the new total is on disk
// (record_privacy.json, written atomically with its SHA-256) before Charge
// returns, so no update can leave the site uncharged, even across a crash
// (a crash after the charge only over-counts). A training that would take
// epsilon at delta past target_epsilon is refused and charges nothing.
// Thread-safe: rounds train on the model worker, online updates on the io
// thread.
inline constexpr std::string_view kRecordPrivacyFile = "record_privacy.json";

struct RecordPrivacyStatus {
  bool dp_sgd = false;
  double epsilon = 0;  // spent so far, at delta
  double delta = 0;
  double target_epsilon = 0;
  double clip_norm = 0;
  double noise_multiplier = 0;
  uint64_t steps = 0;      // DP-SGD steps composed
  uint64_t trainings = 0;  // rounds and online updates charged
  uint64_t refusals = 0;   // trainings refused for the budget
};

class RecordPrivacyLedger {
 public:
  // Opens data_dir/record_privacy.json (a new ledger when absent). DataLoss
  // on a corrupt or edited file: never silently restart the budget.
  // `train_rows` gives the default delta, min(1e-5, 1 / n^1.1).
  static Result<std::unique_ptr<RecordPrivacyLedger>> Open(
      const std::filesystem::path& data_dir, const PrivacyConfig& config,
      uint64_t train_rows);

  // The DP-SGD options every local training must use.
  core::DpSgdConfig DpSgd() const;

  // Charges one training of `rows` rows with cfg's epochs and batch size
  // (cfg.dp is what DpSgd() returned). ResourceExhausted, charging nothing,
  // when it would go past the target: the message says what was spent, what
  // this training would cost and the budget. `what` names the training in
  // the message ("round 7", "online update").
  Status Charge(int64_t rows, const core::TrainConfig& cfg,
                std::string_view what);

  RecordPrivacyStatus Current() const;
  // Called after every change (charge or refusal), under no lock.
  void SetOnChange(std::function<void(const RecordPrivacyStatus&)> f);

 private:
  RecordPrivacyLedger(std::filesystem::path path, const PrivacyConfig& config,
                      double delta);
  Result<double> EpsilonOf(std::span<const double> rdp) const;
  Status Save(std::span<const double> rdp, uint64_t steps, uint64_t trainings,
              uint64_t refusals) const;

  std::filesystem::path path_;
  PrivacyConfig config_;
  double delta_;
  mutable std::mutex mu_;
  core::privacy::RdpAccountant accountant_;
  RecordPrivacyStatus status_;
  std::function<void(const RecordPrivacyStatus&)> on_change_;
};

}  // namespace cls::site

#endif  // CLS_SITE_AGENT_RECORD_PRIVACY_H_
