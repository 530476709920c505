#include "coordinator/deployment/deployment_manager.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <utility>

#include "crypto/random.h"

namespace cls::coordinator {
namespace {

using nlohmann::json;

constexpr size_t kMaxReasonBytes = 500;
constexpr size_t kMaxDetectorBytes = 64;
constexpr int64_t kSevenDaysS = 7 * 24 * 3600;
constexpr int kMaxPolicyAlerts = 10000;

// A site's words go into logs and the audit trail; keep them short and
// printable so a hostile site cannot forge log lines.
std::string Printable(std::string_view text, size_t max_bytes) {
  std::string out;
  for (char c : text.substr(0, max_bytes)) {
    out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  return out;
}

std::string DeploymentIdFor(int64_t sequence) {
  return "d" + std::to_string(sequence) + "_" + ToHex(crypto::RandomBytes(4));
}

json StateJson(const rollout::DeploymentState& s) {
  return {
      {"current_version", s.current_version},
      {"candidate_version", s.candidate_version},
      {"strategy", std::string(rollout::DeploymentStrategyName(s.strategy))},
      {"percentage", s.percentage}};
}

}  // namespace

Result<std::unique_ptr<DeploymentManager>> DeploymentManager::Open(
    CoordinatorStore& store, std::string model_kind, DeploymentSender sender,
    rollout::RollbackPolicy policy, rollout::SequentialTestConfig test) {
  auto deployments = DeploymentStore::Open(store.db());
  if (!deployments) return std::unexpected(deployments.error());
  if (auto c = rollout::SequentialComparison::Create(test); !c) {
    return std::unexpected(c.error());
  }
  std::unique_ptr<DeploymentManager> manager(new DeploymentManager(
      store, std::move(*deployments), std::move(model_kind), std::move(sender),
      policy, test));
  if (auto s = manager->Load(); !s) return std::unexpected(s.error());
  return manager;
}

Status DeploymentManager::Load() {
  auto latest = deployments_.Latest();
  if (!latest) return std::unexpected(latest.error());
  auto versions = deployments_.DeployedVersions();
  if (!versions) return std::unexpected(versions.error());
  known_versions_.insert(versions->begin(), versions->end());
  if (!*latest) return {};
  // A stored deployment is re-checked exactly as a new one.
  if (auto d = rollout::Deployment::Restore((*latest)->state); !d) {
    return DataLoss("stored deployment " + (*latest)->deployment_id + ": " +
                    d.error().message);
  }
  current_ = std::move(**latest);
  auto update = BuildUpdate(*current_);
  if (!update) return std::unexpected(update.error());
  update_ = std::move(*update);
  spdlog::info("deployment {}: current {}, candidate {} at {}%",
               current_->deployment_id, current_->state.current_version,
               current_->state.candidate_version.empty()
                   ? "none"
                   : current_->state.candidate_version,
               current_->state.percentage);
  return {};
}

bool DeploymentManager::KnownVersion(const std::string& version_id) {
  if (known_versions_.count(version_id)) return true;
  // Bounded: only versions the store holds are ever added.
  auto model = store_.FindModel(version_id);
  if (!model || !*model) return false;
  known_versions_.insert(version_id);
  return true;
}

Result<DeploymentRecord> DeploymentManager::Deploy(
    const std::string& version_id, const std::string& strategy_name,
    const DeploymentActor& actor, const std::string& reason) {
  auto strategy = rollout::ParseDeploymentStrategy(strategy_name);
  if (!strategy) return std::unexpected(strategy.error());
  auto model = store_.FindModel(version_id);
  if (!model) return std::unexpected(model.error());
  if (!*model) return NotFound("no model version '" + version_id + "'");
  if (!current_) {
    // Nothing to compare against yet: the first version goes out alone.
    if (*strategy != rollout::DeploymentStrategy::kImmediate) {
      return FailedPrecondition(
          "nothing is deployed yet: deploy a first version with --strategy "
          "immediate, then roll out candidates against it");
    }
    auto d = rollout::Deployment::Create(version_id);
    if (!d) return std::unexpected(d.error());
    return Commit(d->state(), "deploy", actor, reason, false, true);
  }
  auto d = rollout::Deployment::Restore(current_->state);
  if (!d) return std::unexpected(d.error());
  const std::string salt = version_id + "/" + ToHex(crypto::RandomBytes(16));
  if (auto s = d->Deploy(version_id, *strategy, salt); !s) {
    return std::unexpected(s.error());
  }
  return Commit(d->state(), "deploy", actor, reason, false, true);
}

Result<DeploymentRecord> DeploymentManager::SetRollout(
    const std::string& version_id, double percentage,
    const DeploymentActor& actor) {
  if (!current_ || current_->state.candidate_version.empty()) {
    return FailedPrecondition("no rollout in progress; deploy " + version_id +
                              " with --strategy gradual_rollout first");
  }
  if (current_->state.candidate_version != version_id) {
    return FailedPrecondition("the version rolling out is " +
                              current_->state.candidate_version + ", not " +
                              version_id);
  }
  auto d = rollout::Deployment::Restore(current_->state);
  if (!d) return std::unexpected(d.error());
  if (auto s = d->SetRolloutPercentage(percentage); !s) {
    return std::unexpected(s.error());
  }
  return Commit(d->state(), "rollout", actor, "", false, false);
}

Result<DeploymentRecord> DeploymentManager::Promote(
    const DeploymentActor& actor, const std::string& reason) {
  if (!current_) return FailedPrecondition("nothing is deployed");
  auto d = rollout::Deployment::Restore(current_->state);
  if (!d) return std::unexpected(d.error());
  if (auto s = d->Promote(); !s) return std::unexpected(s.error());
  return Commit(d->state(), "promote", actor, reason, false, false);
}

Result<DeploymentRecord> DeploymentManager::Rollback(
    const DeploymentActor& actor, const std::string& reason) {
  if (!current_ || current_->state.candidate_version.empty()) {
    return FailedPrecondition(
        "no rollout in progress: nothing to roll back (to serve an earlier "
        "version, deploy it)");
  }
  auto d = rollout::Deployment::Restore(current_->state);
  if (!d) return std::unexpected(d.error());
  if (auto s = d->Rollback(); !s) return std::unexpected(s.error());
  return Commit(d->state(), "rollback", actor, reason, false, false);
}

Result<DeploymentRecord> DeploymentManager::RollbackTo(
    const std::string& version_id, const DeploymentActor& actor,
    const std::string& reason) {
  if (!current_) {
    return FailedPrecondition(
        "nothing is deployed yet: there is no version to roll back from");
  }
  const auto& state = current_->state;
  if (version_id == state.candidate_version) {
    return FailedPrecondition(version_id +
                              " is the candidate being rolled out, not an "
                              "earlier version (promote it instead)");
  }
  if (version_id == state.current_version && state.candidate_version.empty()) {
    return FailedPrecondition(version_id +
                              " is already the version in force: nothing to "
                              "roll back");
  }
  auto model = store_.FindModelSummary(version_id);
  if (!model) return std::unexpected(model.error());
  if (!*model) return NotFound("no model version '" + version_id + "'");
  auto d = rollout::Deployment::Create(version_id);
  if (!d) return std::unexpected(d.error());
  // A fresh deployment: alerts on what served before no longer count.
  return Commit(d->state(), "rollback", actor, reason, false, true);
}

Result<DeploymentRecord> DeploymentManager::Commit(
    const rollout::DeploymentState& state, const std::string& action,
    const DeploymentActor& actor, const std::string& reason, bool automatic,
    bool new_rollout) {
  DeploymentRecord record;
  record.sequence = current_ ? current_->sequence + 1 : 1;
  record.deployment_id = DeploymentIdFor(record.sequence);
  record.action = action;
  record.actor = actor.name;
  record.reason = Printable(reason, kMaxReasonBytes);
  record.automatic = automatic;
  record.state = state;
  record.created_at = UtcNow();
  if (new_rollout || !current_) {
    auto max_id = deployments_.MaxAlertId();
    if (!max_id) return std::unexpected(max_id.error());
    record.alert_watermark = *max_id;
  } else {
    record.alert_watermark = current_->alert_watermark;
  }
  // Built before anything is stored: a version whose artifact cannot be
  // read is refused, never half-deployed.
  auto update = BuildUpdate(record);
  if (!update) return std::unexpected(update.error());
  json fields = StateJson(state);
  fields["deployment_id"] = record.deployment_id;
  fields["action"] = action;
  fields["automatic"] = automatic;
  if (!record.reason.empty()) fields["reason"] = record.reason;
  if (current_) fields["previous_version"] = current_->state.current_version;
  const std::string event = action == "deploy"    ? "version_deployed"
                            : action == "rollout" ? "rollout_changed"
                            : action == "promote" ? "version_promoted"
                                                  : "version_rolled_back";
  if (auto s =
          store_.AuditedChange(actor.name, actor.role, event, fields,
                               [&] { return deployments_.Insert(record); });
      !s) {
    return std::unexpected(s.error());
  }
  if (new_rollout || action != "rollout") {
    comparison_.reset();
    rollout_comparison_.reset();
  }
  known_versions_.insert(state.current_version);
  if (!state.candidate_version.empty()) {
    known_versions_.insert(state.candidate_version);
  }
  current_ = record;
  update_ = std::move(*update);
  PushToConnectedSites();
  spdlog::info(
      "deployment {} ({} by {}): current {}, candidate {} at {}%",
      record.deployment_id, action, actor.name, state.current_version,
      state.candidate_version.empty() ? "none" : state.candidate_version,
      state.percentage);
  return record;
}

Result<protocol::DeploymentUpdate> DeploymentManager::BuildUpdate(
    const DeploymentRecord& r) {
  protocol::DeploymentUpdate update;
  update.deployment_id = r.deployment_id;
  update.strategy =
      std::string(rollout::DeploymentStrategyName(r.state.strategy));
  update.rollout_percent = r.state.percentage;
  update.salt = r.state.salt;
  if (sender_.feature_statistics) {
    update.feature_statistics = sender_.feature_statistics();
  }
  auto fill = [&](const std::string& version,
                  protocol::ServedModel& out) -> Status {
    auto model = store_.FindModel(version);
    if (!model) return std::unexpected(model.error());
    if (!*model) return NotFound("no model version '" + version + "'");
    out.version_id = (*model)->version_id;
    out.model_hash = (*model)->hash;
    out.model_kind = model_kind_;
    out.model_spec = model_spec_;
    out.parameters = std::move((*model)->parameters);
    return {};
  };
  if (auto s = fill(r.state.current_version, update.current); !s) {
    return std::unexpected(s.error());
  }
  if (!r.state.candidate_version.empty()) {
    if (auto s = fill(r.state.candidate_version, update.candidate); !s) {
      return std::unexpected(s.error());
    }
  }
  const DeploymentDriftSettings& drift = sender_.drift;
  update.drift_performance_threshold = drift.performance_threshold;
  update.drift_window_size = drift.window_size;
  // "validation": the sites' held-out evaluations of the version, summed;
  // none when no site has reported one.
  auto baseline = [&](const std::string& version) -> Result<double> {
    if (!drift.baseline_validation) return drift.baseline;
    auto e = store_.FindVersionEvaluation(version);
    if (!e) return std::unexpected(e.error());
    return e->count > 0
               ? static_cast<double>(e->correct) / static_cast<double>(e->count)
               : -1.0;
  };
  auto current = baseline(r.state.current_version);
  if (!current) return std::unexpected(current.error());
  update.current_baseline = *current;
  if (!r.state.candidate_version.empty()) {
    auto candidate = baseline(r.state.candidate_version);
    if (!candidate) return std::unexpected(candidate.error());
    update.candidate_baseline = *candidate;
  }
  return update;
}

void DeploymentManager::PushToConnectedSites() {
  if (!update_ || !sender_.connected_sites) return;
  for (const auto& site : sender_.connected_sites()) {
    sender_.send(site, *update_);
  }
}

void DeploymentManager::OnSiteConnected(const std::string& site_id) {
  // The whole deployment, every time: a site that was offline during a
  // change catches up here, and a site that has it already re-acks.
  if (update_) sender_.send(site_id, *update_);
}

void DeploymentManager::OnAck(const std::string& site_id,
                              const protocol::DeploymentAck& ack) {
  if (!current_ || ack.deployment_id != current_->deployment_id) {
    spdlog::info("site {}: ack for deployment {} ignored (latest is {})",
                 site_id, Printable(ack.deployment_id, 64),
                 current_ ? current_->deployment_id : "none");
    return;
  }
  SiteAckRecord record{site_id,
                       ack.deployment_id,
                       ack.accepted,
                       Printable(ack.current_version, 256),
                       Printable(ack.candidate_version, 256),
                       Printable(ack.reason, kMaxReasonBytes),
                       UtcNow()};
  json fields = {{"site_id", site_id},
                 {"deployment_id", record.deployment_id},
                 {"accepted", record.accepted}};
  if (!record.reason.empty()) fields["reason"] = record.reason;
  if (current_) fields["previous_version"] = current_->state.current_version;
  if (auto s = store_.AuditedChange(
          site_id, "site", "deployment_acknowledged", fields,
          [&] { return deployments_.SaveAck(record); });
      !s) {
    spdlog::error("site {}: recording ack of {}: {}", site_id,
                  ack.deployment_id, s.error().message);
    return;
  }
  if (ack.accepted) {
    spdlog::info("site {} installed deployment {}", site_id,
                 record.deployment_id);
  } else {
    spdlog::warn("site {} refused deployment {}: {}", site_id,
                 record.deployment_id, record.reason);
  }
}

Status DeploymentManager::OnDriftReport(const std::string& site_id,
                                        const protocol::DriftReport& report,
                                        int64_t now_s) {
  // Everything is checked before anything is kept: a report is taken whole
  // or dropped whole.
  auto stored = deployments_.Summaries();
  if (!stored) return std::unexpected(stored.error());
  std::vector<StoredSummary> summaries;
  std::set<std::string> seen;
  for (const auto& text : report.summaries) {
    auto summary = drift::ParseDriftSummary(text);
    if (!summary) {
      return InvalidArgument("drift report: " + summary.error().message);
    }
    if (!seen.insert(summary->version_id).second) {
      return InvalidArgument("drift report: two summaries of one version");
    }
    if (!KnownVersion(summary->version_id)) {
      spdlog::debug("site {}: drift summary of an unknown version ignored",
                    site_id);
      continue;
    }
    // It must merge with the other sites' summaries of the version (same
    // calibration bins), or the merged view would break on it later.
    std::vector<drift::DriftSummary> parts = {*summary};
    for (const auto& other : *stored) {
      if (other.version_id != summary->version_id || other.site_id == site_id)
        continue;
      auto parsed = drift::ParseDriftSummary(other.summary_json);
      if (parsed) parts.push_back(std::move(*parsed));
    }
    if (auto m = drift::MergeDriftSummaries(parts); !m) {
      return InvalidArgument("drift report: " + m.error().message);
    }
    summaries.push_back(
        {site_id, summary->version_id, drift::SerializeDriftSummary(*summary)});
  }
  std::vector<StoredAlert> alerts;
  for (const auto& note : report.alerts) {
    auto type = drift::ParseDriftType(note.drift_type);
    if (!type) return InvalidArgument("drift alert: " + type.error().message);
    if (!std::isfinite(note.severity) || note.severity < 0 ||
        note.severity > 1) {
      return InvalidArgument("drift alert: severity outside [0, 1]");
    }
    if (note.detector.size() > kMaxDetectorBytes) {
      return InvalidArgument("drift alert: detector name too long");
    }
    if (!KnownVersion(note.version_id)) continue;
    alerts.push_back({0, site_id, note.version_id,
                      std::string(drift::DriftTypeName(*type)), note.severity,
                      Printable(note.detector, kMaxDetectorBytes),
                      note.timestamp_s, now_s});
  }
  SiteReportRecord record{site_id, report.reported_at_s, UtcNow(),
                          static_cast<int64_t>(summaries.size()),
                          static_cast<int64_t>(alerts.size())};
  if (auto s = deployments_.SaveReport(record, summaries, alerts); !s) {
    return s;
  }
  last_report_alerts_ = alerts;
  for (const auto& a : alerts) {
    spdlog::warn("site {}: {} on {} (severity {:.2f}, detector {})", site_id,
                 a.drift_type, a.version_id, a.severity, a.detector);
  }
  JudgeRollout();
  return {};
}

Result<std::optional<drift::DriftSummary>> DeploymentManager::Merged(
    const std::string& version_id) {
  auto stored = deployments_.Summaries();
  if (!stored) return std::unexpected(stored.error());
  std::vector<drift::DriftSummary> parts;
  for (const auto& s : *stored) {
    if (s.version_id != version_id) continue;
    auto parsed = drift::ParseDriftSummary(s.summary_json);
    if (!parsed) return DataLoss("stored drift summary of " + s.site_id);
    parts.push_back(std::move(*parsed));
  }
  if (parts.empty()) return std::nullopt;
  auto merged = drift::MergeDriftSummaries(parts);
  if (!merged) return std::unexpected(merged.error());
  return std::move(*merged);
}

void DeploymentManager::JudgeRollout() {
  if (!current_ || current_->state.candidate_version.empty()) return;
  const auto& state = current_->state;
  auto current = Merged(state.current_version);
  auto candidate = Merged(state.candidate_version);
  if (!current || !candidate) {
    spdlog::error("merging drift summaries: {}",
                  (!current ? current.error() : candidate.error()).message);
    return;
  }
  rollout::ArmCounts a, b;
  if (*current) a = {(*current)->predictions, (*current)->correct};
  if (*candidate) b = {(*candidate)->predictions, (*candidate)->correct};
  if (!comparison_) comparison_ = *rollout::SequentialComparison::Create(test_);
  auto look = comparison_->Update(a, b);
  if (!look) {
    // Counts fell: a site restarted and its monitors began again. Start a
    // new test on the totals (still valid: a fresh always-valid test).
    spdlog::info("sequential test restarted: {}", look.error().message);
    comparison_ = *rollout::SequentialComparison::Create(test_);
    look = comparison_->Update(a, b);
  }
  if (look) rollout_comparison_ = *look;

  auto stored_alerts = deployments_.Alerts(
      state.candidate_version, current_->alert_watermark, kMaxPolicyAlerts);
  if (!stored_alerts) {
    spdlog::error("reading drift alerts: {}", stored_alerts.error().message);
    return;
  }
  std::vector<drift::DriftAlert> alerts;
  for (const auto& s : *stored_alerts) {
    auto type = drift::ParseDriftType(s.drift_type);
    if (!type) continue;
    drift::DriftAlert alert;
    alert.drift_type = *type;
    alert.severity = s.severity;
    alert.detector = s.detector;
    alert.timestamp_s = s.timestamp_s;
    alerts.push_back(std::move(alert));
  }
  const auto decision =
      rollout::DecideRollback(policy_, alerts, rollout_comparison_);
  if (decision.action != rollout::RollbackAction::kRollback) return;

  const std::string candidate_version = state.candidate_version;
  auto d = rollout::Deployment::Restore(state);
  if (!d || !d->Rollback()) {
    spdlog::error("automatic rollback of {} failed", candidate_version);
    return;
  }
  auto record = Commit(d->state(), "rollback", {"coordinator", "system"},
                       decision.reason, true, false);
  if (!record) {
    spdlog::error("automatic rollback of {} failed: {}", candidate_version,
                  record.error().message);
    return;
  }
  spdlog::warn(
      "AUTOMATIC ROLLBACK of {}: all traffic back to {} (deployment {}): {}",
      candidate_version, record->state.current_version, record->deployment_id,
      decision.reason);
}

Result<std::vector<VersionDriftStatistics>> DeploymentManager::DriftStatistics(
    int64_t now_s) {
  auto stored = deployments_.Summaries();
  if (!stored) return std::unexpected(stored.error());
  std::set<std::string> versions;
  for (const auto& s : *stored) versions.insert(s.version_id);
  std::vector<VersionDriftStatistics> out;
  for (const auto& version : versions) {
    auto merged = Merged(version);
    if (!merged) return std::unexpected(merged.error());
    if (!*merged) continue;
    VersionDriftStatistics stats{version, std::move(**merged), 0, 0};
    auto alerts = deployments_.Alerts(version, 0, 1000000);
    if (!alerts) return std::unexpected(alerts.error());
    stats.total_alerts = static_cast<int64_t>(alerts->size());
    stats.alerts_last_7_days = std::count_if(
        alerts->begin(), alerts->end(), [&](const StoredAlert& a) {
          return a.received_s >= now_s - kSevenDaysS;
        });
    out.push_back(std::move(stats));
  }
  return out;
}

Result<rollout::ComparisonResult> DeploymentManager::Compare(
    const std::string& a, const std::string& b) {
  if (a == b) return InvalidArgument("compare: a version against itself");
  if (current_ && rollout_comparison_ && a == current_->state.current_version &&
      b == current_->state.candidate_version) {
    return *rollout_comparison_;
  }
  auto merged_a = Merged(a);
  if (!merged_a) return std::unexpected(merged_a.error());
  auto merged_b = Merged(b);
  if (!merged_b) return std::unexpected(merged_b.error());
  for (const auto* v : {&a, &b}) {
    const bool reported =
        v == &a ? merged_a->has_value() : merged_b->has_value();
    if (!reported && !KnownVersion(*v)) {
      return NotFound("no model version '" + *v + "'");
    }
  }
  rollout::ArmCounts ca, cb;
  if (*merged_a) ca = {(*merged_a)->predictions, (*merged_a)->correct};
  if (*merged_b) cb = {(*merged_b)->predictions, (*merged_b)->correct};
  auto test = rollout::SequentialComparison::Create(test_);
  if (!test) return std::unexpected(test.error());
  return test->Update(ca, cb);
}

}  // namespace cls::coordinator
