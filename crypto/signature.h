#ifndef CLS_CRYPTO_SIGNATURE_H_
#define CLS_CRYPTO_SIGNATURE_H_

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/error.h"

// Signatures made with the keys of the consortium's certificates (EC P-256,
// ECDSA over SHA-256, DER-encoded), and the one check that a certificate
// chains to the consortium CA. Secure aggregation uses them so that what
// a site says in a round (its public keys, its shares, the survivor set it
// saw) can be checked by its neighbours and attributed by the coordinator,
// without trusting the coordinator that relays it; the audit chain
// (audit/audit_chain.h) signs and checks its checkpoints with them.

typedef struct evp_pkey_st EVP_PKEY;

namespace cls::crypto {

// A private key that signs. Immutable after loading; safe to share between
// threads for Sign.
class SigningKey {
 public:
  static Result<SigningKey> FromPemFile(const std::string& path);
  static Result<SigningKey> FromPem(std::string_view pem);

  Result<Bytes> Sign(ByteSpan message) const;

 private:
  explicit SigningKey(std::shared_ptr<EVP_PKEY> key) : key_(std::move(key)) {}
  std::shared_ptr<EVP_PKEY> key_;
};

// A certificate whose public key verifies signatures. Copyable (shares the
// key); immutable.
class Certificate {
 public:
  // Parses a DER certificate without checking who issued it (for a peer
  // certificate the TLS handshake already verified).
  static Result<Certificate> FromDer(ByteSpan der);
  // The first certificate of PEM text, likewise unchecked.
  static Result<Certificate> FromPem(std::string_view pem);
  // The first certificate of a PEM file (e.g. the daemon's own).
  static Result<Certificate> FromPemFile(const std::string& path);

  const std::string& common_name() const { return common_name_; }
  const std::string& role() const { return role_; }  // the OU
  const Bytes& der() const { return der_; }

  bool Verify(ByteSpan message, ByteSpan signature) const;

 private:
  Certificate() = default;
  std::shared_ptr<EVP_PKEY> key_;
  std::string common_name_;
  std::string role_;
  Bytes der_;
};

// Checks certificates against the consortium CA (and its CRL, when given):
// what a site uses to trust a neighbour's certificate that the coordinator
// relayed. The trust anchors are fixed after loading; a certificate it
// accepted is remembered (by its DER bytes) for kRecheckAfter, so a site
// checks each neighbour's chain once, not in every round. Safe to share
// between threads.
class CertificateAuthority {
 public:
  // Whether a certificate outside its notBefore..notAfter is refused.
  // kIgnored is for checking old signatures (an audit checkpoint signed
  // years ago stays evidence after the certificate expired), never for
  // admitting a peer.
  enum class Validity { kChecked, kIgnored };

  // `crl_pem` may be empty.
  static Result<CertificateAuthority> FromPem(
      std::string_view ca_pem, std::string_view crl_pem = {},
      Validity validity = Validity::kChecked);
  static Result<CertificateAuthority> FromFiles(
      const std::string& ca_path, const std::string& crl_path,
      Validity validity = Validity::kChecked);

  static constexpr std::chrono::seconds kRecheckAfter{600};

  // Fails with PermissionDenied when `der` is not a certificate the CA issued
  // (or it is revoked or expired).
  Result<Certificate> Check(ByteSpan der) const;

 private:
  struct Store;
  Result<Certificate> CheckChain(ByteSpan der) const;
  explicit CertificateAuthority(std::shared_ptr<Store> store)
      : store_(std::move(store)) {}
  std::shared_ptr<Store> store_;
};

}  // namespace cls::crypto

#endif  // CLS_CRYPTO_SIGNATURE_H_
