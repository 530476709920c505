#ifndef CLS_CRYPTO_HKDF_H_
#define CLS_CRYPTO_HKDF_H_

#include <string_view>

#include "common/bytes.h"
#include "common/error.h"

namespace cls::crypto {

// HKDF-SHA256 (RFC 5869) through OpenSSL's EVP_KDF.
Result<Bytes> HkdfSha256(ByteSpan input_key, ByteSpan salt, ByteSpan info,
                         size_t length);
// Convenience: a 32-byte key with a text label as info.
Result<Key32> DeriveKey32(ByteSpan input_key, ByteSpan salt,
                          std::string_view info);

}  // namespace cls::crypto

#endif  // CLS_CRYPTO_HKDF_H_
