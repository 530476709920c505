#include "coordinator/privacy/privacy_ledger.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "coordinator/storage/store.h"
#include "core/privacy/noise.h"

namespace cls::coordinator {
namespace {

using core::privacy::RdpAccountant;

constexpr const char* kChargeColumns =
    "period_id, round_id, mode, mechanism, noise_multiplier, "
    "effective_noise_multiplier, sampling_rate, sites_planned, "
    "sites_contributed, round_epsilon, epsilon_after, order_after, "
    "charged_at";

std::string Num(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", x);
  return buf;
}

// Curves are stored as the raw float64 values (little-endian on every
// platform the coordinator runs on): exact, and 1.3 KiB per round.
Bytes CurveBytes(const std::vector<double>& v) {
  Bytes b(v.size() * sizeof(double));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}
Result<std::vector<double>> CurveFromBytes(const Bytes& b, size_t expected) {
  if (b.size() != expected * sizeof(double)) {
    return DataLoss("privacy ledger: RDP curve of " + std::to_string(b.size()) +
                    " bytes, expected " +
                    std::to_string(expected * sizeof(double)));
  }
  std::vector<double> v(expected);
  std::memcpy(v.data(), b.data(), b.size());
  return v;
}

PrivacyLedgerEntry ReadEntry(const SqlStatement& s) {
  PrivacyLedgerEntry e;
  e.period_id = s.Int(0);
  e.round_id = s.Int(1);
  e.mode = s.Text(2);
  e.mechanism = s.Text(3);
  e.noise_multiplier = s.Double(4);
  e.effective_noise_multiplier = s.Double(5);
  e.sampling_rate = s.Double(6);
  e.sites_planned = static_cast<int>(s.Int(7));
  e.sites_contributed = static_cast<int>(s.Int(8));
  e.round_epsilon = s.Double(9);
  e.epsilon_after = s.Double(10);
  e.order_after = s.Double(11);
  e.charged_at = s.Text(12);
  return e;
}

Status ValidateBudget(const PrivacyBudget& b) {
  if (!(b.epsilon > 0.0) || !std::isfinite(b.epsilon)) {
    return InvalidArgument("privacy budget epsilon must be positive, got " +
                           Num(b.epsilon));
  }
  if (!(b.delta > 0.0 && b.delta < 1.0)) {
    return InvalidArgument("privacy budget delta must be in (0, 1), got " +
                           Num(b.delta));
  }
  return {};
}

nlohmann::json EntryJson(const PrivacyLedgerEntry& e) {
  return {{"period_id", e.period_id},
          {"round_id", e.round_id},
          {"mode", e.mode},
          {"mechanism", e.mechanism},
          {"noise_multiplier", e.noise_multiplier},
          {"effective_noise_multiplier", e.effective_noise_multiplier},
          {"sampling_rate", e.sampling_rate},
          {"sites_planned", e.sites_planned},
          {"sites_contributed", e.sites_contributed},
          {"round_epsilon", e.round_epsilon},
          {"epsilon_after", e.epsilon_after},
          {"order_after", e.order_after},
          {"charged_at", e.charged_at}};
}

}  // namespace

std::string_view DpModeName(DpMode mode) {
  return mode == DpMode::kCentral ? "central" : "distributed";
}
std::string_view DpMechanismName(DpMechanism mechanism) {
  return mechanism == DpMechanism::kGaussian ? "gaussian" : "skellam";
}

nlohmann::json ToJson(const PrivacyStatusReport& r) {
  nlohmann::json history = nlohmann::json::array();
  for (const auto& e : r.history) history.push_back(EntryJson(e));
  return {{"period",
           {{"period_id", r.period.period_id},
            {"epsilon_budget", r.period.epsilon_budget},
            {"delta", r.period.delta},
            {"started_at", r.period.started_at},
            {"started_by", r.period.started_by},
            {"reason", r.period.reason}}},
          {"spent_epsilon", r.spent_epsilon},
          {"remaining_epsilon", r.remaining_epsilon},
          {"optimal_order", r.optimal_order},
          {"rounds_charged", r.rounds_charged},
          {"history", std::move(history)}};
}

Result<std::unique_ptr<PrivacyLedger>> PrivacyLedger::Open(
    SqliteDb& db, PrivacyBudget default_budget, AuditSink audit) {
  if (auto s = ValidateBudget(default_budget); !s) {
    return std::unexpected(s.error());
  }
  std::unique_ptr<PrivacyLedger> ledger(
      new PrivacyLedger(db, std::move(audit)));
  if (auto s = ledger->Load(default_budget); !s) {
    return std::unexpected(s.error());
  }
  return ledger;
}

Status PrivacyLedger::InsertPeriod(const std::string& actor,
                                   const std::string& reason,
                                   PrivacyBudget budget) {
  const std::vector<double> orders = core::privacy::DefaultRdpOrders();
  return db_.Run(
      "INSERT INTO privacy_periods (epsilon_budget, delta, started_at, "
      "started_by, reason, orders, rdp) VALUES (?,?,?,?,?,?,?)",
      {budget.epsilon, budget.delta, UtcNow(), actor, reason,
       nlohmann::json(orders).dump(),
       CurveBytes(std::vector<double>(orders.size(), 0.0))});
}

Status PrivacyLedger::Load(PrivacyBudget default_budget) {
  constexpr const char* kCurrent =
      "SELECT period_id, epsilon_budget, delta, started_at, started_by, "
      "reason, orders, rdp, rounds_charged FROM privacy_periods "
      "ORDER BY period_id DESC LIMIT 1";
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto stmt = db_.Prepare(kCurrent);
    if (!stmt) return std::unexpected(stmt.error());
    auto row = stmt->Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) {
      if (auto s = InsertPeriod("system", "initial budget from configuration",
                                default_budget);
          !s) {
        return s;
      }
      continue;
    }
    period_ = {stmt->Int(0),  stmt->Double(1), stmt->Double(2),
               stmt->Text(3), stmt->Text(4),   stmt->Text(5)};
    auto orders_json = nlohmann::json::parse(stmt->Text(6), nullptr, false);
    if (!orders_json.is_array() || orders_json.empty()) {
      return DataLoss("privacy ledger: period " +
                      std::to_string(period_.period_id) +
                      " has no readable RDP orders");
    }
    std::vector<double> orders;
    for (const auto& o : orders_json) {
      if (!o.is_number()) return DataLoss("privacy ledger: bad RDP order");
      orders.push_back(o.get<double>());
    }
    auto total = CurveFromBytes(stmt->Blob(7), orders.size());
    if (!total) return std::unexpected(total.error());
    rounds_charged_ = stmt->Int(8);
    accountant_ = RdpAccountant(orders);

    // Recompute the total from the rows: a stored total that disagrees with
    // its charges means the file was edited or corrupted.
    std::vector<double> sum(orders.size(), 0.0);
    // Adjustment rows (round_id < 0, a restore's high-water mark) add to
    // the curve but are not rounds.
    auto charges = db_.Prepare(
        "SELECT rdp, round_id FROM privacy_charges WHERE period_id = ? "
        "ORDER BY charge_id");
    if (!charges) return std::unexpected(charges.error());
    if (auto s = charges->Bind({period_.period_id}); !s) return s;
    int64_t count = 0;
    last_round_id_ = 0;
    while (true) {
      auto more = charges->Step();
      if (!more) return std::unexpected(more.error());
      if (!*more) break;
      auto curve = CurveFromBytes(charges->Blob(0), orders.size());
      if (!curve) return std::unexpected(curve.error());
      for (size_t k = 0; k < sum.size(); ++k) sum[k] += (*curve)[k];
      if (const int64_t round = charges->Int(1); round > 0) {
        ++count;
        last_round_id_ = std::max(last_round_id_, round);
      }
    }
    for (size_t k = 0; k < sum.size(); ++k) {
      const double a = sum[k], b = (*total)[k];
      if (!(std::fabs(a - b) <= 1e-9 * std::max(std::fabs(a), 1e-300)) &&
          !(std::isinf(a) && std::isinf(b))) {
        return DataLoss("privacy ledger: period " +
                        std::to_string(period_.period_id) +
                        " total disagrees with its " + std::to_string(count) +
                        " charged rounds");
      }
    }
    if (count != rounds_charged_) {
      return DataLoss("privacy ledger: period " +
                      std::to_string(period_.period_id) + " records " +
                      std::to_string(rounds_charged_) + " rounds but has " +
                      std::to_string(count) + " charges");
    }
    return accountant_.Restore(*total);
  }
  return Internal("privacy ledger: no period after creating one");
}

Result<PrivacyLedger::RoundCurve> PrivacyLedger::CurveFor(
    const PrivacyCharge& c) {
  if (c.sites_planned < 1) {
    return InvalidArgument("round " + std::to_string(c.round_id) +
                           ": planned sites must be at least 1, got " +
                           std::to_string(c.sites_planned));
  }
  if (c.sites_contributed < 1 || c.sites_contributed > c.sites_planned) {
    return InvalidArgument("round " + std::to_string(c.round_id) +
                           ": contributing sites must be in 1.." +
                           std::to_string(c.sites_planned) + ", got " +
                           std::to_string(c.sites_contributed));
  }
  // Dropped sites' noise shares are missing from the sum in distributed
  // mode: charge what was added, never what was planned.
  const double share =
      c.mode == DpMode::kDistributed
          ? static_cast<double>(c.sites_contributed) / c.sites_planned
          : 1.0;
  RoundCurve out;
  if (c.mechanism == DpMechanism::kSkellam) {
    if (c.mode != DpMode::kDistributed) {
      return InvalidArgument("round " + std::to_string(c.round_id) +
                             ": Skellam noise is for distributed mode");
    }
    if (c.sampling_rate != 1.0) {
      return InvalidArgument("round " + std::to_string(c.round_id) +
                             ": the Skellam charge assumes sampling rate 1");
    }
    auto curve = core::privacy::SkellamRdp(c.skellam_l1, c.skellam_l2,
                                           c.skellam_variance * share,
                                           accountant_.orders());
    if (!curve) return std::unexpected(curve.error());
    out.rdp = std::move(*curve);
    out.effective_noise_multiplier =
        std::sqrt(c.skellam_variance * share) / c.skellam_l2;
    return out;
  }
  if (!(c.noise_multiplier > 0.0) || !std::isfinite(c.noise_multiplier)) {
    return InvalidArgument("round " + std::to_string(c.round_id) +
                           ": noise multiplier must be positive, got " +
                           Num(c.noise_multiplier));
  }
  out.effective_noise_multiplier = c.noise_multiplier * std::sqrt(share);
  auto curve = accountant_.GaussianCurve(c.sampling_rate,
                                         out.effective_noise_multiplier);
  if (!curve) return std::unexpected(curve.error());
  out.rdp = std::move(*curve);
  return out;
}

Status PrivacyLedger::Audit(const std::string& actor, const std::string& event,
                            const nlohmann::json& fields) {
  if (!audit_) return {};
  return audit_(actor, event, fields);
}

Result<double> PrivacyLedger::Check(const PrivacyCharge& planned) {
  auto exists = db_.Prepare(
      "SELECT 1 FROM privacy_charges WHERE period_id = ? AND round_id = ?");
  if (!exists) return std::unexpected(exists.error());
  if (auto s = exists->Bind({period_.period_id, planned.round_id}); !s) {
    return std::unexpected(s.error());
  }
  auto found = exists->Step();
  if (!found) return std::unexpected(found.error());
  if (*found) {
    return MakeError(ErrorCode::kAlreadyExists,
                     "privacy ledger: round " +
                         std::to_string(planned.round_id) +
                         " is already charged in period " +
                         std::to_string(period_.period_id));
  }
  auto curve = CurveFor(planned);
  if (!curve) return std::unexpected(curve.error());
  RdpAccountant after = accountant_;
  if (auto s = after.ComposeRdp(curve->rdp); !s) {
    return std::unexpected(s.error());
  }
  auto eps = after.Epsilon(period_.delta);
  if (!eps) return std::unexpected(eps.error());
  if (eps->epsilon > period_.epsilon_budget) {
    const std::string message = "Privacy budget exhausted: spending round " +
                                std::to_string(planned.round_id) +
                                " would bring epsilon to " + Num(eps->epsilon) +
                                " > budget " + Num(period_.epsilon_budget) +
                                " at delta " + Num(period_.delta);
    if (auto s = Audit("system", "privacy_round_refused",
                       {{"round_id", planned.round_id},
                        {"period_id", period_.period_id},
                        {"epsilon_after", eps->epsilon},
                        {"epsilon_budget", period_.epsilon_budget},
                        {"delta", period_.delta},
                        {"noise_multiplier", planned.noise_multiplier},
                        {"sampling_rate", planned.sampling_rate}});
        !s) {
      return std::unexpected(s.error());
    }
    return ResourceExhausted(message);
  }
  return eps->epsilon;
}

Result<PrivacyLedgerEntry> PrivacyLedger::Charge(const PrivacyCharge& c) {
  auto curve = CurveFor(c);
  if (!curve) return std::unexpected(curve.error());
  RdpAccountant after = accountant_;
  if (auto s = after.ComposeRdp(curve->rdp); !s) {
    return std::unexpected(s.error());
  }
  auto eps_after = after.Epsilon(period_.delta);
  if (!eps_after) return std::unexpected(eps_after.error());
  auto eps_round =
      core::privacy::EpsilonFromRdp(after.orders(), curve->rdp, period_.delta);
  if (!eps_round) return std::unexpected(eps_round.error());

  PrivacyLedgerEntry e;
  e.period_id = period_.period_id;
  e.round_id = c.round_id;
  e.mode = std::string(DpModeName(c.mode));
  e.mechanism = std::string(DpMechanismName(c.mechanism));
  e.noise_multiplier = c.mechanism == DpMechanism::kSkellam
                           ? std::sqrt(c.skellam_variance) / c.skellam_l2
                           : c.noise_multiplier;
  e.effective_noise_multiplier = curve->effective_noise_multiplier;
  e.sampling_rate = c.sampling_rate;
  e.sites_planned = c.sites_planned;
  e.sites_contributed = c.sites_contributed;
  e.round_epsilon = eps_round->epsilon;
  e.epsilon_after = eps_after->epsilon;
  e.order_after = eps_after->order;
  e.charged_at = UtcNow();

  const bool over = e.epsilon_after > period_.epsilon_budget;
  const std::string over_message =
      "Privacy budget exhausted: releasing round " +
      std::to_string(c.round_id) + " would bring epsilon to " +
      Num(e.epsilon_after) + " > budget " + Num(period_.epsilon_budget) +
      " at delta " + Num(period_.delta);
  if (over && c.mode == DpMode::kCentral) {
    // Nothing has left the coordinator: discarding the aggregate spends
    // nothing, so nothing is recorded.
    if (auto s = Audit("system", "privacy_release_refused",
                       {{"round_id", c.round_id},
                        {"period_id", period_.period_id},
                        {"epsilon_after", e.epsilon_after},
                        {"epsilon_budget", period_.epsilon_budget}});
        !s) {
      return std::unexpected(s.error());
    }
    return ResourceExhausted(over_message + "; the aggregate is discarded");
  }

  const int64_t rounds_after = rounds_charged_ + 1;
  nlohmann::json fields = EntryJson(e);
  fields["epsilon_budget"] = period_.epsilon_budget;
  fields["delta"] = period_.delta;
  // The charge and its audit entry commit together. Distributed mode over
  // budget is still recorded: the coordinator saw the sum.
  auto committed = db_.Transaction([&]() -> Status {
    if (auto s = db_.Run(
            std::string("INSERT INTO privacy_charges (") + kChargeColumns +
                ", rdp) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            {e.period_id, e.round_id, e.mode, e.mechanism, e.noise_multiplier,
             e.effective_noise_multiplier, e.sampling_rate,
             int64_t{e.sites_planned}, int64_t{e.sites_contributed},
             e.round_epsilon, e.epsilon_after, e.order_after, e.charged_at,
             CurveBytes(curve->rdp)});
        !s) {
      return s;
    }
    if (auto s =
            db_.Run("UPDATE privacy_periods SET rdp = ?, spent_epsilon = ?, "
                    "optimal_order = ?, rounds_charged = ? WHERE period_id = ?",
                    {CurveBytes(after.rdp()), e.epsilon_after, e.order_after,
                     rounds_after, period_.period_id});
        !s) {
      return s;
    }
    return Audit("system", over ? "privacy_budget_overrun" : "privacy_charge",
                 fields);
  });
  if (!committed) {
    if (committed.error().message.find("UNIQUE") != std::string::npos) {
      return MakeError(ErrorCode::kAlreadyExists,
                       "privacy ledger: round " + std::to_string(c.round_id) +
                           " is already charged in period " +
                           std::to_string(period_.period_id));
    }
    return std::unexpected(committed.error());
  }
  accountant_ = std::move(after);
  rounds_charged_ = rounds_after;
  last_round_id_ = std::max(last_round_id_, c.round_id);
  NotifySpend();

  if (over) {
    return ResourceExhausted(over_message +
                             "; recorded (distributed noise already "
                             "unmasked), do not release");
  }
  return e;
}

Result<PrivacyStatusReport> PrivacyLedger::Snapshot(int history_limit) {
  PrivacyStatusReport r;
  r.period = period_;
  auto eps = accountant_.Epsilon(period_.delta);
  if (!eps) return std::unexpected(eps.error());
  r.spent_epsilon = eps->epsilon;
  r.optimal_order = eps->order;
  r.remaining_epsilon = std::max(0.0, period_.epsilon_budget - r.spent_epsilon);
  r.rounds_charged = rounds_charged_;
  // The newest `limit` rows, returned oldest first.
  auto stmt =
      db_.Prepare(std::string("SELECT * FROM (SELECT ") + kChargeColumns +
                  ", charge_id FROM privacy_charges WHERE period_id = ? "
                  "ORDER BY charge_id DESC LIMIT ?) ORDER BY charge_id");
  if (!stmt) return std::unexpected(stmt.error());
  if (auto s = stmt->Bind(
          {period_.period_id, int64_t{history_limit > 0 ? history_limit : -1}});
      !s) {
    return std::unexpected(s.error());
  }
  while (true) {
    auto more = stmt->Step();
    if (!more) return std::unexpected(more.error());
    if (!*more) break;
    r.history.push_back(ReadEntry(*stmt));
  }
  return r;
}

Result<PrivacyBudgetPeriod> PrivacyLedger::StartNewPeriod(
    const std::string& actor, const std::string& reason, PrivacyBudget budget) {
  if (actor.empty()) {
    return InvalidArgument("a new privacy budget period needs an actor");
  }
  if (reason.empty()) {
    return InvalidArgument("a new privacy budget period needs a reason");
  }
  if (auto s = ValidateBudget(budget); !s) return std::unexpected(s.error());
  const PrivacyBudgetPeriod previous = period_;
  const int64_t previous_rounds = rounds_charged_;
  auto spent = accountant_.Epsilon(previous.delta);
  if (!spent) return std::unexpected(spent.error());
  // The new period and its audit entry commit together.
  if (auto s = db_.Transaction([&]() -> Status {
        if (auto i = InsertPeriod(actor, reason, budget); !i) return i;
        return Audit(actor, "privacy_period_started",
                     {{"period_id", db_.LastInsertId()},
                      {"epsilon_budget", budget.epsilon},
                      {"delta", budget.delta},
                      {"reason", reason},
                      {"previous_period_id", previous.period_id},
                      {"previous_spent_epsilon", spent->epsilon},
                      {"previous_rounds_charged", previous_rounds}});
      });
      !s) {
    return std::unexpected(s.error());
  }
  if (auto s = Load(budget); !s) return std::unexpected(s.error());
  NotifySpend();
  return period_;
}

Result<PrivacySpendMark> PrivacyLedger::Mark() const {
  auto eps = accountant_.Epsilon(period_.delta);
  if (!eps) return std::unexpected(eps.error());
  return PrivacySpendMark{.period_id = period_.period_id,
                          .epsilon_budget = period_.epsilon_budget,
                          .delta = period_.delta,
                          .period_started_at = period_.started_at,
                          .spent_epsilon = eps->epsilon,
                          .last_round_id = last_round_id_,
                          .orders = accountant_.orders(),
                          .rdp = accountant_.rdp(),
                          .updated_at = UtcNow()};
}

void PrivacyLedger::NotifySpend() {
  if (!on_spend_) return;
  if (auto mark = Mark(); mark) on_spend_(*mark);
}

}  // namespace cls::coordinator
