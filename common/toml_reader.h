#ifndef CLS_COMMON_TOML_READER_H_
#define CLS_COMMON_TOML_READER_H_

#include <toml++/toml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/error.h"

namespace cls {

// How a config's errors read. Every message names the key by its full path
// ('data.columns[0].kind').
struct TomlStyle {
  std::string prefix;  // put before every message, e.g. "config: "
  // true: the line of the offending value, the type it must have and, for
  // an unknown key, the keys allowed there. false: short messages
  // ("'min_sites' has the wrong type", "unknown key 'x'").
  bool detailed = true;
};

// One table of a TOML config file, read key by key with the checks every
// config needs: a wrong type is an error (never a silent default), numbers
// are finite, integers are range-checked, and a key the schema does not
// list (a typo such as "postive_above" that would otherwise fall back to a
// default) is refused by CheckKeys(). The one TOML reader of the project
// (coordinator and site agent configs).
// Borrows `table`; a plain value otherwise, not thread-safe.
class TomlTable {
 public:
  // `path` is the table's name in messages ("" for the root, "data",
  // "data.columns[0]"); `keys` every key the schema allows in it.
  TomlTable(const toml::table& table, std::string path,
            std::vector<std::string_view> keys, TomlStyle style = {});

  // InvalidArgument naming the first key not in `keys`.
  Status CheckKeys() const;

  // Each getter: nullopt when the key is absent; InvalidArgument when it
  // holds another type.
  Result<std::optional<std::string>> String(std::string_view key) const;
  // Absent or empty: "missing required key 'x'".
  Result<std::string> RequiredString(std::string_view key) const;
  // Integers are accepted where a real number is expected
  // ("positive_above = 0"); inf and nan are not.
  Result<std::optional<double>> Number(std::string_view key) const;
  Result<std::optional<int64_t>> Integer(std::string_view key) const;
  // Also "'x' must be between MIN and MAX" outside [min, max].
  Result<std::optional<int64_t>> Integer(std::string_view key, int64_t min,
                                         int64_t max) const;
  Result<std::optional<bool>> Bool(std::string_view key) const;
  // nullptr when absent.
  Result<const toml::table*> Table(std::string_view key) const;
  // The raw node (arrays), nullptr when absent.
  const toml::node* Node(std::string_view key) const { return table_.get(key); }

  // Reads `key` into `out` by out's type when present; `out` keeps its
  // value (the default) when absent. An integer that does not fit `T` is
  // "'x' is out of range".
  template <typename T>
  Status Read(std::string_view key, T& out) const;

  // "'path.key'".
  std::string Name(std::string_view key) const;
  // " (line N)" in detailed messages, "" otherwise.
  std::string Where(const toml::node& node) const;
  // "'path.key' (line N) must be EXPECTED" ("... has the wrong type" when
  // not detailed).
  std::unexpected<Error> WrongType(const toml::node& node, std::string_view key,
                                   std::string_view expected) const;
  // InvalidArgument with the style's prefix.
  std::unexpected<Error> Invalid(const std::string& message) const;

  const toml::table& table() const { return table_; }
  const std::string& path() const { return path_; }
  const TomlStyle& style() const { return style_; }

 private:
  const toml::table& table_;
  std::string path_;
  std::vector<std::string_view> keys_;
  TomlStyle style_;
};

// Parses TOML text. A syntax error is InvalidArgument
// "ORIGIN:LINE: DESCRIPTION (line LINE, column COLUMN)".
Result<toml::table> ParseToml(std::string_view text, const std::string& origin);

// Reads a whole config file: NotFound "config file 'PATH' not found",
// InvalidArgument when it is not a regular file, Unavailable when unreadable.
Result<std::string> ReadConfigFile(const std::string& path);

template <typename T>
Status TomlTable::Read(std::string_view key, T& out) const {
  if constexpr (std::is_same_v<T, std::string>) {
    auto v = String(key);
    if (!v) return std::unexpected(v.error());
    if (*v) out = std::move(**v);
  } else if constexpr (std::is_same_v<T, bool>) {
    auto v = Bool(key);
    if (!v) return std::unexpected(v.error());
    if (*v) out = **v;
  } else if constexpr (std::is_floating_point_v<T>) {
    auto v = Number(key);
    if (!v) return std::unexpected(v.error());
    if (*v) out = static_cast<T>(**v);
  } else {
    static_assert(std::is_integral_v<T>, "string, bool, number or integer");
    auto v = Integer(key);
    if (!v) return std::unexpected(v.error());
    if (*v) {
      if (!std::in_range<T>(**v))
        return Invalid(Name(key) + " is out of range");
      out = static_cast<T>(**v);
    }
  }
  return {};
}

}  // namespace cls

#endif  // CLS_COMMON_TOML_READER_H_
