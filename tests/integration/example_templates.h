#ifndef CLS_TESTS_INTEGRATION_EXAMPLE_TEMPLATES_H_
#define CLS_TESTS_INTEGRATION_EXAMPLE_TEMPLATES_H_

// Reading the shipped example configs (examples/NAME/coordinator.toml and
// site.toml), so the integration tests and bench/model_kinds_eval run what a
// hospital would install rather than a copy of it.

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace cls::testing {

// The file's text; empty when it does not exist (yet): tests poll on it.
inline std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::string ExampleDir(const std::string& name) {
  return std::string(CLS_SOURCE_DIR) + "/examples/" + name;
}

// A template file of the example; a missing one is a broken checkout.
inline std::string ExampleText(const std::string& example,
                               const std::string& file) {
  const std::string path = ExampleDir(example) + "/" + file;
  std::string text = ReadText(path);
  if (text.empty()) throw std::runtime_error("cannot read " + path);
  return text;
}

// The example coordinator.toml's [model] section (up to the next table).
inline std::string ModelSection(const std::string& example) {
  const std::string text = ExampleText(example, "coordinator.toml");
  const size_t start = text.find("[model]\n");
  if (start == std::string::npos) {
    throw std::runtime_error(example + "/coordinator.toml has no [model]");
  }
  const size_t end = text.find("\n[", start + 1);
  return text.substr(start, end == std::string::npos ? end : end - start + 1);
}

// The example site.toml's [data] section ([data] and its [[data.columns]]),
// its csv pointed at `csv`.
inline std::string DataSection(const std::string& example,
                               const std::string& csv) {
  std::istringstream in(ExampleText(example, "site.toml"));
  std::string line, out;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line.starts_with("[")) {
      inside = line == "[data]" || line == "[[data.columns]]";
    }
    if (!inside) continue;
    if (line.starts_with("csv = ")) line = "csv = \"" + csv + "\"";
    out += line + "\n";
  }
  return out;
}

}  // namespace cls::testing

#endif  // CLS_TESTS_INTEGRATION_EXAMPLE_TEMPLATES_H_
