#include "coordinator/admin_response.h"

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

std::optional<nlohmann::json> ParseBodyObject(const std::string& body) {
  if (body.empty()) return nlohmann::json::object();
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

std::optional<std::string> ParseReason(const nlohmann::json& body) {
  constexpr size_t kMaxReasonBytes = 200;
  if (!body.contains("reason")) return std::string();
  const auto& reason = body["reason"];
  if (!reason.is_string() ||
      reason.get<std::string>().size() > kMaxReasonBytes) {
    return std::nullopt;
  }
  return reason.get<std::string>();
}

nlohmann::json OrNull(const std::string& s) {
  return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
}

}  // namespace cls::coordinator
