// Codecs of evaluation and serving: EvaluationReport, DeploymentUpdate,
// DeploymentAck, DriftReport and the coordinator's AuditCheckpoint.
#include "protocol/codec.h"

namespace cls::protocol::codec {
namespace {

// EvaluationReport score histograms: 2 x 1000 x 8 bytes stays far below the
// control payload limit.
constexpr size_t kMaxScoreBins = 1000;
constexpr size_t kMaxDriftSummaryBytes = 128 * kKiB;
constexpr size_t kMaxDriftSummaries = 16;  // versions per report
constexpr size_t kMaxDriftAlerts = 1000;
constexpr size_t kMaxCheckpointBytes = 16 * kKiB;

template <typename ListBuilder>
void FillCounts(ListBuilder list, const std::vector<uint64_t>& values) {
  for (size_t i = 0; i < values.size(); ++i) {
    list.set(static_cast<unsigned>(i), values[i]);
  }
}

struct EvaluationReportCodec {
  using Type = EvaluationReport;
  static constexpr Which kWhich = Which::EVALUATION_REPORT;

  static size_t EstimateWords(const EvaluationReport& m) {
    return TextWords(m.model_version) + 16 +
           m.scores.positive_histogram.size() +
           m.scores.negative_histogram.size();
  }

  static void Encode(const EvaluationReport& m, BodyBuilder body) {
    auto b = body.initEvaluationReport();
    b.setRoundId(m.round_id);
    b.setModelVersion(AsText(m.model_version));
    FillMetrics(b.initMetrics(), m.metrics);
    auto scores = b.initScores();
    scores.setTruePositives(m.scores.true_positives);
    scores.setFalsePositives(m.scores.false_positives);
    scores.setTrueNegatives(m.scores.true_negatives);
    scores.setFalseNegatives(m.scores.false_negatives);
    FillCounts(scores.initPositiveHistogram(
                   static_cast<unsigned>(m.scores.positive_histogram.size())),
               m.scores.positive_histogram);
    FillCounts(scores.initNegativeHistogram(
                   static_cast<unsigned>(m.scores.negative_histogram.size())),
               m.scores.negative_histogram);
  }

  static EvaluationReport Decode(BodyReader body, Checker& c) {
    const auto r = body.getEvaluationReport();
    EvaluationReport m;
    m.round_id = r.getRoundId();
    c.Text(r.getModelVersion(), kMaxIdBytes, "model version", m.model_version);
    m.metrics = ReadMetrics(r.getMetrics(), c);
    auto scores = r.getScores();
    m.scores.true_positives = scores.getTruePositives();
    m.scores.false_positives = scores.getFalsePositives();
    m.scores.true_negatives = scores.getTrueNegatives();
    m.scores.false_negatives = scores.getFalseNegatives();
    c.SampleCount(m.scores.true_positives, "scores true positives");
    c.SampleCount(m.scores.false_positives, "scores false positives");
    c.SampleCount(m.scores.true_negatives, "scores true negatives");
    c.SampleCount(m.scores.false_negatives, "scores false negatives");
    auto pos = scores.getPositiveHistogram();
    auto neg = scores.getNegativeHistogram();
    if (!c.Count(pos.size(), kMaxScoreBins, "positive histogram") ||
        !c.Count(neg.size(), kMaxScoreBins, "negative histogram")) {
      return m;
    }
    for (uint64_t v : pos) {
      c.SampleCount(v, "positive histogram bin " +
                           Str(m.scores.positive_histogram.size()));
      m.scores.positive_histogram.push_back(v);
    }
    for (uint64_t v : neg) {
      c.SampleCount(v, "negative histogram bin " +
                           Str(m.scores.negative_histogram.size()));
      m.scores.negative_histogram.push_back(v);
    }
    return m;
  }
};

// DeploymentUpdate's current and candidate models.
size_t EstimateServedModelWords(const ServedModel& m) {
  return 6 + TextWords(m.version_id) + TextWords(m.model_hash) +
         TextWords(m.model_kind) + TextWords(m.model_spec) +
         BlobWords(m.parameters.size() * 4);
}

void FillServedModel(wire::ServedModel::Builder b, const ServedModel& m) {
  b.setVersionId(AsText(m.version_id));
  b.setModelHash(AsText(m.model_hash));
  b.setModelKind(AsText(m.model_kind));
  SetWords([&](unsigned n) { return b.initParameters(n); }, m.parameters);
  b.setModelSpec(AsText(m.model_spec));
}

ServedModel ReadServedModel(wire::ServedModel::Reader r, Checker& c) {
  ServedModel m;
  c.Text(r.getVersionId(), kMaxIdBytes, "version id", m.version_id);
  c.Text(r.getModelHash(), kMaxIdBytes, "model hash", m.model_hash);
  c.Text(r.getModelKind(), kMaxIdBytes, "model kind", m.model_kind);
  c.Words(r.getParameters(), "parameters", m.parameters);
  c.Text(r.getModelSpec(), kMaxIdBytes, "model spec", m.model_spec);
  return m;
}

struct DeploymentUpdateCodec {
  using Type = DeploymentUpdate;
  static constexpr Which kWhich = Which::DEPLOYMENT_UPDATE;

  static size_t EstimateWords(const DeploymentUpdate& m) {
    return TextWords(m.deployment_id) + TextWords(m.strategy) +
           EstimateServedModelWords(m.current) +
           EstimateServedModelWords(m.candidate) + TextWords(m.salt) +
           BlobWords(m.feature_statistics.size() * 8);
  }

  static void Encode(const DeploymentUpdate& m, BodyBuilder body) {
    auto b = body.initDeploymentUpdate();
    b.setDeploymentId(AsText(m.deployment_id));
    b.setStrategy(AsText(m.strategy));
    FillServedModel(b.initCurrent(), m.current);
    FillServedModel(b.initCandidate(), m.candidate);
    b.setRolloutPercent(m.rollout_percent);
    b.setSalt(AsText(m.salt));
    SetWords([&](unsigned n) { return b.initFeatureStatistics(n); },
             m.feature_statistics);
    b.setDriftPerformanceThreshold(m.drift_performance_threshold);
    b.setDriftWindowSize(m.drift_window_size);
    b.setCurrentBaseline(m.current_baseline);
    b.setCandidateBaseline(m.candidate_baseline);
  }

  static DeploymentUpdate Decode(BodyReader body, Checker& c) {
    const auto r = body.getDeploymentUpdate();
    DeploymentUpdate m;
    c.Text(r.getDeploymentId(), kMaxIdBytes, "deployment id", m.deployment_id);
    c.Text(r.getStrategy(), kMaxIdBytes, "strategy", m.strategy);
    m.current = ReadServedModel(r.getCurrent(), c);
    m.candidate = ReadServedModel(r.getCandidate(), c);
    m.rollout_percent = r.getRolloutPercent();
    c.Text(r.getSalt(), kMaxIdBytes, "salt", m.salt);
    c.Words(r.getFeatureStatistics(), "feature statistics",
            m.feature_statistics);
    // Range-checked by the site (DeploymentFromUpdate), which refuses the
    // deployment with a reason the coordinator records.
    m.drift_performance_threshold = r.getDriftPerformanceThreshold();
    m.drift_window_size = r.getDriftWindowSize();
    m.current_baseline = r.getCurrentBaseline();
    m.candidate_baseline = r.getCandidateBaseline();
    return m;
  }
};

struct DeploymentAckCodec {
  using Type = DeploymentAck;
  static constexpr Which kWhich = Which::DEPLOYMENT_ACK;

  static size_t EstimateWords(const DeploymentAck& m) {
    return TextWords(m.deployment_id) + TextWords(m.current_version) +
           TextWords(m.candidate_version) + TextWords(m.reason);
  }

  static void Encode(const DeploymentAck& m, BodyBuilder body) {
    auto b = body.initDeploymentAck();
    b.setDeploymentId(AsText(m.deployment_id));
    b.setAccepted(m.accepted);
    b.setCurrentVersion(AsText(m.current_version));
    b.setCandidateVersion(AsText(m.candidate_version));
    b.setReason(AsText(m.reason));
  }

  static DeploymentAck Decode(BodyReader body, Checker& c) {
    const auto r = body.getDeploymentAck();
    DeploymentAck m;
    c.Text(r.getDeploymentId(), kMaxIdBytes, "deployment id", m.deployment_id);
    m.accepted = r.getAccepted();
    c.Text(r.getCurrentVersion(), kMaxIdBytes, "current version",
           m.current_version);
    c.Text(r.getCandidateVersion(), kMaxIdBytes, "candidate version",
           m.candidate_version);
    c.Text(r.getReason(), kMaxReasonBytes, "reason", m.reason);
    return m;
  }
};

struct DriftReportCodec {
  using Type = DriftReport;
  static constexpr Which kWhich = Which::DRIFT_REPORT;

  static size_t EstimateWords(const DriftReport& m) {
    size_t words = 0;
    for (const auto& s : m.summaries) words += 1 + TextWords(s);
    for (const auto& a : m.alerts) {
      words += 6 + TextWords(a.version_id) + TextWords(a.drift_type) +
               TextWords(a.detector);
    }
    return words;
  }

  static void Encode(const DriftReport& m, BodyBuilder body) {
    auto b = body.initDriftReport();
    b.setReportedAtS(m.reported_at_s);
    auto summaries = b.initSummaries(static_cast<unsigned>(m.summaries.size()));
    for (size_t i = 0; i < m.summaries.size(); ++i) {
      summaries.set(static_cast<unsigned>(i), AsText(m.summaries[i]));
    }
    auto alerts = b.initAlerts(static_cast<unsigned>(m.alerts.size()));
    for (size_t i = 0; i < m.alerts.size(); ++i) {
      auto a = alerts[static_cast<unsigned>(i)];
      a.setVersionId(AsText(m.alerts[i].version_id));
      a.setDriftType(AsText(m.alerts[i].drift_type));
      a.setSeverity(m.alerts[i].severity);
      a.setDetector(AsText(m.alerts[i].detector));
      a.setTimestampS(m.alerts[i].timestamp_s);
    }
  }

  static DriftReport Decode(BodyReader body, Checker& c) {
    const auto r = body.getDriftReport();
    DriftReport m;
    m.reported_at_s = r.getReportedAtS();
    const auto summaries = r.getSummaries();
    if (c.Count(summaries.size(), kMaxDriftSummaries, "summaries")) {
      for (unsigned i = 0; i < summaries.size() && !c.failed(); ++i) {
        c.SetItem("summary", i);
        c.Text(summaries[i], kMaxDriftSummaryBytes, "json",
               m.summaries.emplace_back());
      }
      c.ClearItem();
    }
    const auto alerts = r.getAlerts();
    if (c.Count(alerts.size(), kMaxDriftAlerts, "alerts")) {
      for (unsigned i = 0; i < alerts.size() && !c.failed(); ++i) {
        auto a = alerts[i];
        c.SetItem("alert", i);
        DriftAlertNote& note = m.alerts.emplace_back();
        c.Text(a.getVersionId(), kMaxIdBytes, "version id", note.version_id);
        c.Text(a.getDriftType(), kMaxIdBytes, "drift type", note.drift_type);
        note.severity = a.getSeverity();
        c.Text(a.getDetector(), kMaxIdBytes, "detector", note.detector);
        note.timestamp_s = a.getTimestampS();
      }
      c.ClearItem();
    }
    return m;
  }
};

struct AuditCheckpointCodec {
  using Type = AuditCheckpoint;
  static constexpr Which kWhich = Which::AUDIT_CHECKPOINT;

  static size_t EstimateWords(const AuditCheckpoint& m) {
    return TextWords(m.checkpoint_json);
  }

  static void Encode(const AuditCheckpoint& m, BodyBuilder body) {
    body.initAuditCheckpoint().setCheckpointJson(AsText(m.checkpoint_json));
  }

  static AuditCheckpoint Decode(BodyReader body, Checker& c) {
    AuditCheckpoint m;
    c.Text(body.getAuditCheckpoint().getCheckpointJson(), kMaxCheckpointBytes,
           "checkpoint", m.checkpoint_json);
    return m;
  }
};

constexpr MessageCodec kServingCodecs[] = {
    MakeCodec<EvaluationReportCodec>(), MakeCodec<DeploymentUpdateCodec>(),
    MakeCodec<DeploymentAckCodec>(),    MakeCodec<DriftReportCodec>(),
    MakeCodec<AuditCheckpointCodec>(),
};

}  // namespace

std::span<const MessageCodec> ServingCodecs() { return kServingCodecs; }

}  // namespace cls::protocol::codec
