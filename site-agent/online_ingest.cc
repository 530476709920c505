#include "site-agent/online_ingest.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/model.h"
#include "crypto/aead.h"
#include "crypto/random.h"
#include "crypto/sha256.h"
#include "site-agent/state_store.h"

namespace cls::site {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kStateMagic = "CLSIS001";
constexpr std::string_view kStateFile = "state.enc";
constexpr std::string_view kOnlineStatusFile = "online.json";

Result<std::string> ReadWholeFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Unavailable("cannot read " + path.string());
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return Unavailable("cannot read " + path.string());
  return std::move(buffer).str();
}

// The associated data binds the state to this site and format.
std::string StateAssociatedData(const std::string& site_id) {
  return "cls-online-state-v1|" + site_id;
}

void PutU64(Bytes& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
bool GetU64(ByteSpan in, size_t& pos, uint64_t& v) {
  if (in.size() - pos < 8) return false;
  v = 0;
  for (int i = 0; i < 8; ++i)
    v |= static_cast<uint64_t>(in[pos + i]) << (8 * i);
  pos += 8;
  return true;
}

// The raw lines of `content` (1-based line numbers, as LoadCsv reports).
std::vector<std::string_view> Lines(std::string_view content) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start <= content.size()) {
    size_t end = content.find('\n', start);
    if (end == std::string_view::npos) end = content.size();
    std::string_view line = content.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (end == content.size()) break;
    start = end + 1;
  }
  return lines;
}

core::OnlineLearningConfig LearningConfig(const OnlineConfig& c,
                                          const RecordPrivacyLedger* dp) {
  core::OnlineLearningConfig cfg;
  if (dp) cfg.dp = dp->DpSgd();
  cfg.learning_rate = c.learning_rate;
  cfg.batch_size = static_cast<int>(c.batch_size);
  cfg.retention_rate = c.retention_rate;
  cfg.reservoir_capacity = static_cast<int>(c.reservoir_size);
  cfg.rehearsal_samples = static_cast<int>(c.rehearsal_samples);
  return cfg;
}

}  // namespace

Result<Key32> LoadOrCreateKey(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    fs::create_directories(path.parent_path(), ec);
    if (ec) return Unavailable("cannot create " + path.parent_path().string());
    fs::permissions(path.parent_path(), fs::perms::owner_all,
                    fs::perm_options::replace, ec);
    const Key32 key = crypto::RandomKey32();
    if (auto s = WriteFileAtomically(path, ByteSpan(key.data(), key.size()));
        !s) {
      return std::unexpected(s.error());
    }
    spdlog::info("created the online-learning state key {}", path.string());
    return key;
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    return InvalidArgument("key file " + path.string() +
                           " is readable by others; chmod 600 it");
  }
  auto content = ReadWholeFile(path);
  if (!content) return std::unexpected(content.error());
  if (content->size() != 32) {
    return InvalidArgument("key file " + path.string() + " must hold 32 bytes");
  }
  Key32 key;
  std::memcpy(key.data(), content->data(), key.size());
  return key;
}

OnlineIngest::OnlineIngest(const OnlineConfig& config, std::string site_id,
                           const fs::path& data_dir, LocalModel& model,
                           Key32 key)
    : config_(config),
      site_id_(std::move(site_id)),
      dir_(data_dir / "online"),
      model_(model),
      key_(key) {}

Result<std::unique_ptr<OnlineIngest>> OnlineIngest::Open(
    const OnlineConfig& config, const std::string& site_id,
    const fs::path& data_dir, LocalModel& model,
    RecordPrivacyLedger* record_privacy) {
  std::error_code ec;
  for (const fs::path& d :
       {fs::path(config.inbox), data_dir / "online" / "processed",
        data_dir / "online" / "quarantine"}) {
    fs::create_directories(d, ec);
    if (ec)
      return Unavailable("cannot create " + d.string() + ": " + ec.message());
  }
  auto key = LoadOrCreateKey(config.key_file);
  if (!key) return std::unexpected(key.error());
  std::unique_ptr<OnlineIngest> ingest(
      new OnlineIngest(config, site_id, data_dir, model, *key));
  ingest->record_privacy_ = record_privacy;
  if (auto s = ingest->LoadState(); !s) return std::unexpected(s.error());
  return ingest;
}

Status OnlineIngest::LoadState() {
  const fs::path path = dir_ / kStateFile;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    // The site's default model (zeros) until a global model is deployed.
    auto initial = core::Model::Create(model_.DefaultSpec(), 1);
    if (!initial) return std::unexpected(initial.error());
    auto system = core::OnlineLearningSystem::Create(
        *initial, LearningConfig(config_, record_privacy_));
    if (!system) return std::unexpected(system.error());
    system_ = std::move(*system);
    return {};
  }
  auto sealed = ReadWholeFile(path);
  if (!sealed) return std::unexpected(sealed.error());
  const std::string aad = StateAssociatedData(site_id_);
  auto plain = crypto::AesGcmOpen(key_, AsBytes(*sealed), AsBytes(aad));
  if (!plain) {
    return DataLoss(path.string() + " cannot be decrypted with the key in " +
                    config_.key_file +
                    " (wrong key, or the file was altered); it was left as it "
                    "is");
  }
  const ByteSpan in(*plain);
  size_t pos = kStateMagic.size();
  uint64_t ledger_size = 0;
  if (in.size() < kStateMagic.size() ||
      std::memcmp(in.data(), kStateMagic.data(), kStateMagic.size()) != 0 ||
      !GetU64(in, pos, ledger_size) || in.size() - pos < ledger_size) {
    return DataLoss(path.string() + ": not an online-learning state");
  }
  try {
    auto j = nlohmann::json::parse(std::string_view(
        reinterpret_cast<const char*>(in.data() + pos), ledger_size));
    for (const auto& e : j) {
      ledger_.push_back({e.at("name"), e.at("sha256"), e.at("processed_at"),
                         e.at("rows_accepted"), e.at("rows_rejected"),
                         e.at("error")});
    }
  } catch (const nlohmann::json::exception&) {
    return DataLoss(path.string() + ": ledger unreadable");
  }
  pos += ledger_size;
  // The state says which model it learned (the last deployed kind); it must
  // still fit this site's [data] (features, label_classes).
  auto spec = core::OnlineLearningSystem::StoredSpec(in.subspan(pos));
  if (!spec) return std::unexpected(spec.error());
  if (auto s = model_.CheckSpec(*spec); !s) {
    return DataLoss(path.string() + ": the online model stored there (" +
                    spec->ToString() + ") does not fit this site's [data]: " +
                    s.error().message + "; it was left as it is");
  }
  auto system = core::OnlineLearningSystem::Deserialize(
      in.subspan(pos), *spec, LearningConfig(config_, record_privacy_));
  if (!system) return std::unexpected(system.error());
  system_ = std::move(*system);

  // Cases that arrived before the restart rejoin the train rows.
  uint64_t rows = 0;
  for (const InboxFileRecord& r : ledger_) {
    if (r.rows_accepted == 0) continue;
    const fs::path kept =
        dir_ / "processed" / (r.sha256.substr(0, 16) + "-" + r.name);
    auto loaded = core::LoadCsv(kept.string(), model_.schema());
    if (!loaded) {
      spdlog::warn("online: processed file {} unavailable: {}", r.name,
                   loaded.error().message);
      continue;
    }
    model_.AddTrainingRows(loaded->table);
    rows += loaded->table.rows.size();
  }
  spdlog::info(
      "online learning resumed: {} files, {} updates, {} arrived rows back in "
      "the train rows",
      ledger_.size(), system_->history().size(), rows);
  return {};
}

Status OnlineIngest::SaveState() {
  nlohmann::json j = nlohmann::json::array();
  for (const InboxFileRecord& r : ledger_) {
    j.push_back({{"name", r.name},
                 {"sha256", r.sha256},
                 {"processed_at", r.processed_at},
                 {"rows_accepted", r.rows_accepted},
                 {"rows_rejected", r.rows_rejected},
                 {"error", r.error}});
  }
  const std::string ledger = j.dump();
  Bytes plain(kStateMagic.begin(), kStateMagic.end());
  PutU64(plain, ledger.size());
  plain.insert(plain.end(), ledger.begin(), ledger.end());
  const std::vector<uint8_t> system = system_->Serialize();
  plain.insert(plain.end(), system.begin(), system.end());
  const std::string aad = StateAssociatedData(site_id_);
  auto sealed = crypto::AesGcmSeal(key_, plain, AsBytes(aad));
  std::fill(plain.begin(), plain.end(), 0);
  if (!sealed) return std::unexpected(sealed.error());
  return WriteFileAtomically(dir_ / kStateFile, *sealed);
}

void OnlineIngest::MoveAway(const fs::path& from, const fs::path& to) const {
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec) {
    spdlog::error("online: cannot move {} to {}: {}", from.filename().string(),
                  to.parent_path().string(), ec.message());
  }
}

Result<int> OnlineIngest::ProcessInbox() {
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(config_.inbox, ec)) {
    const fs::path& p = entry.path();
    if (entry.is_regular_file() && p.extension() == ".csv" &&
        !p.filename().string().starts_with(".")) {
      files.push_back(p);
    }
  }
  if (ec) return Unavailable("cannot list the inbox " + config_.inbox);
  std::sort(files.begin(), files.end());
  int taken = 0;
  for (const fs::path& file : files) {
    if (auto s = ProcessFile(file); !s) {
      // The state could not be written: leave the file for the next poll.
      spdlog::error("online: {}: {}", file.filename().string(),
                    s.error().message);
      return std::unexpected(s.error());
    }
    ++taken;
  }
  if (taken > 0) (void)WriteStatus();
  return taken;
}

Status OnlineIngest::ProcessFile(const fs::path& path) {
  const std::string name = path.filename().string();
  auto content = ReadWholeFile(path);
  if (!content) return std::unexpected(content.error());
  const std::string sha = crypto::Sha256Hex(AsBytes(*content));
  const fs::path processed =
      dir_ / "processed" / (sha.substr(0, 16) + "-" + name);
  if (std::any_of(ledger_.begin(), ledger_.end(),
                  [&](const InboxFileRecord& r) { return r.sha256 == sha; })) {
    spdlog::info("online: {} was already processed; moving it away", name);
    MoveAway(path, processed);
    return {};
  }

  InboxFileRecord record{
      name, sha, Iso8601Utc(std::chrono::system_clock::now()), 0, 0, ""};
  auto loaded = core::LoadCsv(path.string(), model_.schema());
  if (!loaded) {
    // The whole file is unusable (e.g. a column missing from its header).
    record.error = loaded.error().message;
    ledger_.push_back(record);
    if (auto s = SaveState(); !s) {
      ledger_.pop_back();
      return s;
    }
    spdlog::warn("online: {} quarantined as a whole: {}", name, record.error);
    MoveAway(path, dir_ / "quarantine" / name);
    return {};
  }
  record.rows_accepted = loaded->table.rows.size();
  record.rows_rejected = loaded->rejected.size();
  if (!loaded->rejected.empty()) {
    // The bad rows stay on the site, with their reasons, for the IT team.
    const auto lines = Lines(*content);
    std::string bad = "line,reason,row\n";
    for (const core::RejectedRow& r : loaded->rejected) {
      const size_t i = static_cast<size_t>(r.line - 1);
      bad += std::to_string(r.line) + ",\"" + r.reason + "\"," +
             std::string(i < lines.size() ? lines[i] : "") + "\n";
    }
    const fs::path q = dir_ / "quarantine" / (name + ".rejected-rows.csv");
    if (auto s = WriteFileAtomically(q, AsBytes(bad)); !s) return s;
    for (const core::RejectedRow& r : loaded->rejected) {
      spdlog::warn("online: {} line {} quarantined: {}", name, r.line,
                   r.reason);
    }
  }
  std::optional<core::TrainingUpdate> update;
  if (record.rows_accepted > 0) {
    const Eigen::MatrixXf x = model_.Features(loaded->table);
    const Eigen::VectorXf y = model_.Labels(loaded->table);
    Result<core::TrainingUpdate> u = ChargeOnlineUpdate(x.rows(), name);
    if (u) u = system_->IncrementalUpdate(x, y);
    if (!u) {
      record.error = u.error().message;
    } else {
      update = *u;
    }
  }
  ledger_.push_back(record);
  if (auto s = SaveState(); !s) {
    ledger_.pop_back();
    return s;
  }
  if (record.rows_accepted > 0 && record.error.empty()) {
    model_.AddTrainingRows(loaded->table);
  }
  MoveAway(path, processed);
  if (update) {
    last_update_ = update;
    spdlog::info(
        "online: {} learned: {} new rows ({} rejected), update {}, "
        "prequential accuracy {:.3f}, training loss {:.4f}",
        name, update->new_samples, record.rows_rejected, update->update_id,
        update->validation_accuracy, update->training_loss);
  } else {
    spdlog::info("online: {}: {} rows accepted, {} rejected{}", name,
                 record.rows_accepted, record.rows_rejected,
                 record.error.empty() ? "" : "; " + record.error);
  }
  return {};
}

Result<core::TrainingUpdate> OnlineIngest::ChargeOnlineUpdate(
    Eigen::Index rows, const std::string& name) {
  if (!record_privacy_) return core::TrainingUpdate{};
  const core::OnlineLearningConfig& c = system_->config();
  core::TrainConfig train;
  train.epochs = c.epochs_per_update;
  train.batch_size = c.batch_size;
  train.dp = c.dp;
  if (auto s = record_privacy_->Charge(system_->TrainingRows(rows), train,
                                       "online update of " + name);
      !s) {
    spdlog::error(
        "online: {}; online updates stop until the budget is "
        "raised or reset",
        s.error().message);
    return std::unexpected(s.error());
  }
  return core::TrainingUpdate{};
}

Status OnlineIngest::Deploy(std::span<const float> global_parameters,
                            const std::string& spec_text) {
  core::ModelSpec spec = model_.DefaultSpec();
  if (!spec_text.empty()) {
    auto parsed = core::ModelSpec::Parse(spec_text);
    if (!parsed) return std::unexpected(parsed.error());
    spec = *parsed;
  }
  if (auto s = model_.CheckSpec(spec); !s) return s;
  auto global = core::Model::FromParameters(spec, global_parameters);
  if (!global) return std::unexpected(global.error());
  // With DP-SGD the anchor's weights must not come from the patients' rows
  // (the Fisher is a function of them): a unit Fisher, data-independent.
  auto fisher = record_privacy_ ? Result<std::vector<float>>(std::vector<float>(
                                      global_parameters.size(), 1.0f))
                                : global->DiagonalFisher(
                                      model_.x_train(),
                                      core::ClassIndices(model_.y_train()));
  if (!fisher) return std::unexpected(fisher.error());
  if (auto s = system_->Deploy(*global, *fisher); !s) return s;
  if (auto s = SaveState(); !s) return s;
  return WriteStatus();
}

std::string OnlineIngest::StatusJson() const {
  const core::UpdateStatistics s = system_->GetUpdateStatistics();
  uint64_t accepted = 0, rejected = 0, refused = 0;
  for (const InboxFileRecord& r : ledger_) {
    accepted += r.rows_accepted;
    rejected += r.rows_rejected;
    refused += r.error.empty() ? 0 : 1;
  }
  nlohmann::json j = {
      {"files_processed", ledger_.size()},
      {"files_refused", refused},
      {"rows_accepted", accepted},
      {"rows_rejected", rejected},
      {"total_updates", s.total_updates},
      {"total_samples_processed", s.total_samples_processed},
      {"average_loss", s.average_loss},
      {"latest_accuracy", s.latest_accuracy},
      {"accuracy_trend", s.accuracy_trend},
      {"trend_p_value", s.trend_p_value},
      {"reservoir_size", system_->reservoir().size()},
      {"model", system_->model().spec().ToString()},
      {"updated_at", Iso8601Utc(std::chrono::system_clock::now())}};
  return j.dump(2) + "\n";
}

Status OnlineIngest::WriteStatus() const {
  return WriteFileAtomically(dir_ / kOnlineStatusFile, AsBytes(StatusJson()));
}

}  // namespace cls::site
