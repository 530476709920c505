#ifndef CLS_CRYPTO_TLS_CONTEXT_H_
#define CLS_CRYPTO_TLS_CONTEXT_H_

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <boost/asio/ssl.hpp>
#include <memory>
#include <optional>
#include <string>

#include "common/bytes.h"
#include "common/error.h"

namespace cls::crypto {

// Files that make up one TLS identity. The CRL is optional for a client (it
// still checks the server against the CA) but required for a server.
struct TlsFiles {
  std::string ca_file;    // PEM: the project CA certificate
  std::string cert_file;  // PEM: this party's certificate
  std::string key_file;   // PEM: this party's private key
  std::string crl_file;   // PEM: the project CA's CRL; empty = none
};

// Server side: TLS 1.3 only, peer verification with
// verify_peer | verify_fail_if_no_peer_cert, CRL checked
// (X509_V_FLAG_CRL_CHECK) when a CRL is given. Clear errors for
// missing/unreadable files and a key that does not match its certificate.
Result<std::shared_ptr<boost::asio::ssl::context>> MakeServerTlsContext(
    const TlsFiles& files);

// Client side: TLS 1.3 only, presents its certificate, verifies the server
// against the CA (and CRL if given). Host name verification is the caller's
// (SetServerHostName on the stream).
Result<std::shared_ptr<boost::asio::ssl::context>> MakeClientTlsContext(
    const TlsFiles& files);

// SIGHUP: replaces the CRLs in `context`'s trust store with those of
// files.crl_file, checked as at start (signed by the CA of files.ca_file,
// not expired). New handshakes use the new list at once; a failed reload
// leaves the old list in place. Safe while other threads handshake with
// the context (OpenSSL's store lock).
Status ReloadCrl(boost::asio::ssl::context& context, const TlsFiles& files);

// The earliest nextUpdate among the CRLs of the file (Unix seconds), 0 when
// none has one: when the readiness check must start failing.
Result<int64_t> CrlNextUpdate(const std::string& crl_file);

// Turns on SNI and RFC 2818 host name checking for a client stream.
Status SetServerHostName(SSL* ssl, const std::string& host);

// Who is on the other end of a verified TLS session: the certificate's subject
// CN and OU. The project's PKI puts the role in OU: "site", "coordinator",
// "admin", "operator", "auditor", "viewer".
struct PeerIdentity {
  std::string common_name;
  std::string role;
  std::string serial_hex;  // uppercase hex, as `openssl x509 -serial` and
                           // the CA's index.txt print it
  Bytes certificate_der;   // the verified certificate itself
};

// Fails with Unauthenticated if the session has no verified peer certificate.
Result<PeerIdentity> GetPeerIdentity(SSL* ssl);

}  // namespace cls::crypto

#endif  // CLS_CRYPTO_TLS_CONTEXT_H_
