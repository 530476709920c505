#include "coordinator/admin/admin_api_body.h"

#include <limits>

namespace cls::coordinator {

Result<AdminBody> AdminBody::Parse(const std::string& body) {
  if (body.empty()) return AdminBody(nlohmann::json::object());
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return InvalidArgument("body must be a JSON object");
  }
  return AdminBody(std::move(j));
}

Result<std::optional<double>> AdminBody::Number(
    std::string_view key, const std::string& error) const {
  auto it = json_.find(key);
  if (it == json_.end()) return std::nullopt;
  if (!it->is_number()) return InvalidArgument(error);
  return it->get<double>();
}

Result<std::optional<int>> AdminBody::Integer(std::string_view key,
                                              const std::string& error) const {
  auto it = json_.find(key);
  if (it == json_.end()) return std::nullopt;
  if (!it->is_number_integer()) return InvalidArgument(error);
  return it->get<int>();
}

Result<std::optional<std::string>> AdminBody::String(
    std::string_view key, size_t min_bytes, size_t max_bytes,
    const std::string& error) const {
  auto it = json_.find(key);
  if (it == json_.end()) return std::nullopt;
  if (!it->is_string()) return InvalidArgument(error);
  const auto& text = it->get_ref<const std::string&>();
  if (text.size() < min_bytes || text.size() > max_bytes) {
    return InvalidArgument(error);
  }
  return text;
}

Result<std::optional<nlohmann::json>> AdminBody::Object(
    std::string_view key, const std::string& error) const {
  auto it = json_.find(key);
  if (it == json_.end()) return std::nullopt;
  if (!it->is_object()) return InvalidArgument(error);
  return *it;
}

Result<std::string> AdminBody::Reason() const {
  constexpr size_t kMaxReasonBytes = 200;
  auto reason = String("reason", 0, kMaxReasonBytes,
                       "reason must be a string of at most 200 bytes");
  if (!reason) return std::unexpected(reason.error());
  return reason->value_or("");
}

Status AdminBody::OnlyFields(
    std::initializer_list<std::string_view> allowed) const {
  std::string list;
  for (std::string_view a : allowed) {
    if (!list.empty()) list += ", ";
    list += a;
  }
  for (const auto& [key, value] : json_.items()) {
    bool known = false;
    for (std::string_view a : allowed) known = known || key == a;
    if (!known) {
      return InvalidArgument("unknown field '" + key + "' (only " + list + ")");
    }
  }
  return {};
}

}  // namespace cls::coordinator
