#include "common/toml_reader.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace cls {

TomlTable::TomlTable(const toml::table& table, std::string path,
                     std::vector<std::string_view> keys, TomlStyle style)
    : table_(table),
      path_(std::move(path)),
      keys_(std::move(keys)),
      style_(std::move(style)) {}

std::string TomlTable::Name(std::string_view key) const {
  return "'" +
         (path_.empty() ? std::string(key) : path_ + "." + std::string(key)) +
         "'";
}

std::string TomlTable::Where(const toml::node& node) const {
  const auto line = node.source().begin.line;
  if (!style_.detailed || line == 0) return "";
  return " (line " + std::to_string(line) + ")";
}

std::unexpected<Error> TomlTable::Invalid(const std::string& message) const {
  return InvalidArgument(style_.prefix + message);
}

std::unexpected<Error> TomlTable::WrongType(const toml::node& node,
                                            std::string_view key,
                                            std::string_view expected) const {
  if (!style_.detailed) return Invalid(Name(key) + " has the wrong type");
  return Invalid(Name(key) + Where(node) + " must be " + std::string(expected));
}

Status TomlTable::CheckKeys() const {
  for (const auto& [key, node] : table_) {
    if (std::find(keys_.begin(), keys_.end(), key.str()) != keys_.end()) {
      continue;
    }
    std::string message = "unknown key " + Name(key.str());
    if (style_.detailed) {
      std::string names;
      for (auto name : keys_) {
        names += (names.empty() ? "" : ", ") + std::string(name);
      }
      message += Where(node) + "; allowed here: " + names;
    }
    return Invalid(message);
  }
  return {};
}

Result<std::optional<std::string>> TomlTable::String(
    std::string_view key) const {
  const toml::node* node = table_.get(key);
  if (!node) return std::nullopt;
  if (!node->is_string()) return WrongType(*node, key, "a string");
  return node->value<std::string>();
}

Result<std::string> TomlTable::RequiredString(std::string_view key) const {
  auto value = String(key);
  if (!value) return std::unexpected(value.error());
  if (!*value || (*value)->empty()) {
    return Invalid("missing required key " + Name(key));
  }
  return std::move(**value);
}

Result<std::optional<double>> TomlTable::Number(std::string_view key) const {
  const toml::node* node = table_.get(key);
  if (!node) return std::nullopt;
  if (!node->is_number()) return WrongType(*node, key, "a number");
  const double value = *node->value<double>();
  if (!std::isfinite(value)) return WrongType(*node, key, "finite");
  return value;
}

Result<std::optional<int64_t>> TomlTable::Integer(std::string_view key) const {
  const toml::node* node = table_.get(key);
  if (!node) return std::nullopt;
  if (!node->is_integer()) return WrongType(*node, key, "a whole number");
  return node->value<int64_t>();
}

Result<std::optional<int64_t>> TomlTable::Integer(std::string_view key,
                                                  int64_t min,
                                                  int64_t max) const {
  auto value = Integer(key);
  if (!value) return value;
  if (*value && (**value < min || **value > max)) {
    return Invalid(Name(key) + " must be between " + std::to_string(min) +
                   " and " + std::to_string(max));
  }
  return value;
}

Result<std::optional<bool>> TomlTable::Bool(std::string_view key) const {
  const toml::node* node = table_.get(key);
  if (!node) return std::nullopt;
  if (!node->is_boolean()) return WrongType(*node, key, "true or false");
  return node->value<bool>();
}

Result<const toml::table*> TomlTable::Table(std::string_view key) const {
  const toml::node* node = table_.get(key);
  if (!node) return nullptr;
  if (!node->is_table()) return WrongType(*node, key, "a table");
  return node->as_table();
}

Result<toml::table> ParseToml(std::string_view text,
                              const std::string& origin) {
  try {
    return toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    return InvalidArgument(origin + ":" + std::to_string(at.line) + ": " +
                           std::string(e.description()) + " (line " +
                           std::to_string(at.line) + ", column " +
                           std::to_string(at.column) + ")");
  }
}

Result<std::string> ReadConfigFile(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return NotFound("config file '" + path + "' not found");
  }
  if (!fs::is_regular_file(path, ec)) {
    return InvalidArgument("config file '" + path + "' is not a regular file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Unavailable("config file '" + path + "' cannot be read");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace cls
