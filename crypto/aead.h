#ifndef CLS_CRYPTO_AEAD_H_
#define CLS_CRYPTO_AEAD_H_

#include "common/bytes.h"
#include "common/error.h"

namespace cls::crypto {

inline constexpr size_t kGcmNonceBytes = 12;
inline constexpr size_t kGcmTagBytes = 16;

// AES-256-GCM. Seal draws a fresh random 96-bit nonce and returns
// nonce || ciphertext || tag. Open checks the tag over ciphertext and the
// associated data and fails with DataLoss ("authentication failed") on any
// change; it fails with InvalidArgument on input shorter than nonce + tag.
Result<Bytes> AesGcmSeal(const Key32& key, ByteSpan plaintext,
                         ByteSpan associated_data);
Result<Bytes> AesGcmOpen(const Key32& key, ByteSpan sealed,
                         ByteSpan associated_data);

}  // namespace cls::crypto

#endif  // CLS_CRYPTO_AEAD_H_
