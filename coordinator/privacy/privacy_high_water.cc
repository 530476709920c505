#include "coordinator/privacy/privacy_high_water.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/durable_file.h"
#include "coordinator/storage/store.h"

namespace cls::coordinator {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// As privacy_ledger.cc stores curves: the raw float64 values.
Bytes CurveBytes(const std::vector<double>& v) {
  Bytes b(v.size() * sizeof(double));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

}  // namespace

Status WritePrivacyHighWater(const fs::path& file, const PrivacySpendMark& m) {
  // nlohmann writes doubles with 17 significant digits: the curve reads
  // back exactly.
  const json j = {{"period_id", m.period_id},
                  {"epsilon_budget", m.epsilon_budget},
                  {"delta", m.delta},
                  {"period_started_at", m.period_started_at},
                  {"spent_epsilon", m.spent_epsilon},
                  {"last_round_id", m.last_round_id},
                  {"orders", m.orders},
                  {"rdp", m.rdp},
                  {"updated_at", m.updated_at}};
  const std::string text = j.dump(1) + "\n";
  return WriteFileDurably(file, AsBytes(text), {.create_folders = true});
}

Result<std::optional<PrivacySpendMark>> ReadPrivacyHighWater(
    const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::optional<PrivacySpendMark>();
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  const json j = json::parse(text.str(), nullptr, false);
  const auto bad = [&](const std::string& why) {
    return DataLoss("privacy high-water mark " + file.string() + ": " + why +
                    "; the ledger cannot be checked against what was spent "
                    "(restore the file from the backup folder's copy, or move "
                    "it aside only if you know the database is current)");
  };
  if (!j.is_object()) return bad("not a JSON object");
  PrivacySpendMark m;
  try {
    m.period_id = j.at("period_id").get<int64_t>();
    m.epsilon_budget = j.at("epsilon_budget").get<double>();
    m.delta = j.at("delta").get<double>();
    m.period_started_at = j.at("period_started_at").get<std::string>();
    m.spent_epsilon = j.at("spent_epsilon").get<double>();
    m.last_round_id = j.at("last_round_id").get<int64_t>();
    m.orders = j.at("orders").get<std::vector<double>>();
    m.rdp = j.at("rdp").get<std::vector<double>>();
    m.updated_at = j.at("updated_at").get<std::string>();
  } catch (const json::exception& e) {
    return bad(std::string("missing or mistyped field (") + e.what() + ")");
  }
  if (m.period_id < 1 || m.orders.empty() || m.orders.size() != m.rdp.size()) {
    return bad("period id or RDP curve malformed");
  }
  return std::optional<PrivacySpendMark>(std::move(m));
}

Result<bool> PrivacyLedger::RaiseToHighWater(const PrivacySpendMark& mark) {
  if (mark.period_id < period_.period_id) return false;  // older evidence
  if (mark.orders != accountant_.orders()) {
    return DataLoss(
        "privacy high-water mark: its RDP orders differ from the ledger's; "
        "cannot compare the spends");
  }
  const bool new_period = mark.period_id > period_.period_id;
  const std::vector<double>& ours = accountant_.rdp();
  std::vector<double> lift(ours.size(), 0.0);
  bool below = false;
  for (size_t k = 0; k < lift.size(); ++k) {
    const double have = new_period ? 0.0 : ours[k];
    if (mark.rdp[k] > have) {
      lift[k] = mark.rdp[k] - have;
      below = true;
    }
  }
  if (!below && !new_period) return false;
  auto before = accountant_.Epsilon(period_.delta);
  if (!before) return std::unexpected(before.error());
  const double spent_before = new_period ? 0.0 : before->epsilon;
  const int64_t previous_period = period_.period_id;

  auto committed = db_.Transaction([&]() -> Status {
    if (new_period) {
      // The backup predates this period's start: recreate it as the mark
      // describes it (the rounds of the lost period are in the mark's curve).
      if (auto s = db_.Run(
              "INSERT INTO privacy_periods (period_id, epsilon_budget, delta, "
              "started_at, started_by, reason, orders, rdp) VALUES "
              "(?,?,?,?,?,?,?,?)",
              {mark.period_id, mark.epsilon_budget, mark.delta,
               mark.period_started_at, std::string("system"),
               std::string("recreated after a restore from backup (from " +
                           std::string(kPrivacyHighWaterFile) + ")"),
               json(mark.orders).dump(),
               CurveBytes(std::vector<double>(mark.orders.size(), 0.0))});
          !s) {
        return s;
      }
      if (auto s = Load({mark.epsilon_budget, mark.delta}); !s) return s;
    }
    core::privacy::RdpAccountant after = accountant_;
    if (auto s = after.ComposeRdp(lift); !s) return s;
    auto eps_after = after.Epsilon(period_.delta);
    if (!eps_after) return std::unexpected(eps_after.error());
    auto eps_lift =
        core::privacy::EpsilonFromRdp(after.orders(), lift, period_.delta);
    const double lift_epsilon = eps_lift ? eps_lift->epsilon : 0.0;
    // Adjustments are numbered -1, -2, ... within their period.
    auto count = db_.Prepare(
        "SELECT COUNT(*) FROM privacy_charges WHERE period_id = ? AND "
        "round_id < 0");
    if (!count) return std::unexpected(count.error());
    if (auto s = count->Bind({period_.period_id}); !s) return s;
    if (auto row = count->Step(); !row) return std::unexpected(row.error());
    const int64_t adjustment_id = -(count->Int(0) + 1);
    if (auto s = db_.Run(
            "INSERT INTO privacy_charges (period_id, round_id, mode, "
            "mechanism, noise_multiplier, effective_noise_multiplier, "
            "sampling_rate, sites_planned, sites_contributed, round_epsilon, "
            "epsilon_after, order_after, charged_at, rdp) VALUES "
            "(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            {period_.period_id, adjustment_id, std::string("adjustment"),
             std::string("high_water_mark"), 0.0, 0.0, 1.0, int64_t{0},
             int64_t{0}, lift_epsilon, eps_after->epsilon, eps_after->order,
             UtcNow(), CurveBytes(lift)});
        !s) {
      return s;
    }
    if (auto s =
            db_.Run("UPDATE privacy_periods SET rdp = ?, spent_epsilon = ?, "
                    "optimal_order = ? WHERE period_id = ?",
                    {CurveBytes(after.rdp()), eps_after->epsilon,
                     eps_after->order, period_.period_id});
        !s) {
      return s;
    }
    if (auto s = Audit("system", "privacy_ledger_raised_after_restore",
                       {{"period_id", period_.period_id},
                        {"previous_period_id", previous_period},
                        {"period_recreated", new_period},
                        {"spent_epsilon_restored", spent_before},
                        {"spent_epsilon_high_water", mark.spent_epsilon},
                        {"spent_epsilon_after", eps_after->epsilon},
                        {"high_water_last_round_id", mark.last_round_id},
                        {"high_water_updated_at", mark.updated_at},
                        {"adjustment_round_id", adjustment_id}});
        !s) {
      return s;
    }
    accountant_ = std::move(after);
    return {};
  });
  if (!committed) {
    // The transaction rolled back: reread what is stored.
    (void)Load({period_.epsilon_budget, period_.delta});
    return std::unexpected(committed.error());
  }
  last_round_id_ = std::max(last_round_id_, mark.last_round_id);
  return true;
}

}  // namespace cls::coordinator
