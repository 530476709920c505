// Real TLS 1.3 handshakes over loopback between an in-process server and
// client, with certificates made by certs/cls-pki in a temporary directory.

#include "crypto/tls_context.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <string>

// The build passes the script's path; otherwise find it next to this file.
#ifndef CLS_PKI_SCRIPT
#define CLS_PKI_SCRIPT                                                     \
  (std::filesystem::path(__FILE__).parent_path().parent_path() / "certs" / \
   "cls-pki")                                                              \
      .string()
#endif

namespace cls::crypto {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;
namespace fs = std::filesystem;

constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr char kCoordinator[] = "coord.example";
constexpr char kSite[] = "hospital-a";

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

struct CommandResult {
  int exit_code = -1;
  std::string output;
};

// Runs cls-pki with --dir `dir` (bounded by `timeout`), capturing its output.
CommandResult RunPki(const fs::path& dir,
                     std::initializer_list<std::string> args) {
  std::string cmd = "timeout 60 " + ShellQuote(std::string(CLS_PKI_SCRIPT)) +
                    " --dir " + ShellQuote(dir.string());
  for (const auto& a : args) cmd += " " + ShellQuote(a);
  cmd += " 2>&1";
  CommandResult result;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return result;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0)
    result.output.append(buf, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// The ssl_category error's OpenSSL reason code, or -1 for other errors.
int SslReason(const boost::system::error_code& ec) {
  if (ec.category() != asio::error::get_ssl_category()) return -1;
  return ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
}

struct HandshakeOutcome {
  bool timed_out = false;
  boost::system::error_code server_error;
  boost::system::error_code client_error;
  long server_verify_result = -1;  // SSL_get_verify_result on the server side
  long client_verify_result = -1;
  Result<PeerIdentity> server_peer = MakeError(ErrorCode::kInternal, "not run");
  Result<PeerIdentity> client_peer = MakeError(ErrorCode::kInternal, "not run");
};

std::string Describe(const HandshakeOutcome& o) {
  auto peer = [](const Result<PeerIdentity>& p) {
    return p ? "CN=" + p->common_name + " OU=" + p->role : p.error().ToString();
  };
  return "server: '" + o.server_error.message() +
         "' verify=" + X509_verify_cert_error_string(o.server_verify_result) +
         " peer=" + peer(o.server_peer) + "\nclient: '" +
         o.client_error.message() +
         "' verify=" + X509_verify_cert_error_string(o.client_verify_result) +
         " peer=" + peer(o.client_peer) + (o.timed_out ? "\nTIMED OUT" : "");
}

// One server and one client handshake over 127.0.0.1 on a single io_context,
// bounded by kHandshakeTimeout. The client checks the server against `host`.
HandshakeOutcome RunHandshake(ssl::context& server_ctx,
                              ssl::context& client_ctx,
                              const std::string& host = "localhost") {
  HandshakeOutcome out;
  asio::io_context io;
  tcp::acceptor acceptor(io,
                         tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  ssl::stream<tcp::socket> server(io, server_ctx);
  ssl::stream<tcp::socket> client(io, client_ctx);
  if (auto st = SetServerHostName(client.native_handle(), host); !st) {
    ADD_FAILURE() << st.error().ToString();
    return out;
  }

  asio::steady_timer timer(io, kHandshakeTimeout);
  int finished = 0;
  auto done = [&] {
    if (++finished == 2) timer.cancel();
  };
  timer.async_wait([&](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: both sides finished
    out.timed_out = true;
    boost::system::error_code ignored;
    acceptor.close(ignored);
    server.lowest_layer().close(ignored);
    client.lowest_layer().close(ignored);
  });

  acceptor.async_accept(
      server.lowest_layer(), [&](const boost::system::error_code& ec) {
        if (ec) {
          out.server_error = ec;
          done();
          return;
        }
        server.async_handshake(
            ssl::stream_base::server,
            [&](const boost::system::error_code& hec) {
              out.server_error = hec;
              out.server_verify_result =
                  SSL_get_verify_result(server.native_handle());
              out.server_peer = GetPeerIdentity(server.native_handle());
              // Close so a client still waiting for data sees the end of the
              // stream.
              boost::system::error_code ignored;
              server.lowest_layer().shutdown(tcp::socket::shutdown_both,
                                             ignored);
              done();
            });
      });
  client.lowest_layer().async_connect(
      acceptor.local_endpoint(), [&](const boost::system::error_code& ec) {
        if (ec) {
          out.client_error = ec;
          done();
          return;
        }
        client.async_handshake(
            ssl::stream_base::client,
            [&](const boost::system::error_code& hec) {
              out.client_error = hec;
              out.client_verify_result =
                  SSL_get_verify_result(client.native_handle());
              out.client_peer = GetPeerIdentity(client.native_handle());
              done();
            });
      });
  io.run_for(kHandshakeTimeout + std::chrono::seconds(5));
  return out;
}

class TlsContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/cls-tls-test.XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    root_ = templ;
    pki_ = root_ / "pki";
    Pki(pki_, {"init", "--name", "Test Consortium CA"});
    Pki(pki_, {"issue", "coordinator", kCoordinator});
    Pki(pki_, {"issue", "site", kSite});
  }

  void TearDown() override {
    std::error_code ec;
    if (!root_.empty()) fs::remove_all(root_, ec);
  }

  // Runs cls-pki and fails the test if it does not succeed.
  void Pki(const fs::path& dir, std::initializer_list<std::string> args) {
    const CommandResult r = RunPki(dir, args);
    ASSERT_EQ(r.exit_code, 0) << "cls-pki failed:\n" << r.output;
  }

  TlsFiles ServerFiles() const {
    return {.ca_file = (pki_ / "ca.pem").string(),
            .cert_file = Issued(pki_, kCoordinator, ".pem"),
            .key_file = Issued(pki_, kCoordinator, ".key"),
            .crl_file = (pki_ / "ca-crl.pem").string()};
  }

  // A client identity `name` from PKI `dir`, trusting this test's main CA.
  TlsFiles ClientFiles(const std::string& name) const {
    return ClientFiles(pki_, name);
  }
  TlsFiles ClientFiles(const fs::path& dir, const std::string& name) const {
    return {.ca_file = (pki_ / "ca.pem").string(),
            .cert_file = Issued(dir, name, ".pem"),
            .key_file = Issued(dir, name, ".key"),
            .crl_file = (pki_ / "ca-crl.pem").string()};
  }

  static std::string Issued(const fs::path& dir, const std::string& name,
                            const char* ext) {
    return (dir / "issued" / (name + ext)).string();
  }

  std::shared_ptr<ssl::context> Server() {
    auto ctx = MakeServerTlsContext(ServerFiles());
    EXPECT_TRUE(ctx.has_value()) << ctx.error().ToString();
    return ctx ? *ctx : nullptr;
  }
  std::shared_ptr<ssl::context> Client(const TlsFiles& files) {
    auto ctx = MakeClientTlsContext(files);
    EXPECT_TRUE(ctx.has_value()) << ctx.error().ToString();
    return ctx ? *ctx : nullptr;
  }

  // The handshake failed on the server and the server has no identity.
  static void ExpectServerRefused(const HandshakeOutcome& o) {
    EXPECT_FALSE(o.timed_out) << Describe(o);
    EXPECT_TRUE(o.server_error) << Describe(o);
    ASSERT_FALSE(o.server_peer.has_value()) << Describe(o);
    EXPECT_EQ(o.server_peer.error().code, ErrorCode::kUnauthenticated);
  }

  fs::path root_;
  fs::path pki_;
};

TEST_F(TlsContextTest, AcceptsSiteWithValidCertificate) {
  auto server = Server();
  auto client = Client(ClientFiles(kSite));
  ASSERT_TRUE(server && client);
  const HandshakeOutcome o = RunHandshake(*server, *client);
  ASSERT_FALSE(o.timed_out) << Describe(o);
  ASSERT_FALSE(o.server_error) << Describe(o);
  ASSERT_FALSE(o.client_error) << Describe(o);

  ASSERT_TRUE(o.server_peer.has_value()) << Describe(o);
  EXPECT_EQ(o.server_peer->common_name, kSite);
  EXPECT_EQ(o.server_peer->role, "site");
  // The serial is the one cls-pki recorded (openssl x509 -serial format).
  const CommandResult list = RunPki(pki_, {"list"});
  EXPECT_FALSE(o.server_peer->serial_hex.empty());
  EXPECT_NE(list.output.find("serial " + o.server_peer->serial_hex),
            std::string::npos)
      << list.output;

  ASSERT_TRUE(o.client_peer.has_value()) << Describe(o);
  EXPECT_EQ(o.client_peer->common_name, kCoordinator);
  EXPECT_EQ(o.client_peer->role, "coordinator");
}

TEST_F(TlsContextTest, AcceptsOperatorAndReportsRole) {
  Pki(pki_, {"issue", "operator", "alice", "--role", "auditor"});
  auto server = Server();
  auto client = Client(ClientFiles("alice"));
  ASSERT_TRUE(server && client);
  const HandshakeOutcome o = RunHandshake(*server, *client);
  ASSERT_FALSE(o.server_error) << Describe(o);
  ASSERT_TRUE(o.server_peer.has_value()) << Describe(o);
  EXPECT_EQ(o.server_peer->common_name, "alice");
  EXPECT_EQ(o.server_peer->role, "auditor");
}

TEST_F(TlsContextTest, ClientAcceptsServerByIpAddress) {
  auto server = Server();
  auto client = Client(ClientFiles(kSite));
  ASSERT_TRUE(server && client);
  const HandshakeOutcome o = RunHandshake(*server, *client, "127.0.0.1");
  EXPECT_FALSE(o.client_error) << Describe(o);
  EXPECT_FALSE(o.server_error) << Describe(o);
  EXPECT_TRUE(o.server_peer.has_value()) << Describe(o);
}

TEST_F(TlsContextTest, RefusesTls12Client) {
  auto server = Server();
  auto client = Client(ClientFiles(kSite));
  ASSERT_TRUE(server && client);
  SSL_CTX* c = client->native_handle();
  ASSERT_EQ(SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION), 1);
  ASSERT_EQ(SSL_CTX_set_max_proto_version(c, TLS1_2_VERSION), 1);

  const HandshakeOutcome o = RunHandshake(*server, *client);
  ExpectServerRefused(o);
  EXPECT_EQ(SslReason(o.server_error), SSL_R_UNSUPPORTED_PROTOCOL)
      << Describe(o);
  EXPECT_TRUE(o.client_error) << Describe(o);
}

TEST_F(TlsContextTest, RefusesClientWithoutCertificate) {
  auto server = Server();
  ASSERT_TRUE(server);
  // A TLS 1.3 client that trusts the CA but has no certificate of its own.
  ssl::context client(ssl::context::tls_client);
  ASSERT_EQ(
      SSL_CTX_set_min_proto_version(client.native_handle(), TLS1_3_VERSION), 1);
  ASSERT_EQ(
      SSL_CTX_set_max_proto_version(client.native_handle(), TLS1_3_VERSION), 1);
  client.load_verify_file((pki_ / "ca.pem").string());
  client.set_verify_mode(ssl::verify_peer);

  const HandshakeOutcome o = RunHandshake(*server, client);
  ExpectServerRefused(o);
  EXPECT_EQ(SslReason(o.server_error), SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
      << Describe(o);
}

TEST_F(TlsContextTest, RefusesCertificateFromAnotherCa) {
  const fs::path other = root_ / "other-pki";
  Pki(other, {"init", "--name", "Test Consortium CA"});  // same name, other key
  Pki(other, {"issue", "site", kSite});
  auto server = Server();
  auto client = Client(ClientFiles(other, kSite));  // still trusts our CA
  ASSERT_TRUE(server && client);

  const HandshakeOutcome o = RunHandshake(*server, *client);
  ExpectServerRefused(o);
  EXPECT_EQ(SslReason(o.server_error), SSL_R_CERTIFICATE_VERIFY_FAILED)
      << Describe(o);
  EXPECT_TRUE(o.server_verify_result == X509_V_ERR_CERT_SIGNATURE_FAILURE ||
              o.server_verify_result ==
                  X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY)
      << Describe(o);
}

TEST_F(TlsContextTest, RefusesRevokedCertificate) {
  Pki(pki_, {"issue", "site", "hospital-r"});
  {  // Accepted before revocation.
    auto server = Server();
    auto client = Client(ClientFiles("hospital-r"));
    ASSERT_TRUE(server && client);
    const HandshakeOutcome o = RunHandshake(*server, *client);
    ASSERT_FALSE(o.server_error) << Describe(o);
  }
  Pki(pki_, {"revoke", "hospital-r"});  // also regenerates ca-crl.pem

  auto server = Server();  // new context: loads the new CRL
  auto client = Client(ClientFiles("hospital-r"));
  ASSERT_TRUE(server && client);
  const HandshakeOutcome o = RunHandshake(*server, *client);
  ExpectServerRefused(o);
  EXPECT_EQ(o.server_verify_result, X509_V_ERR_CERT_REVOKED) << Describe(o);

  // Other sites are unaffected.
  auto good = Client(ClientFiles(kSite));
  ASSERT_TRUE(good);
  const HandshakeOutcome ok = RunHandshake(*server, *good);
  EXPECT_FALSE(ok.server_error) << Describe(ok);
  EXPECT_TRUE(ok.server_peer.has_value()) << Describe(ok);
}

TEST_F(TlsContextTest, ReloadingTheCrlRefusesARevokedSiteOnTheSameContext) {
  Pki(pki_, {"issue", "site", "hospital-r"});
  auto server = Server();  // kept: what a running daemon holds
  auto revoked = Client(ClientFiles("hospital-r"));
  ASSERT_TRUE(server && revoked);
  ASSERT_FALSE(RunHandshake(*server, *revoked).server_error);

  Pki(pki_, {"revoke", "hospital-r"});  // regenerates ca-crl.pem
  // Before the reload the context still has the old list.
  ASSERT_FALSE(RunHandshake(*server, *revoked).server_error);
  auto next_update = CrlNextUpdate(ServerFiles().crl_file);
  ASSERT_TRUE(next_update);
  EXPECT_GT(*next_update, std::time(nullptr));

  ASSERT_TRUE(ReloadCrl(*server, ServerFiles()));
  const HandshakeOutcome o = RunHandshake(*server, *revoked);
  ExpectServerRefused(o);
  EXPECT_EQ(o.server_verify_result, X509_V_ERR_CERT_REVOKED) << Describe(o);
  // Exactly one CRL is left in the store: the old one is gone, or an
  // equally scored old list could still be chosen.
  int crls = 0;
  X509_STORE* store = SSL_CTX_get_cert_store(server->native_handle());
  STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(store);
  for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
    if (X509_OBJECT_get_type(sk_X509_OBJECT_value(objects, i)) == X509_LU_CRL) {
      ++crls;
    }
  }
  EXPECT_EQ(crls, 1);

  // Other sites are unaffected; a second reload of the same file is a no-op.
  ASSERT_TRUE(ReloadCrl(*server, ServerFiles()));
  auto good = Client(ClientFiles(kSite));
  ASSERT_TRUE(good);
  EXPECT_FALSE(RunHandshake(*server, *good).server_error);
}

TEST_F(TlsContextTest, AFailedCrlReloadKeepsTheListInUse) {
  Pki(pki_, {"issue", "site", "hospital-r"});
  auto server = Server();
  ASSERT_TRUE(server);
  Pki(pki_, {"revoke", "hospital-r"});
  ASSERT_TRUE(ReloadCrl(*server, ServerFiles()));
  auto revoked = Client(ClientFiles("hospital-r"));  // reads the CRL too
  ASSERT_TRUE(revoked);
  // A CRL file cut in half (a copy in progress): refused, and the revoked
  // site stays refused.
  const std::string crl = ServerFiles().crl_file;
  std::string text;
  {
    std::ifstream in(crl);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::ofstream(crl, std::ios::trunc) << text.substr(0, text.size() / 2);
  auto failed = ReloadCrl(*server, ServerFiles());
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().message.find(crl), std::string::npos)
      << failed.error().message;
  ExpectServerRefused(RunHandshake(*server, *revoked));
}

TEST_F(TlsContextTest, RefusesExpiredCertificate) {
  Pki(pki_, {"issue", "site", "hospital-old", "--not-before", "20200101000000Z",
             "--not-after", "20200102000000Z"});
  auto server = Server();
  auto client = Client(ClientFiles("hospital-old"));
  ASSERT_TRUE(server && client);
  const HandshakeOutcome o = RunHandshake(*server, *client);
  ExpectServerRefused(o);
  EXPECT_EQ(o.server_verify_result, X509_V_ERR_CERT_HAS_EXPIRED) << Describe(o);
}

TEST_F(TlsContextTest, ClientRefusesServerWithWrongHostName) {
  auto server = Server();
  auto client = Client(ClientFiles(kSite));
  ASSERT_TRUE(server && client);
  const HandshakeOutcome o = RunHandshake(*server, *client, "other.example");
  EXPECT_TRUE(o.client_error) << Describe(o);
  EXPECT_EQ(o.client_verify_result, X509_V_ERR_HOSTNAME_MISMATCH)
      << Describe(o);
  EXPECT_FALSE(o.client_peer.has_value());
  ExpectServerRefused(o);
}

TEST_F(TlsContextTest, ClientRefusesSiteCertificateAsServer) {
  // A site certificate (clientAuth only) cannot act as a coordinator.
  TlsFiles files = ServerFiles();
  files.cert_file = Issued(pki_, kSite, ".pem");
  files.key_file = Issued(pki_, kSite, ".key");
  auto server = MakeServerTlsContext(files);
  ASSERT_TRUE(server.has_value()) << server.error().ToString();
  auto client = Client(ClientFiles(kSite));
  ASSERT_TRUE(client);
  const HandshakeOutcome o = RunHandshake(**server, *client, kSite);
  EXPECT_TRUE(o.client_error) << Describe(o);
  EXPECT_EQ(o.client_verify_result, X509_V_ERR_INVALID_PURPOSE) << Describe(o);
  ExpectServerRefused(o);
}

TEST_F(TlsContextTest, ServerContextReportsMissingFileByName) {
  const std::string missing = (root_ / "no-such-dir" / "missing.pem").string();
  for (auto field : {&TlsFiles::ca_file, &TlsFiles::cert_file,
                     &TlsFiles::key_file, &TlsFiles::crl_file}) {
    TlsFiles files = ServerFiles();
    files.*field = missing;
    auto ctx = MakeServerTlsContext(files);
    ASSERT_FALSE(ctx.has_value());
    EXPECT_EQ(ctx.error().code, ErrorCode::kNotFound);
    EXPECT_NE(ctx.error().message.find(missing), std::string::npos)
        << ctx.error().message;
  }
  TlsFiles files = ServerFiles();
  files.cert_file = missing;
  auto ctx = MakeServerTlsContext(files);
  ASSERT_FALSE(ctx.has_value());
  EXPECT_EQ(ctx.error().message,
            "tls: cannot read certificate " + missing + ": no such file");
}

TEST_F(TlsContextTest, ServerContextRequiresCrl) {
  TlsFiles files = ServerFiles();
  files.crl_file.clear();
  auto ctx = MakeServerTlsContext(files);
  ASSERT_FALSE(ctx.has_value());
  EXPECT_NE(ctx.error().message.find("CRL"), std::string::npos);
  // A client may go without one.
  TlsFiles client = ClientFiles(kSite);
  client.crl_file.clear();
  EXPECT_TRUE(MakeClientTlsContext(client).has_value());
}

TEST_F(TlsContextTest, ReportsKeyThatDoesNotMatchCertificate) {
  TlsFiles files = ServerFiles();
  files.key_file = Issued(pki_, kSite, ".key");
  auto ctx = MakeServerTlsContext(files);
  ASSERT_FALSE(ctx.has_value());
  EXPECT_NE(ctx.error().message.find("does not match"), std::string::npos)
      << ctx.error().message;
  EXPECT_NE(ctx.error().message.find(files.key_file), std::string::npos);
}

TEST_F(TlsContextTest, ReportsEncryptedKeyWithoutPrompting) {
  const fs::path encrypted = root_ / "encrypted.key";
  const std::string cmd = "openssl pkey -aes256 -passout pass:secret -in " +
                          ShellQuote(Issued(pki_, kCoordinator, ".key")) +
                          " -out " + ShellQuote(encrypted.string()) +
                          " </dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  TlsFiles files = ServerFiles();
  files.key_file = encrypted.string();
  auto ctx = MakeServerTlsContext(files);  // must not wait for a passphrase
  ASSERT_FALSE(ctx.has_value());
  EXPECT_NE(
      ctx.error().message.find("cannot read private key " + encrypted.string()),
      std::string::npos)
      << ctx.error().message;
}

TEST_F(TlsContextTest, ReportsUnparsableFilesByName) {
  const fs::path junk = root_ / "junk.pem";
  std::ofstream(junk) << "not a certificate\n";
  for (auto field : {&TlsFiles::ca_file, &TlsFiles::cert_file,
                     &TlsFiles::key_file, &TlsFiles::crl_file}) {
    TlsFiles files = ServerFiles();
    files.*field = junk.string();
    auto ctx = MakeServerTlsContext(files);
    ASSERT_FALSE(ctx.has_value());
    EXPECT_EQ(ctx.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(ctx.error().message.find(junk.string()), std::string::npos)
        << ctx.error().message;
  }
}

TEST_F(TlsContextTest, RefusesCrlFromAnotherCa) {
  const fs::path other = root_ / "other-pki";
  Pki(other, {"init"});
  TlsFiles files = ServerFiles();
  files.crl_file = (other / "ca-crl.pem").string();
  auto ctx = MakeServerTlsContext(files);
  ASSERT_FALSE(ctx.has_value());
  EXPECT_NE(ctx.error().message.find("not signed by the CA"), std::string::npos)
      << ctx.error().message;
}

TEST_F(TlsContextTest, GetPeerIdentityWithoutHandshakeIsUnauthenticated) {
  auto server = Server();
  ASSERT_TRUE(server);
  asio::io_context io;
  ssl::stream<tcp::socket> stream(io, *server);
  auto id = GetPeerIdentity(stream.native_handle());
  ASSERT_FALSE(id.has_value());
  EXPECT_EQ(id.error().code, ErrorCode::kUnauthenticated);
  EXPECT_FALSE(GetPeerIdentity(nullptr).has_value());
  EXPECT_FALSE(SetServerHostName(stream.native_handle(), "").has_value());
}

}  // namespace
}  // namespace cls::crypto
