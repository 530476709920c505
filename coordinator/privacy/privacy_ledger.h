#ifndef CLS_COORDINATOR_PRIVACY_PRIVACY_LEDGER_H_
#define CLS_COORDINATOR_PRIVACY_PRIVACY_LEDGER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/sqlite_db.h"
#include "core/privacy/rdp_accountant.h"

namespace cls::coordinator {

// Where the noise is added (coordinator config `privacy_mode`).
enum class DpMode {
  kCentral,      // the coordinator adds Gaussian noise to the unmasked sum
  kDistributed,  // each site adds its share before masking
};
// What the accountant charges for the noise.
enum class DpMechanism {
  kGaussian,  // (Poisson-subsampled) Gaussian with a noise multiplier
  kSkellam,   // Skellam RDP bound in the integer domain (distributed only)
};
std::string_view DpModeName(DpMode mode);
std::string_view DpMechanismName(DpMechanism mechanism);

// The total budget of a period: the guarantee the whole period must keep.
struct PrivacyBudget {
  double epsilon = 10.0;
  double delta = 1e-5;
};

// One round's privacy parameters, planned (Check) or actual (Charge).
struct PrivacyCharge {
  int64_t round_id = 0;
  DpMode mode = DpMode::kCentral;
  DpMechanism mechanism = DpMechanism::kGaussian;
  double noise_multiplier = 0;  // planned z: noise stddev / sensitivity
  double sampling_rate = 1.0;   // Poisson site-sampling probability q
  int sites_planned = 0;        // n: sites whose noise share was planned
  // Distributed mode: sites whose share is in the sum. Check() takes the
  // fewest the round may complete with (the secure-aggregation threshold),
  // so the real charge can never exceed what was checked; Charge() takes the
  // survivors. Central mode adds the full noise whatever drops out.
  int sites_contributed = 0;
  // kSkellam only: integer-domain sensitivities and the planned total
  // variance (core/privacy/noise.h, DistributedNoisePlan).
  double skellam_l1 = 0;
  double skellam_l2 = 0;
  double skellam_variance = 0;
};

struct PrivacyBudgetPeriod {
  int64_t period_id = 0;
  double epsilon_budget = 0;
  double delta = 0;
  std::string started_at;
  std::string started_by;
  std::string reason;
};

struct PrivacyLedgerEntry {
  int64_t period_id = 0;
  int64_t round_id = 0;
  std::string mode;                       // central | distributed
  std::string mechanism;                  // gaussian | skellam
  double noise_multiplier = 0;            // planned
  double effective_noise_multiplier = 0;  // what was actually added
  double sampling_rate = 1;
  int sites_planned = 0;
  int sites_contributed = 0;
  double round_epsilon = 0;  // this round alone, at the period's delta
  double epsilon_after = 0;  // the period's total after this round
  double order_after = 0;    // the RDP order that gave epsilon_after
  std::string charged_at;
};

struct PrivacyStatusReport {
  PrivacyBudgetPeriod period;
  double spent_epsilon = 0;
  double remaining_epsilon = 0;
  double optimal_order = 0;
  int64_t rounds_charged = 0;
  std::vector<PrivacyLedgerEntry> history;  // oldest first
};
nlohmann::json ToJson(const PrivacyStatusReport& report);

// What the current period has spent, as the ledger hands it out after each
// committed spend so it can be kept outside the database
// (coordinator/privacy/privacy_high_water.h): a backup taken earlier lacks
// the spends after it, and a restore must not forget them.
struct PrivacySpendMark {
  int64_t period_id = 0;
  double epsilon_budget = 0;
  double delta = 0;
  std::string period_started_at;
  double spent_epsilon = 0;
  int64_t last_round_id = 0;  // the newest charged round of the period
  std::vector<double> orders;
  std::vector<double> rdp;  // the period's accumulated curve at `orders`
  std::string updated_at;
};

// The coordinator's privacy budget: the accumulated RDP curve of the current
// budget period and one row per charged round, in the coordinator's SQLite
// database (tables privacy_periods and privacy_charges).
//
// Semantics:
//  - Check() before a round starts: refuses (kResourceExhausted, audited) a
//    round that would take the period past its epsilon at its delta.
//  - Charge() after unmasking and BEFORE anything is released: commits the
//    round's curve and the new total in one transaction (synchronous=FULL),
//    then audits. If the release would exceed the budget in central mode,
//    nothing is recorded and the caller must discard the aggregate; in
//    distributed mode the coordinator has already seen the noised sum, so the
//    spend is recorded and kResourceExhausted still tells the caller not to
//    release.
//  - Only StartNewPeriod() resets the spend, and it is audited. Triggers make
//    the charge rows append-only and forbid lowering a period's spend or
//    changing its budget; Open() recomputes the total from the rows and
//    reports kDataLoss if they disagree.
//
// Thread-compatible: the coordinator's io thread only. Borrows the database,
// which must outlive the ledger.
class PrivacyLedger {
 public:
  // Writes one audit entry; wired to the coordinator's audit log. Called
  // after the ledger's own transaction has committed: if it fails, the
  // charge or period stands (privacy is never under-counted) and the sink's
  // error is returned.
  using AuditSink = std::function<Status(const std::string& actor,
                                         const std::string& event_type,
                                         const nlohmann::json& fields)>;

  // Loads the current period (the tables are created by
  // coordinator/storage/schema.cc); a new
  // database starts period 1 with `default_budget` (started_by "system").
  // An existing period keeps its stored budget: a changed config takes
  // effect only through StartNewPeriod.
  static Result<std::unique_ptr<PrivacyLedger>> Open(
      SqliteDb& db, PrivacyBudget default_budget, AuditSink audit = nullptr);

  // The period's epsilon after `planned`, or kResourceExhausted:
  // "Privacy budget exhausted: spending round R would bring epsilon to X >
  // budget B at delta D". kAlreadyExists if the round was charged.
  Result<double> Check(const PrivacyCharge& planned);

  // Records the round's actual spend (see the class comment).
  Result<PrivacyLedgerEntry> Charge(const PrivacyCharge& actual);

  // Spent, remaining and the per-round history (the last `history_limit`
  // rounds, all when <= 0).
  Result<PrivacyStatusReport> Snapshot(int history_limit = 0);

  // Closes the current period and starts a new one with `budget`: the only
  // way to reset the spend. Requires a non-empty actor and reason; audited.
  Result<PrivacyBudgetPeriod> StartNewPeriod(const std::string& actor,
                                             const std::string& reason,
                                             PrivacyBudget budget);

  // Called after every committed charge and new period (not after a
  // refused one) with the period's new mark.
  using SpendObserver = std::function<void(const PrivacySpendMark&)>;
  void OnSpend(SpendObserver observer) { on_spend_ = std::move(observer); }
  Result<PrivacySpendMark> Mark() const;

  // After a restore from backup (privacy_high_water.cc): when `mark` shows
  // more spent than the ledger, appends one adjustment row (round_id < 0,
  // mode "adjustment") whose RDP curve lifts the period's curve to at least
  // the mark's at every order, audited as
  // privacy_ledger_raised_after_restore in the same transaction; a mark of
  // a later period first recreates that period with the mark's budget.
  // Never lowers anything; true when it raised.
  Result<bool> RaiseToHighWater(const PrivacySpendMark& mark);

  const PrivacyBudgetPeriod& period() const { return period_; }
  const core::privacy::RdpAccountant& accountant() const { return accountant_; }

 private:
  PrivacyLedger(SqliteDb& db, AuditSink audit)
      : db_(db), audit_(std::move(audit)) {}
  Status Load(PrivacyBudget default_budget);
  Status InsertPeriod(const std::string& actor, const std::string& reason,
                      PrivacyBudget budget);
  // The round's effective noise and RDP curve at the accountant's orders.
  struct RoundCurve {
    double effective_noise_multiplier = 0;
    std::vector<double> rdp;
  };
  Result<RoundCurve> CurveFor(const PrivacyCharge& charge);
  Status Audit(const std::string& actor, const std::string& event,
               const nlohmann::json& fields);

  SqliteDb& db_;
  AuditSink audit_;
  PrivacyBudgetPeriod period_;
  // Called after a committed spend.
  void NotifySpend();

  core::privacy::RdpAccountant accountant_;
  int64_t rounds_charged_ = 0;
  int64_t last_round_id_ = 0;
  SpendObserver on_spend_;
};

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_PRIVACY_PRIVACY_LEDGER_H_
