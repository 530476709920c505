#include "tests/integration/stored_model.h"

#include <gtest/gtest.h>

#include <cstring>

#include "common/sqlite_db.h"
#include "coordinator/storage/model_vault.h"
#include "coordinator/versions/kek_file.h"

namespace cls::testing {

std::vector<StoredModel> ReadModels(const std::string& data_dir) {
  std::vector<StoredModel> out;
  auto kek = coordinator::ReadKekFile(data_dir + "/model.kek");
  EXPECT_TRUE(kek.has_value()) << kek.error().message;
  if (!kek) return out;
  auto db = SqliteDb::Open(data_dir + "/coordinator.db");
  EXPECT_TRUE(db.has_value());
  if (!db) return out;
  auto stmt = (*db)->Prepare(
      "SELECT version_id, parent_version, hash, model_type, artifact, "
      "wrapped_key, kek_id FROM models ORDER BY sequence DESC");
  EXPECT_TRUE(stmt.has_value());
  if (!stmt) return out;
  const coordinator::ModelVault vault(*kek);
  while (stmt->Step().value_or(false)) {
    StoredModel m;
    m.version_id = stmt->Text(0);
    m.parent_version = stmt->Text(1);
    const coordinator::ArtifactBinding binding{m.version_id, stmt->Text(2),
                                               stmt->Text(3)};
    auto plain =
        vault.Open(binding, {stmt->Blob(4), stmt->Blob(5), stmt->Text(6)});
    EXPECT_TRUE(plain.has_value()) << plain.error().message;
    if (plain) {
      m.parameters.resize(plain->size() / 4);
      std::memcpy(m.parameters.data(), plain->data(), m.parameters.size() * 4);
    }
    out.push_back(std::move(m));
  }
  return out;
}

StoredModel ReadLatestModel(const std::string& data_dir) {
  auto all = ReadModels(data_dir);
  if (all.empty()) {
    ADD_FAILURE() << "no model in " << data_dir;
    return {};
  }
  return all.front();
}

}  // namespace cls::testing
