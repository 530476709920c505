#include "coordinator/admin/openapi_spec_reader.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <set>

namespace cls::coordinator {
namespace {

// A line that is neither blank nor a comment, its indentation apart.
struct Line {
  int number = 0;
  size_t indent = 0;
  std::string_view text;  // from the first non-space, trailing space trimmed
};

std::vector<Line> ContentLines(std::string_view yaml) {
  std::vector<Line> lines;
  int number = 0;
  while (!yaml.empty()) {
    const size_t end = std::min(yaml.find('\n'), yaml.size());
    std::string_view text = yaml.substr(0, end);
    yaml.remove_prefix(std::min(end + 1, yaml.size()));
    ++number;
    while (!text.empty() &&
           std::isspace(static_cast<unsigned char>(text.back()))) {
      text.remove_suffix(1);
    }
    const size_t indent = text.find_first_not_of(' ');
    if (indent == std::string_view::npos || text[indent] == '#') continue;
    lines.push_back({number, indent, text.substr(indent)});
  }
  return lines;
}

std::string_view Unquote(std::string_view s) {
  if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') &&
      s.back() == s.front()) {
    return s.substr(1, s.size() - 2);
  }
  return s;
}

// "key: value # note" -> {"key", "value"}; a quoted key may hold a colon.
// False when the line is not a mapping key.
bool SplitKey(std::string_view text, std::string& key, std::string& value) {
  size_t colon = std::string_view::npos;
  if (!text.empty() && (text.front() == '"' || text.front() == '\'')) {
    const size_t close = text.find(text.front(), 1);
    if (close != std::string_view::npos && close + 1 < text.size() &&
        text[close + 1] == ':') {
      colon = close + 1;
    }
  } else {
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == ':' && (i + 1 == text.size() || text[i + 1] == ' ')) {
        colon = i;
        break;
      }
    }
  }
  if (colon == std::string_view::npos) return false;
  key = std::string(Unquote(text.substr(0, colon)));
  std::string_view rest = text.substr(colon + 1);
  if (const size_t note = rest.find(" #"); note != std::string_view::npos) {
    rest = rest.substr(0, note);
  }
  const size_t first = rest.find_first_not_of(' ');
  rest =
      first == std::string_view::npos ? std::string_view() : rest.substr(first);
  while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
  value = std::string(Unquote(rest));
  return true;
}

bool IsMethod(const std::string& key) {
  static constexpr std::array<std::string_view, 8> kMethods = {
      "get", "put", "post", "delete", "options", "head", "patch", "trace"};
  return std::find(kMethods.begin(), kMethods.end(), key) != kMethods.end();
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(c));
  return s;
}

Error At(const Line& line, const std::string& message) {
  return {ErrorCode::kInvalidArgument,
          "openapi line " + std::to_string(line.number) + ": " + message};
}

}  // namespace

std::string NormalizeRoutePattern(std::string_view pattern) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '{') {
      const size_t close = pattern.find('}', i);
      if (close != std::string_view::npos) {
        out += "{}";
        i = close;
        continue;
      }
    }
    out += pattern[i];
  }
  return out;
}

Result<std::vector<SpecOperation>> ReadSpecOperations(std::string_view yaml) {
  const std::vector<Line> lines = ContentLines(yaml);
  auto start = std::find_if(lines.begin(), lines.end(), [](const Line& l) {
    return l.indent == 0 && l.text.starts_with("paths:");
  });
  if (start == lines.end()) {
    return InvalidArgument("openapi: no top-level 'paths:' key");
  }
  if (start->text != "paths:") {
    return std::unexpected(At(*start, "paths must be a block mapping"));
  }
  std::vector<SpecOperation> operations;
  std::set<std::string> seen;
  std::string path;
  size_t path_indent = 0, child_indent = 0, op_indent = 0;
  bool in_operation = false;
  for (auto it = start + 1; it != lines.end() && it->indent > 0; ++it) {
    const Line& line = *it;
    if (path_indent == 0) path_indent = line.indent;
    std::string key, value;
    if (line.indent < path_indent) {
      return std::unexpected(At(line, "indented less than the first path"));
    }
    if (line.indent == path_indent) {
      if (!SplitKey(line.text, key, value)) {
        return std::unexpected(At(line, "expected a path key"));
      }
      if (key.starts_with("x-")) {  // an extension of the Paths object
        path.clear();
        continue;
      }
      if (!key.starts_with("/")) {
        return std::unexpected(At(line, "'" + key + "' is not a path"));
      }
      if (!value.empty()) {
        return std::unexpected(
            At(line, "path " + key + " must be a block mapping"));
      }
      path = NormalizeRoutePattern(key);
      child_indent = 0;
      in_operation = false;
      continue;
    }
    if (path.empty()) continue;  // inside an x- extension
    if (child_indent == 0) child_indent = line.indent;
    if (line.indent < child_indent) {
      return std::unexpected(At(line, "indentation does not match its path"));
    }
    if (line.indent == child_indent) {
      // "- item" here continues the previous key's sequence.
      if (line.text.starts_with("-")) continue;
      if (!SplitKey(line.text, key, value)) {
        return std::unexpected(At(line, "expected a key under " + path));
      }
      in_operation = IsMethod(key);
      if (!in_operation) continue;
      if (!value.empty()) {
        return std::unexpected(At(line, "operation " + key + " " + path +
                                            " must be a block mapping"));
      }
      SpecOperation op{Upper(key), path, "", false, line.number};
      if (!seen.insert(op.method + " " + op.path).second) {
        return std::unexpected(
            At(line, op.method + " " + op.path + " appears twice"));
      }
      operations.push_back(std::move(op));
      op_indent = 0;
      continue;
    }
    if (!in_operation) continue;
    if (op_indent == 0) op_indent = line.indent;
    if (line.indent != op_indent || line.text.starts_with("-")) continue;
    if (!SplitKey(line.text, key, value)) continue;
    if (key == "x-permission") operations.back().permission = value;
    if (key == "x-pending-route") operations.back().pending = value == "true";
  }
  return operations;
}

}  // namespace cls::coordinator
