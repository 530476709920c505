#include "coordinator/round/evaluation_intake.h"

#include <spdlog/spdlog.h>

#include "coordinator/versions/version_evaluation.h"

namespace cls::coordinator {

void EvaluationIntake::Expect(int64_t round_id, std::string version_id,
                              const std::vector<std::string>& sites) {
  round_id_ = round_id;
  version_id_ = std::move(version_id);
  awaiting_ = std::set<std::string>(sites.begin(), sites.end());
}

Status EvaluationIntake::OnReport(const std::string& site_id,
                                  const protocol::EvaluationReport& report) {
  const auto& m = report.metrics;
  if (m.correct > m.count || m.count > (uint64_t{1} << 40) ||
      !CheckEvaluationScores(report)) {
    return InvalidArgument("evaluation_report with impossible counts");
  }
  if (static_cast<int64_t>(report.round_id) != round_id_ ||
      awaiting_.erase(site_id) == 0) {
    spdlog::debug("ignoring evaluation of round {} from {}: not expected",
                  report.round_id, site_id);
    return {};
  }
  if (auto s = store_.AddEvaluation(static_cast<int64_t>(report.round_id),
                                    static_cast<int64_t>(m.count),
                                    static_cast<int64_t>(m.correct));
      !s) {
    spdlog::error("recording evaluation of round {}: {}", report.round_id,
                  s.error().message);
  }
  if (auto s = RecordVersionEvaluation(store_, version_id_, report); !s) {
    spdlog::error("recording {}'s evaluation of {}: {}", site_id,
                  report.model_version, s.error().message);
  }
  return {};
}

}  // namespace cls::coordinator
