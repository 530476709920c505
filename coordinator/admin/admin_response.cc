#include "coordinator/admin/admin_response.h"

namespace cls::coordinator {
namespace {

std::string CodeName(ErrorCode code) {
  std::string name(ErrorCodeName(code));
  for (char& c : name)
    if (c == ' ') c = '_';
  return name;
}

}  // namespace

int HttpStatus(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kUnauthenticated:
      return 401;
    case ErrorCode::kPermissionDenied:
      return 403;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kFailedPrecondition:
    case ErrorCode::kAborted:
      return 409;
    case ErrorCode::kResourceExhausted:
      return 429;
    case ErrorCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

AdminResponse ErrorResponse(const Error& error) {
  return {HttpStatus(error.code),
          {{"error",
            {{"code", CodeName(error.code)}, {"message", error.message}}}}};
}

AdminResponse BadRequest(const std::string& message) {
  return ErrorResponse({ErrorCode::kInvalidArgument, message});
}

nlohmann::json OrNull(const std::string& s) {
  return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
}

}  // namespace cls::coordinator
