#include "crypto/aead.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <string>

#include "crypto/openssl_ptr.h"
#include "crypto/random.h"

namespace cls::crypto {
namespace {

using internal::EvpCipherCtxPtr;
using internal::EvpCipherPtr;

constexpr size_t kOverheadBytes = kGcmNonceBytes + kGcmTagBytes;
// EVP_*Update takes int lengths; larger inputs go in pieces of this size.
constexpr size_t kMaxUpdateBytes = size_t{1} << 30;

// Fetched once rather than on every message.
const EVP_CIPHER* Aes256Gcm() {
  static const EvpCipherPtr cipher(
      EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr));
  return cipher.get();
}

// With a null `out` the input is associated data.
bool UpdateAll(EVP_CIPHER_CTX* ctx, bool encrypt, uint8_t* out, ByteSpan in) {
  while (!in.empty()) {
    const int n = static_cast<int>(std::min(in.size(), kMaxUpdateBytes));
    int written = 0;
    const int ok = encrypt
                       ? EVP_EncryptUpdate(ctx, out, &written, in.data(), n)
                       : EVP_DecryptUpdate(ctx, out, &written, in.data(), n);
    // GCM is a stream mode: every input byte comes straight back out.
    if (ok != 1 || (out != nullptr && written != n)) return false;
    if (out != nullptr) out += n;
    in = in.subspan(n);
  }
  return true;
}

}  // namespace

Result<Bytes> AesGcmSeal(const Key32& key, ByteSpan plaintext,
                         ByteSpan associated_data) {
  const EVP_CIPHER* cipher = Aes256Gcm();
  if (cipher == nullptr) return Internal("aead: AES-256-GCM not available");
  Bytes sealed(kOverheadBytes + plaintext.size());
  uint8_t* nonce = sealed.data();
  uint8_t* ciphertext = nonce + kGcmNonceBytes;
  uint8_t* tag = ciphertext + plaintext.size();
  // Random 96-bit nonces: keys here seal far fewer than 2^32 messages, the
  // NIST bound for random nonces.
  FillRandom({nonce, kGcmNonceBytes});

  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int final_length = 0;
  if (ctx == nullptr ||
      EVP_EncryptInit_ex2(ctx.get(), cipher, key.data(), nonce, nullptr) != 1 ||
      !UpdateAll(ctx.get(), /*encrypt=*/true, nullptr, associated_data) ||
      !UpdateAll(ctx.get(), /*encrypt=*/true, ciphertext, plaintext) ||
      EVP_EncryptFinal_ex(ctx.get(), tag, &final_length) != 1 ||
      final_length != 0 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kGcmTagBytes, tag) !=
          1) {
    return Internal("aead: encryption failed");
  }
  return sealed;
}

Result<Bytes> AesGcmOpen(const Key32& key, ByteSpan sealed,
                         ByteSpan associated_data) {
  if (sealed.size() < kOverheadBytes) {
    return InvalidArgument(
        "aead: sealed input of " + std::to_string(sealed.size()) +
        " bytes, need at least " + std::to_string(kOverheadBytes));
  }
  const EVP_CIPHER* cipher = Aes256Gcm();
  if (cipher == nullptr) return Internal("aead: AES-256-GCM not available");
  const ByteSpan nonce = sealed.first(kGcmNonceBytes);
  const ByteSpan ciphertext =
      sealed.subspan(kGcmNonceBytes, sealed.size() - kOverheadBytes);
  // The tag control takes a non-const buffer although it only reads it.
  std::array<uint8_t, kGcmTagBytes> tag;
  std::copy_n(sealed.end() - kGcmTagBytes, kGcmTagBytes, tag.begin());

  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  Bytes plaintext(ciphertext.size());
  if (ctx == nullptr ||
      EVP_DecryptInit_ex2(ctx.get(), cipher, key.data(), nonce.data(),
                          nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kGcmTagBytes,
                          tag.data()) != 1 ||
      !UpdateAll(ctx.get(), /*encrypt=*/false, nullptr, associated_data) ||
      !UpdateAll(ctx.get(), /*encrypt=*/false, plaintext.data(), ciphertext)) {
    return Internal("aead: decryption failed");
  }
  // GCM's final step only checks the tag; it writes no bytes.
  std::array<uint8_t, kGcmTagBytes> unused;
  int final_length = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), unused.data(), &final_length) != 1) {
    // Never hand out (or leave lying around) unauthenticated plaintext.
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return DataLoss("aead: authentication failed");
  }
  return plaintext;
}

}  // namespace cls::crypto
