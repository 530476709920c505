// The admin API's backup route (POST /v1/backup), issue 12. The copy runs
// on the worker pool (BackupService); the route answers when it finished,
// without holding the io thread meanwhile.

#include <map>
#include <nlohmann/json.hpp>

#include "coordinator/admin/admin_api.h"

namespace cls::coordinator {

void AdminApi::AddBackupHandlers(
    std::map<std::string, AsyncHandler>& handlers) {
  handlers["POST /v1/backup"] = [this](const AdminRequest& request,
                                       Reply reply) {
    if (services_.backup == nullptr) {
      return reply(ErrorResponse(
          {ErrorCode::kFailedPrecondition,
           "backups are not configured: set [backup] dir in the "
           "coordinator's config (a folder outside data_dir) and restart"}));
    }
    services_.backup->Create(
        request.actor.name, request.actor.role,
        [reply = std::move(reply)](const Result<BackupResult>& backup) {
          if (!backup) return reply(ErrorResponse(backup.error()));
          reply({200,
                 {{"file", backup->path},
                  {"bytes", backup->bytes},
                  {"sha256", backup->sha256},
                  {"created_at", backup->created_at},
                  {"round_id", backup->round_id},
                  {"duration_ms", backup->duration_ms}}});
        });
  };
}

}  // namespace cls::coordinator
