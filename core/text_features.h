#ifndef CLS_CORE_TEXT_FEATURES_H_
#define CLS_CORE_TEXT_FEATURES_H_

// Free text (e.g. a clinical note) as model features, with nothing of the
// text kept: lowercase words and word bigrams are hashed into a fixed number
// of buckets, counted, weighted by TF-IDF and L2-normalised (docs/columns.md).
//
// The hash is FNV-1a 64 over the term's bytes, reduced mod the bucket count
// (a power of two, so the low bits): defined bit for bit, so every site and
// every platform puts a term in the same bucket (std::hash is neither).

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace cls::core {

// A text cell longer than this is refused: a note of 100 KB is already far
// beyond a clinical note, and the limit bounds the work one cell can cause.
inline constexpr size_t kMaxTextBytes = 100 * 1024;
// hash_buckets must be a power of two in [kMinHashBuckets, kMaxHashBuckets]:
// each bucket is a model feature and three sums in the statistics round.
inline constexpr int kMinHashBuckets = 2;
inline constexpr int kMaxHashBuckets = 1 << 16;
// A text column's bucket count when the config gives none.
inline constexpr int kDefaultHashBuckets = 1024;

// FNV-1a, 64-bit (offset basis 14695981039346656037, prime 1099511628211).
uint64_t Fnv1a64(std::string_view bytes);

// True for a power of two in [kMinHashBuckets, kMaxHashBuckets].
bool ValidHashBuckets(int64_t buckets);

// Words: maximal runs of ASCII letters and digits and of bytes >= 0x80 (so a
// UTF-8 word stays whole), ASCII letters lowercased; everything else
// separates words.
std::vector<std::string> TokenizeText(std::string_view text);

// The bucket of one term (a word, or two words joined by one space).
uint32_t TextBucket(std::string_view term, int buckets);

// Adds the term counts of `text` to `counts` (size = the bucket count): one
// per word and one per pair of adjacent words. InvalidArgument (the reason,
// never the text) when the text is empty or only white space, or longer
// than kMaxTextBytes.
Status HashTextTerms(std::string_view text, std::span<float> counts);

// The smoothed inverse document frequency of a bucket present in
// `document_count` of `documents` texts: ln((1 + N) / (1 + df)) + 1, which
// is >= 1 for df <= N (a bucket in every text keeps weight 1, a rare one
// weighs more; a bucket no training text has gets the largest weight).
double InverseDocumentFrequency(double documents, double document_count);

// TF-IDF, L2-normalised: out[j] = counts[j] * idf[j] / norm. An all-zero
// row stays all zero. All three spans have the bucket count's size.
void TfIdfNormalised(std::span<const float> counts, std::span<const double> idf,
                     std::span<float> out);

// An embedding cell: out.size() finite numbers separated by ';' and/or white
// space (',' separates CSV fields). An empty cell is missing: `out` is
// filled with NaN. InvalidArgument naming the count or the position of the
// bad value, never the value.
Status ParseEmbedding(std::string_view cell, std::span<float> out);

}  // namespace cls::core

#endif  // CLS_CORE_TEXT_FEATURES_H_
