#ifndef CLS_COMMON_ERROR_H_
#define CLS_COMMON_ERROR_H_

#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace cls {

// What the caller should do about a failure (abseil status.h style).
enum class ErrorCode {
  kInvalidArgument,     // bad input: fix the input, do not retry as is
  kNotFound,            // the named thing does not exist
  kAlreadyExists,       // the thing exists already
  kFailedPrecondition,  // fix state first (e.g. approve the site)
  kPermissionDenied,    // the caller may not do this
  kUnauthenticated,     // the caller could not be identified
  kUnavailable,         // transient: retry the call
  kAborted,             // the round/transaction was aborted: retry it
  kDeadlineExceeded,    // a stage deadline passed
  kResourceExhausted,   // a budget or size limit was hit
  kDataLoss,            // stored data is corrupt or was tampered with
  kInternal,            // a bug
};

std::string_view ErrorCodeName(ErrorCode code);

// A failure with a short, specific, human-readable message. Messages never
// contain patient data or key material.
struct Error {
  ErrorCode code;
  std::string message;

  std::string ToString() const {
    return std::string(ErrorCodeName(code)) + ": " + message;
  }
};

// A value or an Error: std::expected<T, Error> (has_value, value, error,
// operator*, ->; `return InvalidArgument(...)`, `return {}`), which cannot
// be dropped silently: ignoring a returned Result is a compile error under
// CLS_WERROR. Where ignoring one is right, say why: `(void)Remove(tmp);  //
// best effort, ...`. (GCC 12's std::expected is not [[nodiscard]].)
template <typename T>
class [[nodiscard]] Result : public std::expected<T, Error> {
 public:
  using std::expected<T, Error>::expected;
  constexpr Result() = default;
  // From a plain std::expected (what its monadic operations return).
  constexpr Result(std::expected<T, Error> other)  // NOLINT: implicit
      : std::expected<T, Error>(std::move(other)) {}
};

// Result<void> is spelled Status where nothing is returned.
using Status = Result<void>;

inline std::unexpected<Error> MakeError(ErrorCode code, std::string message) {
  return std::unexpected(Error{code, std::move(message)});
}
inline std::unexpected<Error> InvalidArgument(std::string m) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(m));
}
inline std::unexpected<Error> NotFound(std::string m) {
  return MakeError(ErrorCode::kNotFound, std::move(m));
}
inline std::unexpected<Error> FailedPrecondition(std::string m) {
  return MakeError(ErrorCode::kFailedPrecondition, std::move(m));
}
inline std::unexpected<Error> PermissionDenied(std::string m) {
  return MakeError(ErrorCode::kPermissionDenied, std::move(m));
}
inline std::unexpected<Error> Unavailable(std::string m) {
  return MakeError(ErrorCode::kUnavailable, std::move(m));
}
inline std::unexpected<Error> Aborted(std::string m) {
  return MakeError(ErrorCode::kAborted, std::move(m));
}
inline std::unexpected<Error> DataLoss(std::string m) {
  return MakeError(ErrorCode::kDataLoss, std::move(m));
}
inline std::unexpected<Error> Internal(std::string m) {
  return MakeError(ErrorCode::kInternal, std::move(m));
}
inline std::unexpected<Error> ResourceExhausted(std::string m) {
  return MakeError(ErrorCode::kResourceExhausted, std::move(m));
}

// Returns the error of `expr` (a Status or Result) from the enclosing
// function, which returns a Status or Result (abseil RETURN_IF_ERROR).
#define CLS_RETURN_IF_ERROR(expr)                             \
  do {                                                        \
    if (auto cls_status_ = (expr); !cls_status_) {            \
      return std::unexpected(std::move(cls_status_).error()); \
    }                                                         \
  } while (0)

#define CLS_CONCAT_INNER_(a, b) a##b
#define CLS_CONCAT_(a, b) CLS_CONCAT_INNER_(a, b)
// `lhs` = the value of the Result `expr`, or return its error
// (abseil ASSIGN_OR_RETURN): CLS_ASSIGN_OR_RETURN(auto row, ReadRow(id));
#define CLS_ASSIGN_OR_RETURN(lhs, expr) \
  CLS_ASSIGN_OR_RETURN_IMPL_(CLS_CONCAT_(cls_result_, __LINE__), lhs, expr)
#define CLS_ASSIGN_OR_RETURN_IMPL_(result, lhs, expr)             \
  auto result = (expr);                                           \
  if (!result) return std::unexpected(std::move(result).error()); \
  lhs = std::move(*result)

inline std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid argument";
    case ErrorCode::kNotFound:
      return "not found";
    case ErrorCode::kAlreadyExists:
      return "already exists";
    case ErrorCode::kFailedPrecondition:
      return "failed precondition";
    case ErrorCode::kPermissionDenied:
      return "permission denied";
    case ErrorCode::kUnauthenticated:
      return "unauthenticated";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kAborted:
      return "aborted";
    case ErrorCode::kDeadlineExceeded:
      return "deadline exceeded";
    case ErrorCode::kResourceExhausted:
      return "resource exhausted";
    case ErrorCode::kDataLoss:
      return "data loss";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "unknown";
}

}  // namespace cls

#endif  // CLS_COMMON_ERROR_H_
