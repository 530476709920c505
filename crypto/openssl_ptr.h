#ifndef CLS_CRYPTO_OPENSSL_PTR_H_
#define CLS_CRYPTO_OPENSSL_PTR_H_

// Internal to cls_crypto: owning pointers for OpenSSL objects, so every early
// return frees what was allocated.

#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <memory>

namespace cls::crypto::internal {

template <auto kFree>
struct OpenSslDeleter {
  template <typename T>
  void operator()(T* p) const {
    kFree(p);
  }
};

using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<&EVP_PKEY_free>>;
using EvpPkeyCtxPtr =
    std::unique_ptr<EVP_PKEY_CTX, OpenSslDeleter<&EVP_PKEY_CTX_free>>;
using EvpMdCtxPtr =
    std::unique_ptr<EVP_MD_CTX, OpenSslDeleter<&EVP_MD_CTX_free>>;
using EvpCipherPtr =
    std::unique_ptr<EVP_CIPHER, OpenSslDeleter<&EVP_CIPHER_free>>;
using EvpCipherCtxPtr =
    std::unique_ptr<EVP_CIPHER_CTX, OpenSslDeleter<&EVP_CIPHER_CTX_free>>;
using EvpKdfPtr = std::unique_ptr<EVP_KDF, OpenSslDeleter<&EVP_KDF_free>>;
using EvpKdfCtxPtr =
    std::unique_ptr<EVP_KDF_CTX, OpenSslDeleter<&EVP_KDF_CTX_free>>;

}  // namespace cls::crypto::internal

#endif  // CLS_CRYPTO_OPENSSL_PTR_H_
