#ifndef CLS_AUDIT_AUDIT_TEST_UTIL_H_
#define CLS_AUDIT_AUDIT_TEST_UTIL_H_

// Test helper: a real EC P-256 key and a self-signed certificate with
// OU=coordinator, written as PEM files (the shape cls-pki issues).

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <string>

namespace cls::testing {

struct TestCoordinatorIdentity {
  std::string key_file;
  std::string cert_file;
};

// Writes DIR/NAME.key and DIR/NAME.pem.
inline TestCoordinatorIdentity MakeCoordinatorIdentity(
    const std::string& dir, const std::string& name,
    const std::string& role = "coordinator") {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600L * 24 * 365);
  X509_set_pubkey(cert, key);
  X509_NAME* subject = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(
      subject, "CN", MBSTRING_ASC,
      reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
  X509_NAME_add_entry_by_txt(
      subject, "OU", MBSTRING_ASC,
      reinterpret_cast<const unsigned char*>(role.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert, subject);
  X509_sign(cert, key, EVP_sha256());
  TestCoordinatorIdentity id{dir + "/" + name + ".key",
                             dir + "/" + name + ".pem"};
  FILE* f = std::fopen(id.key_file.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  f = std::fopen(id.cert_file.c_str(), "w");
  PEM_write_X509(f, cert);
  std::fclose(f);
  X509_free(cert);
  EVP_PKEY_free(key);
  return id;
}

}  // namespace cls::testing

#endif  // CLS_AUDIT_AUDIT_TEST_UTIL_H_
