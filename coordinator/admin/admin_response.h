#ifndef CLS_COORDINATOR_ADMIN_ADMIN_RESPONSE_H_
#define CLS_COORDINATOR_ADMIN_ADMIN_RESPONSE_H_

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace cls::coordinator {

// One answer of the admin API: an HTTP status and a JSON body.
struct AdminResponse {
  int status = 200;
  nlohmann::json body;
};

// The one error shape every route answers with (docs/admin-api.md):
// {"error": {"code": "not_found", "message": ...}} with the status that
// matches the code (400, 401, 403, 404, 409, 429, 503, else 500).
int HttpStatus(ErrorCode code);
AdminResponse ErrorResponse(const Error& error);
AdminResponse BadRequest(const std::string& message);

// Absent values are null, not "", so clients need only one test.
nlohmann::json OrNull(const std::string& s);

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_ADMIN_ADMIN_RESPONSE_H_
