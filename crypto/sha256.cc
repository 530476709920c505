#include "crypto/sha256.h"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>

namespace cls::crypto {
namespace {

// EVP digest calls only fail on allocation failure or a broken provider; the
// API returns plain digests, and a wrong hash would silently break hash chains,
// so stopping is the only safe answer.
[[noreturn]] void DieDigestFailure() {
  std::fputs("cls::crypto: SHA-256 failed, aborting\n", stderr);
  std::abort();
}

EVP_MD_CTX* AsCtx(void* ctx) { return static_cast<EVP_MD_CTX*>(ctx); }

}  // namespace

Digest Sha256(ByteSpan data) {
  Digest digest;
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(),
                 nullptr) != 1 ||
      length != digest.size()) {
    DieDigestFailure();
  }
  return digest;
}

std::string Sha256Hex(ByteSpan data) { return ToHex(Sha256(data)); }

Sha256Hasher::Sha256Hasher() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr ||
      EVP_DigestInit_ex(AsCtx(ctx_), EVP_sha256(), nullptr) != 1) {
    DieDigestFailure();
  }
}

Sha256Hasher::~Sha256Hasher() { EVP_MD_CTX_free(AsCtx(ctx_)); }

void Sha256Hasher::Update(ByteSpan data) {
  if (EVP_DigestUpdate(AsCtx(ctx_), data.data(), data.size()) != 1) {
    DieDigestFailure();
  }
}

Digest Sha256Hasher::Finish() {
  Digest digest;
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(AsCtx(ctx_), digest.data(), &length) != 1 ||
      length != digest.size()) {
    DieDigestFailure();
  }
  // Start over so a finished hasher is reusable instead of undefined.
  if (EVP_DigestInit_ex(AsCtx(ctx_), EVP_sha256(), nullptr) != 1) {
    DieDigestFailure();
  }
  return digest;
}

}  // namespace cls::crypto
