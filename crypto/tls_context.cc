#include "crypto/tls_context.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <string_view>
#include <system_error>
#include <vector>

namespace cls::crypto {
namespace {

template <auto kFree>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    kFree(p);
  }
};
using BioPtr = std::unique_ptr<BIO, Deleter<&BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Deleter<&X509_free>>;
using X509CrlPtr = std::unique_ptr<X509_CRL, Deleter<&X509_CRL_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<&BN_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<&EVP_PKEY_free>>;
using Asn1OctetStringPtr =
    std::unique_ptr<ASN1_OCTET_STRING, Deleter<&ASN1_OCTET_STRING_free>>;

std::unexpected<Error> NotAuthenticated(std::string m) {
  return MakeError(ErrorCode::kUnauthenticated, std::move(m));
}

// The most recent OpenSSL error as text (and clears the queue), for messages.
std::string OpenSslReason() {
  unsigned long last = 0;
  while (unsigned long e = ERR_get_error()) last = e;
  if (last == 0) return "unknown OpenSSL error";
  const char* reason = ERR_reason_error_string(last);
  if (reason != nullptr) return reason;
  char buf[256];
  ERR_error_string_n(last, buf, sizeof(buf));
  return buf;
}

std::string Asn1TimeToString(const ASN1_TIME* t) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || ASN1_TIME_print(bio.get(), t) != 1) return "?";
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

// Opens a PEM file for reading. `what` names it in messages ("certificate").
Result<BioPtr> OpenPemFile(const std::string& path, std::string_view what) {
  if (path.empty()) {
    return InvalidArgument("tls: no " + std::string(what) + " file given");
  }
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (status.type() == std::filesystem::file_type::not_found) {
    return NotFound("tls: cannot read " + std::string(what) + " " + path +
                    ": no such file");
  }
  if (status.type() == std::filesystem::file_type::directory) {
    return InvalidArgument("tls: cannot read " + std::string(what) + " " +
                           path + ": is a directory");
  }
  errno = 0;
  BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) {
    const int err = errno;
    ERR_clear_error();
    return InvalidArgument("tls: cannot read " + std::string(what) + " " +
                           path + ": " +
                           (err != 0 ? std::strerror(err) : "cannot open"));
  }
  return bio;
}

// Reads every certificate in a PEM file (at least one).
Result<std::vector<X509Ptr>> ReadCertificates(const std::string& path,
                                              std::string_view what) {
  auto bio = OpenPemFile(path, what);
  if (!bio) return std::unexpected(bio.error());
  std::vector<X509Ptr> certs;
  ERR_clear_error();
  while (X509* cert =
             PEM_read_bio_X509(bio->get(), nullptr, nullptr, nullptr)) {
    certs.emplace_back(cert);
  }
  // Reading stops at end of file with a "no start line" error; anything else
  // is a malformed certificate.
  const unsigned long err = ERR_peek_last_error();
  const bool clean_eof = ERR_GET_LIB(err) == ERR_LIB_PEM &&
                         ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
  if (err != 0 && !clean_eof) {
    return InvalidArgument("tls: cannot read " + std::string(what) + " " +
                           path + ": " + OpenSslReason());
  }
  ERR_clear_error();
  if (certs.empty()) {
    return InvalidArgument("tls: cannot read " + std::string(what) + " " +
                           path + ": no PEM certificate in it");
  }
  return certs;
}

Result<std::vector<X509CrlPtr>> ReadCrls(const std::string& path) {
  auto bio = OpenPemFile(path, "CRL");
  if (!bio) return std::unexpected(bio.error());
  std::vector<X509CrlPtr> crls;
  ERR_clear_error();
  while (X509_CRL* crl =
             PEM_read_bio_X509_CRL(bio->get(), nullptr, nullptr, nullptr)) {
    crls.emplace_back(crl);
  }
  const unsigned long err = ERR_peek_last_error();
  const bool clean_eof = ERR_GET_LIB(err) == ERR_LIB_PEM &&
                         ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
  if (err != 0 && !clean_eof) {
    return InvalidArgument("tls: cannot read CRL " + path + ": " +
                           OpenSslReason());
  }
  ERR_clear_error();
  if (crls.empty()) {
    return InvalidArgument("tls: cannot read CRL " + path +
                           ": no PEM CRL in it");
  }
  return crls;
}

// The CRLs of files.crl_file, each checked: signed by one of `cas` and not
// expired.
Result<std::vector<X509CrlPtr>> ReadCheckedCrls(
    const TlsFiles& files, const std::vector<X509Ptr>& cas) {
  auto crls = ReadCrls(files.crl_file);
  if (!crls) return std::unexpected(crls.error());
  for (const auto& crl : *crls) {
    // The CRL must come from one of the given CAs; a foreign CRL would make
    // every handshake fail with "unable to get certificate CRL".
    bool signed_by_ca = false;
    for (const auto& ca : cas) {
      if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()),
                        X509_get_subject_name(ca.get())) == 0 &&
          X509_CRL_verify(crl.get(), X509_get0_pubkey(ca.get())) == 1) {
        signed_by_ca = true;
        break;
      }
    }
    ERR_clear_error();
    if (!signed_by_ca) {
      return InvalidArgument("tls: CRL " + files.crl_file +
                             " is not signed by the CA in " + files.ca_file);
    }
    // An expired CRL makes every peer fail verification ("CRL has expired");
    // say so now instead.
    const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl.get());
    if (next != nullptr && X509_cmp_current_time(next) < 0) {
      return FailedPrecondition(
          "tls: CRL " + files.crl_file + " expired (next update was " +
          Asn1TimeToString(next) + "); regenerate it with 'cls-pki crl'");
    }
  }
  return crls;
}

// Loads the CA certificates and (optionally) the CRL into the context's store.
Status LoadTrust(SSL_CTX* ctx, const TlsFiles& files) {
  auto cas = ReadCertificates(files.ca_file, "CA certificate");
  if (!cas) return std::unexpected(cas.error());
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  for (const auto& ca : *cas) {
    if (X509_STORE_add_cert(store, ca.get()) != 1) {
      return Internal("tls: cannot use CA certificate " + files.ca_file + ": " +
                      OpenSslReason());
    }
  }
  if (files.crl_file.empty()) return {};

  auto crls = ReadCheckedCrls(files, *cas);
  if (!crls) return std::unexpected(crls.error());
  for (const auto& crl : *crls) {
    if (X509_STORE_add_crl(store, crl.get()) != 1) {
      return Internal("tls: cannot use CRL " + files.crl_file + ": " +
                      OpenSslReason());
    }
  }
  if (X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK) != 1) {
    return Internal("tls: cannot enable CRL checking: " + OpenSslReason());
  }
  return {};
}

// Never prompt on the terminal for a key passphrase: keys are unencrypted
// (0600 files); an encrypted key fails to load with a clear error instead.
int NoPassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) {
  return 0;
}

Status LoadIdentity(SSL_CTX* ctx, const TlsFiles& files) {
  // Existence/readability first, so the message names the file precisely.
  if (auto bio = OpenPemFile(files.cert_file, "certificate"); !bio) {
    return std::unexpected(bio.error());
  }
  auto key_bio = OpenPemFile(files.key_file, "private key");
  if (!key_bio) return std::unexpected(key_bio.error());

  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx, files.cert_file.c_str()) != 1) {
    return InvalidArgument("tls: cannot read certificate " + files.cert_file +
                           ": " + OpenSslReason());
  }
  EvpPkeyPtr key(
      PEM_read_bio_PrivateKey(key_bio->get(), nullptr, &NoPassphrase, nullptr));
  if (!key) {
    return InvalidArgument("tls: cannot read private key " + files.key_file +
                           ": " + OpenSslReason());
  }
  X509* cert = SSL_CTX_get0_certificate(ctx);
  if (cert == nullptr || X509_check_private_key(cert, key.get()) != 1) {
    ERR_clear_error();
    return InvalidArgument("tls: private key " + files.key_file +
                           " does not match certificate " + files.cert_file);
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1) {
    return InvalidArgument("tls: cannot use private key " + files.key_file +
                           ": " + OpenSslReason());
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return InvalidArgument("tls: private key " + files.key_file +
                           " does not match certificate " + files.cert_file);
  }
  return {};
}

Result<std::shared_ptr<boost::asio::ssl::context>> MakeContext(
    const TlsFiles& files, bool server) {
  namespace ssl = boost::asio::ssl;
  ERR_clear_error();
  std::shared_ptr<ssl::context> context;
  try {
    context = std::make_shared<ssl::context>(server ? ssl::context::tls_server
                                                    : ssl::context::tls_client);
  } catch (const boost::system::system_error& e) {
    return Internal(std::string("tls: cannot create context: ") + e.what());
  }
  SSL_CTX* ctx = context->native_handle();

  // TLS 1.3 only.
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
    return Internal("tls: cannot restrict the context to TLS 1.3: " +
                    OpenSslReason());
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);
  if (server) {
    // No session resumption: every connection is fully verified, so a
    // revocation takes effect as soon as a context with the new CRL is used.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 0);
  }

  if (auto st = LoadTrust(ctx, files); !st) return std::unexpected(st.error());
  if (auto st = LoadIdentity(ctx, files); !st) {
    return std::unexpected(st.error());
  }

  boost::system::error_code ec;
  const ssl::verify_mode mode =
      server ? (ssl::verify_peer | ssl::verify_fail_if_no_peer_cert)
             : ssl::verify_peer;
  context->set_verify_mode(mode, ec);
  if (ec) return Internal("tls: cannot set verify mode: " + ec.message());
  // Certificates must be for the right side (extendedKeyUsage): the server
  // wants client certificates, the client wants a server certificate.
  if (SSL_CTX_set_purpose(ctx, server ? X509_PURPOSE_SSL_CLIENT
                                      : X509_PURPOSE_SSL_SERVER) != 1) {
    return Internal("tls: cannot set certificate purpose: " + OpenSslReason());
  }
  return context;
}

// The single value of a subject attribute (CN, OU) as UTF-8.
Result<std::string> SubjectField(const X509* cert, int nid,
                                 std::string_view what) {
  const X509_NAME* name = X509_get_subject_name(cert);
  const int idx = X509_NAME_get_index_by_NID(name, nid, -1);
  if (idx < 0) {
    return NotAuthenticated("tls: peer certificate has no " +
                            std::string(what));
  }
  if (X509_NAME_get_index_by_NID(name, nid, idx) >= 0) {
    return NotAuthenticated("tls: peer certificate has more than one " +
                            std::string(what));
  }
  const ASN1_STRING* data =
      X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) {
    ERR_clear_error();
    return NotAuthenticated("tls: peer certificate " + std::string(what) +
                            " is not valid text");
  }
  std::string value(reinterpret_cast<const char*>(utf8),
                    static_cast<size_t>(len));
  OPENSSL_free(utf8);
  if (value.empty() || value.find('\0') != std::string::npos) {
    return NotAuthenticated("tls: peer certificate " + std::string(what) +
                            " is empty or malformed");
  }
  return value;
}

}  // namespace

Result<std::shared_ptr<boost::asio::ssl::context>> MakeServerTlsContext(
    const TlsFiles& files) {
  if (files.crl_file.empty()) {
    return InvalidArgument(
        "tls: a server needs a CRL file (crl_file is empty); create one with "
        "'cls-pki crl'");
  }
  return MakeContext(files, /*server=*/true);
}

Result<std::shared_ptr<boost::asio::ssl::context>> MakeClientTlsContext(
    const TlsFiles& files) {
  return MakeContext(files, /*server=*/false);
}

Status ReloadCrl(boost::asio::ssl::context& context, const TlsFiles& files) {
  if (files.crl_file.empty()) {
    return FailedPrecondition("tls: no CRL configured to reload");
  }
  auto cas = ReadCertificates(files.ca_file, "CA certificate");
  if (!cas) return std::unexpected(cas.error());
  auto crls = ReadCheckedCrls(files, *cas);
  if (!crls) return std::unexpected(crls.error());
  X509_STORE* store = SSL_CTX_get_cert_store(context.native_handle());
  // The new list goes in first (an identical CRL is kept once), then the
  // old ones come out: a handshake on another thread meanwhile sees both,
  // the old and the new, never none.
  for (const auto& crl : *crls) {
    if (X509_STORE_add_crl(store, crl.get()) != 1) {
      return Internal("tls: cannot use CRL " + files.crl_file + ": " +
                      OpenSslReason());
    }
  }
  if (X509_STORE_lock(store) != 1) {
    return Internal("tls: cannot lock the trust store: " + OpenSslReason());
  }
  STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(store);
  for (int i = sk_X509_OBJECT_num(objects) - 1; i >= 0; --i) {
    X509_OBJECT* object = sk_X509_OBJECT_value(objects, i);
    if (X509_OBJECT_get_type(object) != X509_LU_CRL) continue;
    X509_CRL* held = X509_OBJECT_get0_X509_CRL(object);
    const bool in_new_list =
        std::any_of(crls->begin(), crls->end(), [held](const X509CrlPtr& c) {
          return X509_CRL_match(held, c.get()) == 0;
        });
    if (!in_new_list) {
      (void)sk_X509_OBJECT_delete(objects, i);
      // A verification holding this CRL keeps its own reference.
      X509_OBJECT_free(object);
    }
  }
  X509_STORE_unlock(store);
  return {};
}

Result<int64_t> CrlNextUpdate(const std::string& crl_file) {
  auto crls = ReadCrls(crl_file);
  if (!crls) return std::unexpected(crls.error());
  int64_t earliest = 0;
  for (const auto& crl : *crls) {
    const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl.get());
    std::tm tm{};
    if (next == nullptr || ASN1_TIME_to_tm(next, &tm) != 1) continue;
    const int64_t unix_s = timegm(&tm);
    if (earliest == 0 || unix_s < earliest) earliest = unix_s;
  }
  return earliest;
}

Status SetServerHostName(SSL* ssl, const std::string& host) {
  if (ssl == nullptr) return InvalidArgument("tls: no SSL stream");
  if (host.empty() || host.find('\0') != std::string::npos) {
    return InvalidArgument("tls: invalid server host name '" + host + "'");
  }
  ERR_clear_error();
  const bool is_ip = Asn1OctetStringPtr(a2i_IPADDRESS(host.c_str())) != nullptr;
  ERR_clear_error();
  if (is_ip) {
    // IP literals are matched against IP subjectAltNames; no SNI (RFC 6066).
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) != 1) {
      return InvalidArgument("tls: cannot check server address " + host + ": " +
                             OpenSslReason());
    }
    return {};
  }
  if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) {
    return InvalidArgument("tls: cannot set SNI host name " + host + ": " +
                           OpenSslReason());
  }
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS |
                             X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
  if (SSL_set1_host(ssl, host.c_str()) != 1) {
    return InvalidArgument("tls: cannot check server host name " + host + ": " +
                           OpenSslReason());
  }
  return {};
}

Result<PeerIdentity> GetPeerIdentity(SSL* ssl) {
  if (ssl == nullptr) return InvalidArgument("tls: no SSL stream");
  if (SSL_is_init_finished(ssl) != 1) {
    return NotAuthenticated("tls: handshake not complete");
  }
  const X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) {
    return NotAuthenticated("tls: peer presented no certificate");
  }
  const long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    return NotAuthenticated(
        std::string("tls: peer certificate not verified: ") +
        X509_verify_cert_error_string(verify));
  }
  auto cn = SubjectField(cert, NID_commonName, "common name (CN)");
  if (!cn) return std::unexpected(cn.error());
  auto ou = SubjectField(cert, NID_organizationalUnitName, "role (OU)");
  if (!ou) return std::unexpected(ou.error());

  BignumPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (!serial) return Internal("tls: cannot read peer certificate serial");
  char* hex = BN_bn2hex(serial.get());
  if (hex == nullptr) return Internal("tls: cannot format certificate serial");
  std::string serial_hex(hex);
  OPENSSL_free(hex);

  unsigned char* der = nullptr;
  const int der_length = i2d_X509(cert, &der);
  if (der_length <= 0) return Internal("tls: cannot encode peer certificate");
  Bytes certificate_der(der, der + der_length);
  OPENSSL_free(der);

  return PeerIdentity{.common_name = std::move(*cn),
                      .role = std::move(*ou),
                      .serial_hex = std::move(serial_hex),
                      .certificate_der = std::move(certificate_der)};
}

}  // namespace cls::crypto
