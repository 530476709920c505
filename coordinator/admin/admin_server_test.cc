// AdminServer over real mutual TLS (certificates from certs/cls-pki): the
// connections run on the server's own thread, and only AdminApi::Handle on
// the io thread the server is given.

#include "coordinator/admin/admin_server.h"

#include <boost/asio/executor_work_guard.hpp>
#include <thread>

#include <nlohmann/json.hpp>

#include "coordinator/admin/admin_api_test_fixture.h"
#include "crypto/https_test_client.h"

namespace cls::coordinator {
namespace {

namespace http = boost::beast::http;
using crypto::testing::Client;
using crypto::testing::RunPki;

class AdminServerTest : public AdminApiFixture {
 protected:
  void SetUp() override {
    OpenFederation("cls-admin-server");
    pki_ = dir_ / "pki";
    ASSERT_EQ(RunPki(pki_, "init --name 'Admin Test CA'"), 0);
    ASSERT_EQ(RunPki(pki_, "issue coordinator 127.0.0.1"), 0);
    ASSERT_EQ(RunPki(pki_, "issue operator alice --role operator"), 0);
    ASSERT_EQ(RunPki(pki_, "issue site HOSP_A"), 0);
    auto tls = crypto::MakeServerTlsContext(Files("127.0.0.1"));
    ASSERT_TRUE(tls) << tls.error().ToString();
    server_ = std::make_unique<AdminServer>(io_.get_executor(), *tls, *api_);
    auto port = server_->Listen("127.0.0.1", 0);
    ASSERT_TRUE(port) << port.error().ToString();
    port_ = *port;
  }
  void TearDown() override {
    server_.reset();
    StopIoThread();
    AdminApiFixture::TearDown();
  }

  crypto::TlsFiles Files(const std::string& name) const {
    return {(pki_ / "ca.pem").string(),
            (pki_ / "issued" / (name + ".pem")).string(),
            (pki_ / "issued" / (name + ".key")).string(),
            (pki_ / "ca-crl.pem").string()};
  }
  std::unique_ptr<Client> Connect(const std::string& name) {
    auto tls = crypto::MakeClientTlsContext(Files(name));
    EXPECT_TRUE(tls) << tls.error().ToString();
    auto client = std::make_unique<Client>(*tls, port_);
    EXPECT_FALSE(client->Handshake());
    return client;
  }
  // The federation's io thread, as the coordinator's main runs it.
  void StartIoThread() {
    io_thread_ = std::thread([this] {
      auto work = boost::asio::make_work_guard(io_);
      io_.run();
    });
  }
  void StopIoThread() {
    io_.stop();
    if (io_thread_.joinable()) io_thread_.join();
  }

  std::filesystem::path pki_;
  std::unique_ptr<AdminServer> server_;
  uint16_t port_ = 0;
  std::thread io_thread_;
};

TEST_F(AdminServerTest, AnswersAnOperatorAndRefusesASite) {
  StartIoThread();
  auto alice = Connect("alice");
  auto status = alice->Call(http::verb::get, "/v1/status");
  ASSERT_EQ(status.status, 200) << status.body;
  EXPECT_EQ(nlohmann::json::parse(status.body).at("model_version"),
            federation_->admin_services().models.model().version_id);
  // Keep-alive: a second request on the same connection.
  EXPECT_EQ(alice->Call(http::verb::get, "/v1/sites").status, 200);

  auto site = Connect("HOSP_A");
  auto refused = site->Call(http::verb::get, "/v1/status");
  EXPECT_EQ(refused.status, 403);
  EXPECT_NE(refused.body.find("may not use the admin API"), std::string::npos);
}

// The io thread never gets to the request: Stop still returns, the client
// gets no answer, and the request's Handle, run after the server is gone,
// finds the way back closed instead of a destroyed io_context.
TEST_F(AdminServerTest, StopsWithARequestTheIoThreadNeverAnswered) {
  auto alice = Connect("alice");
  crypto::testing::Reply reply;
  std::thread caller(
      [&] { reply = alice->Call(http::verb::get, "/v1/status"); });
  server_->Stop();
  caller.join();
  EXPECT_EQ(reply.status, -1) << reply.body;
  io_.restart();
  io_.poll();
  server_->Stop();  // idempotent
}

}  // namespace
}  // namespace cls::coordinator
