#ifndef CLS_CRYPTO_TEST_PKI_H_
#define CLS_CRYPTO_TEST_PKI_H_

#include <string>

#include "common/bytes.h"

namespace cls::crypto::testing {

// An in-memory consortium CA for unit tests (EC P-256 keys, as cls-pki
// issues): real certificates and keys without running the openssl CLI.
// Integration tests use certs/cls-pki instead.
class TestPki {
 public:
  struct Issued {
    Bytes certificate_der;
    std::string certificate_pem;
    std::string key_pem;
  };

  // A new CA named `name`.
  explicit TestPki(const std::string& name = "Test Consortium CA");
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  const std::string& ca_pem() const { return ca_pem_; }
  // A certificate CN=common_name, OU=role, valid for a day.
  Issued Issue(const std::string& common_name, const std::string& role);

 private:
  void* ca_key_ = nullptr;   // EVP_PKEY
  void* ca_cert_ = nullptr;  // X509
  std::string ca_pem_;
  long serial_ = 1;
};

}  // namespace cls::crypto::testing

#endif  // CLS_CRYPTO_TEST_PKI_H_
