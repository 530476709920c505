#include "crypto/signature.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "crypto/openssl_ptr.h"
#include "crypto/sha256.h"

namespace cls::crypto {
namespace {

using internal::EvpMdCtxPtr;
using internal::OpenSslDeleter;
using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<&BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<&X509_free>>;
using X509StoreCtxPtr =
    std::unique_ptr<X509_STORE_CTX, OpenSslDeleter<&X509_STORE_CTX_free>>;

std::shared_ptr<EVP_PKEY> ShareKey(EVP_PKEY* key) {
  return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

Result<std::string> ReadFile(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return InvalidArgument("cannot read " + std::string(what) + " " + path);
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

BioPtr MemoryBio(std::string_view text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// The single value of a subject attribute as UTF-8, or "" if absent/repeated.
std::string SubjectField(const X509* cert, int nid) {
  const X509_NAME* name = X509_get_subject_name(cert);
  const int idx = X509_NAME_get_index_by_NID(name, nid, -1);
  if (idx < 0 || X509_NAME_get_index_by_NID(name, nid, idx) >= 0) return "";
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(
      &utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
  if (len < 0) {
    ERR_clear_error();
    return "";
  }
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

Result<X509Ptr> ParseDer(ByteSpan der) {
  const unsigned char* p = der.data();
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert || p != der.data() + der.size()) {
    ERR_clear_error();
    return InvalidArgument("certificate: not a DER X.509 certificate");
  }
  return cert;
}

}  // namespace

Result<SigningKey> SigningKey::FromPemFile(const std::string& path) {
  auto pem = ReadFile(path, "private key");
  if (!pem) return std::unexpected(pem.error());
  return FromPem(*pem);
}

Result<SigningKey> SigningKey::FromPem(std::string_view pem) {
  BioPtr bio = MemoryBio(pem);
  EVP_PKEY* key =
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
          : nullptr;
  if (key == nullptr) {
    ERR_clear_error();
    return InvalidArgument("signing key: not a PEM private key");
  }
  return SigningKey(ShareKey(key));
}

Result<Bytes> SigningKey::Sign(ByteSpan message) const {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  size_t length = 0;
  if (!ctx ||
      EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr,
                         key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &length, message.data(),
                     message.size()) != 1) {
    ERR_clear_error();
    return Internal("signature: cannot sign");
  }
  Bytes signature(length);
  if (EVP_DigestSign(ctx.get(), signature.data(), &length, message.data(),
                     message.size()) != 1) {
    ERR_clear_error();
    return Internal("signature: cannot sign");
  }
  signature.resize(length);
  return signature;
}

Result<Certificate> Certificate::FromDer(ByteSpan der) {
  auto cert = ParseDer(der);
  if (!cert) return std::unexpected(cert.error());
  Certificate out;
  out.key_ = ShareKey(X509_get_pubkey(cert->get()));
  if (!out.key_) {
    ERR_clear_error();
    return InvalidArgument("certificate: no usable public key");
  }
  out.common_name_ = SubjectField(cert->get(), NID_commonName);
  out.role_ = SubjectField(cert->get(), NID_organizationalUnitName);
  out.der_.assign(der.begin(), der.end());
  return out;
}

Result<Certificate> Certificate::FromPem(std::string_view pem) {
  BioPtr bio = MemoryBio(pem);
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)
                   : nullptr);
  if (!cert) {
    ERR_clear_error();
    return InvalidArgument("certificate: not a PEM certificate");
  }
  unsigned char* der = nullptr;
  const int length = i2d_X509(cert.get(), &der);
  if (length <= 0) {
    ERR_clear_error();
    return Internal("certificate: cannot encode");
  }
  Bytes bytes(der, der + length);
  OPENSSL_free(der);
  return FromDer(bytes);
}

Result<Certificate> Certificate::FromPemFile(const std::string& path) {
  auto pem = ReadFile(path, "certificate");
  if (!pem) return std::unexpected(pem.error());
  auto cert = FromPem(*pem);
  if (!cert && cert.error().code == ErrorCode::kInvalidArgument) {
    return InvalidArgument("certificate: no PEM certificate in " + path);
  }
  return cert;
}

bool Certificate::Verify(ByteSpan message, ByteSpan signature) const {
  if (!key_ || signature.empty()) return false;
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  const bool ok =
      ctx &&
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr,
                           key_.get()) == 1 &&
      EVP_DigestVerify(ctx.get(), signature.data(), signature.size(),
                       message.data(), message.size()) == 1;
  ERR_clear_error();
  return ok;
}

struct CertificateAuthority::Store {
  std::unique_ptr<X509_STORE, OpenSslDeleter<&X509_STORE_free>> store;
  struct Accepted {
    Certificate certificate;
    std::chrono::steady_clock::time_point at;
  };
  std::mutex mutex;
  std::map<Digest, Accepted> accepted;  // by SHA-256 of the DER; guarded
};

Result<CertificateAuthority> CertificateAuthority::FromPem(
    std::string_view ca_pem, std::string_view crl_pem, Validity validity) {
  auto holder = std::make_shared<Store>();
  holder->store.reset(X509_STORE_new());
  if (!holder->store) return Internal("certificate authority: out of memory");
  BioPtr bio = MemoryBio(ca_pem);
  int loaded = 0;
  while (X509* ca =
             bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)
                 : nullptr) {
    X509Ptr owned(ca);
    if (X509_STORE_add_cert(holder->store.get(), ca) != 1) break;
    ++loaded;
  }
  ERR_clear_error();
  if (loaded == 0) {
    return InvalidArgument("certificate authority: no PEM CA certificate");
  }
  if (!crl_pem.empty()) {
    BioPtr crl_bio = MemoryBio(crl_pem);
    int crls = 0;
    while (X509_CRL* crl = crl_bio
                               ? PEM_read_bio_X509_CRL(crl_bio.get(), nullptr,
                                                       nullptr, nullptr)
                               : nullptr) {
      const bool added = X509_STORE_add_crl(holder->store.get(), crl) == 1;
      X509_CRL_free(crl);
      if (!added) break;
      ++crls;
    }
    ERR_clear_error();
    if (crls == 0) {
      return InvalidArgument("certificate authority: no PEM CRL");
    }
    X509_STORE_set_flags(holder->store.get(), X509_V_FLAG_CRL_CHECK);
  }
  if (validity == Validity::kIgnored) {
    X509_STORE_set_flags(holder->store.get(), X509_V_FLAG_NO_CHECK_TIME);
  }
  return CertificateAuthority(std::move(holder));
}

Result<CertificateAuthority> CertificateAuthority::FromFiles(
    const std::string& ca_path, const std::string& crl_path,
    Validity validity) {
  auto ca = ReadFile(ca_path, "CA certificate");
  if (!ca) return std::unexpected(ca.error());
  std::string crl;
  if (!crl_path.empty()) {
    auto text = ReadFile(crl_path, "CRL");
    if (!text) return std::unexpected(text.error());
    crl = std::move(*text);
  }
  return FromPem(*ca, crl, validity);
}

Result<Certificate> CertificateAuthority::Check(ByteSpan der) const {
  const auto now = std::chrono::steady_clock::now();
  const Digest key = Sha256(der);
  {
    std::lock_guard lock(store_->mutex);
    auto it = store_->accepted.find(key);
    if (it != store_->accepted.end() && now - it->second.at < kRecheckAfter) {
      return it->second.certificate;
    }
  }
  auto checked = CheckChain(der);
  if (checked) {
    std::lock_guard lock(store_->mutex);
    // A site meets a few dozen neighbours: forget all rather than grow.
    if (store_->accepted.size() >= 4096) store_->accepted.clear();
    store_->accepted.insert_or_assign(key, Store::Accepted{*checked, now});
  }
  return checked;
}

Result<Certificate> CertificateAuthority::CheckChain(ByteSpan der) const {
  auto cert = ParseDer(der);
  if (!cert) return std::unexpected(cert.error());
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store_->store.get(), cert->get(),
                                  nullptr) != 1) {
    ERR_clear_error();
    return Internal("certificate authority: cannot verify");
  }
  if (X509_verify_cert(ctx.get()) != 1) {
    const int error = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return PermissionDenied(std::string("certificate not issued by the CA: ") +
                            X509_verify_cert_error_string(error));
  }
  return Certificate::FromDer(der);
}

}  // namespace cls::crypto
