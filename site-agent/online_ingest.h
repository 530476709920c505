#ifndef CLS_SITE_AGENT_ONLINE_INGEST_H_
#define CLS_SITE_AGENT_ONLINE_INGEST_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "core/online_learning.h"
#include "site-agent/config.h"
#include "site-agent/local_model.h"
#include "site-agent/record_privacy.h"

namespace cls::site {

// One inbox file, as the ledger remembers it (no row, no value).
struct InboxFileRecord {
  std::string name;
  std::string sha256;  // of the file's bytes: what "processed once" keys on
  std::string processed_at;
  uint64_t rows_accepted = 0;
  uint64_t rows_rejected = 0;
  std::string error;  // a file refused as a whole (e.g. missing columns)
};

// Continuous learning at the site: new cases arrive as CSV files in the
// inbox (one per day, say). Each file is processed exactly once, also across
// a crash or restart:
//   1. read, hashed (SHA-256); a hash already in the ledger is not learned
//      from again (the file is just moved away);
//   2. parsed against the [data] schema; bad rows are written, with their
//      line number and reason, to online/quarantine/ on the site, and only
//      counted in logs;
//   3. the accepted rows update the site's online model
//      (core::OnlineLearningSystem: prequential score, mini-batch SGD, the
//      elastic anchor to the last global model, reservoir rehearsal) and join
//      the train rows for the next federated round. The online model is of
//      the kind the federation deployed (logistic or softmax regression, an
//      MLP; the site's default model until the first global model), labels
//      mapped through [data] label_classes as local training maps them;
//   4. the ledger entry and the whole learning state are written in ONE
//      atomic, encrypted file (AES-256-GCM, online/state.enc);
//   5. only then is the file moved to online/processed/.
// A crash before 4 reprocesses the file; after 4, step 1 recognises it.
//
// The state holds patient rows (reservoir, holdout), hence the encryption;
// its key is a 32-byte file created 0600 on first start (key_file).
// Not thread-safe; used from the agent's io thread.
class OnlineIngest {
 public:
  static Result<std::unique_ptr<OnlineIngest>> Open(
      const OnlineConfig& config, const std::string& site_id,
      const std::filesystem::path& data_dir, LocalModel& model,
      RecordPrivacyLedger* record_privacy = nullptr);

  // Processes every new *.csv in the inbox, oldest name first. Returns how
  // many files were taken. A bad file never stops the others.
  Result<int> ProcessInbox();

  // A new global model arrived: the online model restarts from it, anchored
  // with the model kind's diagonal Fisher on the site's train rows (a unit
  // Fisher under DP-SGD). `spec` is its core::ModelSpec text; empty (an
  // older coordinator) means the site's default model. InvalidArgument when
  // the spec does not fit this site's data or the parameters the spec.
  Status Deploy(std::span<const float> global_parameters,
                const std::string& spec = {});

  const std::vector<InboxFileRecord>& ledger() const { return ledger_; }
  const core::OnlineLearningSystem& system() const { return *system_; }
  // online.json for the hospital's IT team: counts and learning statistics.
  std::string StatusJson() const;

 private:
  OnlineIngest(const OnlineConfig& config, std::string site_id,
               const std::filesystem::path& data_dir, LocalModel& model,
               Key32 key);
  Status LoadState();
  Status SaveState();
  Status ProcessFile(const std::filesystem::path& path);
  // [privacy] dp_sgd: charges the update of `rows` new rows to the ledger;
  // ResourceExhausted (logged) when the budget does not allow it.
  Result<core::TrainingUpdate> ChargeOnlineUpdate(Eigen::Index rows,
                                                  const std::string& name);
  Status WriteStatus() const;
  void MoveAway(const std::filesystem::path& from,
                const std::filesystem::path& to) const;

  OnlineConfig config_;
  std::string site_id_;
  std::filesystem::path dir_;  // data_dir/online
  LocalModel& model_;
  Key32 key_;
  // [privacy] dp_sgd: updates run DP-SGD, each charged before it trains.
  RecordPrivacyLedger* record_privacy_ = nullptr;
  std::optional<core::OnlineLearningSystem> system_;
  std::vector<InboxFileRecord> ledger_;
  std::optional<core::TrainingUpdate> last_update_;
};

// Reads the 32-byte key, or creates it (0600, parent 0700) if missing.
// InvalidArgument if it exists with another size or is readable by others.
Result<Key32> LoadOrCreateKey(const std::filesystem::path& path);

}  // namespace cls::site

#endif  // CLS_SITE_AGENT_ONLINE_INGEST_H_
