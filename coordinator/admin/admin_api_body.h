#ifndef CLS_COORDINATOR_ADMIN_ADMIN_API_BODY_H_
#define CLS_COORDINATOR_ADMIN_ADMIN_API_BODY_H_

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace cls::coordinator {

// A POST body of the admin API read as named fields. Every failure is
// InvalidArgument (400) with the message the operator sees; optional
// fields read as nullopt when absent. The one parser every admin_api*.cc
// route uses.
class AdminBody {
 public:
  // An empty body is {}; anything but a JSON object is refused with
  // "body must be a JSON object".
  static Result<AdminBody> Parse(const std::string& body);

  bool Has(std::string_view key) const { return json_.contains(key); }

  // A number (any JSON number), else `error`.
  Result<std::optional<double>> Number(std::string_view key,
                                       const std::string& error) const;
  // A JSON integer that fits an int, else `error`.
  Result<std::optional<int>> Integer(std::string_view key,
                                     const std::string& error) const;
  // A string of at most `max_bytes` (and at least `min_bytes`), else `error`.
  Result<std::optional<std::string>> String(std::string_view key,
                                            size_t min_bytes, size_t max_bytes,
                                            const std::string& error) const;
  // A JSON object, else `error`.
  Result<std::optional<nlohmann::json>> Object(std::string_view key,
                                               const std::string& error) const;
  // The optional "reason" of at most 200 bytes ("" when absent).
  Result<std::string> Reason() const;
  // InvalidArgument "unknown field 'x' (only a, b)" for any other field.
  Status OnlyFields(std::initializer_list<std::string_view> allowed) const;

 private:
  explicit AdminBody(nlohmann::json json) : json_(std::move(json)) {}
  nlohmann::json json_;
};

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_ADMIN_ADMIN_API_BODY_H_
