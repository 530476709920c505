#include "core/text_features.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <system_error>

namespace cls::core {
namespace {

bool IsWordByte(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z') || c >= 0x80;
}

bool IsBlank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n\f\v") == std::string_view::npos;
}

}  // namespace

uint64_t Fnv1a64(std::string_view bytes) {
  uint64_t hash = 14695981039346656037ull;
  for (char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  return hash;
}

bool ValidHashBuckets(int64_t buckets) {
  return buckets >= kMinHashBuckets && buckets <= kMaxHashBuckets &&
         (buckets & (buckets - 1)) == 0;
}

std::vector<std::string> TokenizeText(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (IsWordByte(c)) {
      word.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a')
                                          : ch);
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

uint32_t TextBucket(std::string_view term, int buckets) {
  return static_cast<uint32_t>(Fnv1a64(term) &
                               (static_cast<uint64_t>(buckets) - 1));
}

Status HashTextTerms(std::string_view text, std::span<float> counts) {
  if (text.size() > kMaxTextBytes) {
    return InvalidArgument("text longer than " + std::to_string(kMaxTextBytes) +
                           " bytes");
  }
  if (IsBlank(text)) return InvalidArgument("empty text");
  const int buckets = static_cast<int>(counts.size());
  const std::vector<std::string> words = TokenizeText(text);
  std::string bigram;
  for (size_t i = 0; i < words.size(); ++i) {
    counts[TextBucket(words[i], buckets)] += 1.0f;
    if (i + 1 < words.size()) {
      bigram.assign(words[i]).append(" ").append(words[i + 1]);
      counts[TextBucket(bigram, buckets)] += 1.0f;
    }
  }
  return {};
}

double InverseDocumentFrequency(double documents, double document_count) {
  return std::log((1.0 + documents) / (1.0 + document_count)) + 1.0;
}

void TfIdfNormalised(std::span<const float> counts, std::span<const double> idf,
                     std::span<float> out) {
  double norm_sq = 0.0;
  for (size_t j = 0; j < counts.size(); ++j) {
    const double w = static_cast<double>(counts[j]) * idf[j];
    out[j] = static_cast<float>(w);
    norm_sq += w * w;
  }
  if (norm_sq <= 0.0) return;
  const double inv = 1.0 / std::sqrt(norm_sq);
  for (float& v : out) v = static_cast<float>(v * inv);
}

Status ParseEmbedding(std::string_view cell, std::span<float> out) {
  constexpr std::string_view kSeparators = "; \t";
  if (IsBlank(cell)) {
    for (float& v : out) v = std::numeric_limits<float>::quiet_NaN();
    return {};
  }
  size_t n = 0;
  size_t pos = 0;
  while (true) {
    pos = cell.find_first_not_of(kSeparators, pos);
    if (pos == std::string_view::npos) break;
    size_t end = cell.find_first_of(kSeparators, pos);
    if (end == std::string_view::npos) end = cell.size();
    std::string_view token = cell.substr(pos, end - pos);
    pos = end;
    ++n;
    if (n > out.size()) continue;  // counted for the message below
    if (token.front() == '+') token.remove_prefix(1);
    float v = 0;
    const char* last = token.data() + token.size();
    auto [ptr, ec] = std::from_chars(token.data(), last, v);
    if (token.empty() || ec != std::errc() || ptr != last ||
        !std::isfinite(v)) {
      return InvalidArgument("embedding value " + std::to_string(n) +
                             " is not a finite number");
    }
    out[n - 1] = v;
  }
  if (n != out.size()) {
    return InvalidArgument("embedding has " + std::to_string(n) +
                           " values, expected " + std::to_string(out.size()));
  }
  return {};
}

}  // namespace cls::core
