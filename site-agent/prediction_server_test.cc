// Real HTTPS over loopback: the prediction server on its own io_context
// thread, a Beast client with a project certificate, certificates made by
// certs/cls-pki in a temporary directory.

#include "site-agent/prediction_server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdio>
#include <thread>

#include "crypto/tls_context.h"
#include "site-agent/serving_test_util.h"
#include "site-agent/test_util.h"

#ifndef CLS_PKI_SCRIPT
#define CLS_PKI_SCRIPT "certs/cls-pki"
#endif

namespace cls::site {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace fs = std::filesystem;
using nlohmann::json;
using testing::Client;
using testing::MakeUpdate;
using testing::MakeVersion;
using testing::Reply;
using testing::RunPki;
using testing::TempDir;

class PredictionServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = dir_.path() / "pki";
    ASSERT_EQ(RunPki(pki_, "init --name 'Serving Test CA'"), 0);
    // The serving certificate needs serverAuth and the address in its
    // subjectAltName, as a coordinator certificate has.
    ASSERT_EQ(RunPki(pki_, "issue coordinator 127.0.0.1"), 0);
    // The hospital's EHR: the role the endpoint accepts by default.
    ASSERT_EQ(RunPki(pki_, "issue ehr ehr-client"), 0);

    auto service = PredictionService::Create({}, testing::ServingSchema(),
                                             testing::ServingStandardiser(),
                                             dir_.path() / "state");
    ASSERT_TRUE(service) << service.error().ToString();
    service_ = std::move(*service);
    const auto ack = service_->OnDeploymentUpdate(MakeUpdate(
        "dep-1", "immediate", MakeVersion("v1", 2.0f), nullptr, 0, ""));
    ASSERT_TRUE(ack.accepted) << ack.reason;
  }

  // With client certificates, `policy` says who may call (as SiteServing
  // sets it from [serve]); without, nobody is identified.
  void Start(bool require_client_cert, size_t body_limit = 64 * 1024,
             ClientPolicy policy = ClientPolicy{}) {
    TlsConfig tls{(pki_ / "ca.pem").string(),
                  (pki_ / "issued" / "127.0.0.1.pem").string(),
                  (pki_ / "issued" / "127.0.0.1.key").string(),
                  (pki_ / "ca-crl.pem").string()};
    auto context = MakePredictionTlsContext(tls, require_client_cert);
    ASSERT_TRUE(context) << context.error().ToString();
    PredictionServerOptions options;
    options.port = 0;
    options.body_limit = body_limit;
    if (require_client_cert) {
      options.client_policy = std::move(policy);
    } else {
      options.client_policy = std::nullopt;
    }
    server_ =
        std::make_unique<PredictionServer>(io_, *context, *service_, options);
    auto port = server_->Listen();
    ASSERT_TRUE(port) << port.error().ToString();
    port_ = *port;
    work_.emplace(io_.get_executor());
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    if (thread_.joinable()) {
      asio::post(io_, [this] { server_->Stop(); });
      work_.reset();
      io_.stop();
      thread_.join();
    }
  }

  std::shared_ptr<ssl::context> ClientTls(bool with_cert) {
    crypto::TlsFiles files{(pki_ / "ca.pem").string(),
                           (pki_ / "issued" / "ehr-client.pem").string(),
                           (pki_ / "issued" / "ehr-client.key").string(), ""};
    if (with_cert) return *crypto::MakeClientTlsContext(files);
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    ctx->load_verify_file(files.ca_file);
    ctx->set_verify_mode(ssl::verify_peer);
    return ctx;
  }

  // Mutual TLS with DIR/issued/NAME.pem.
  std::shared_ptr<ssl::context> ClientTlsFor(const std::string& name) {
    crypto::TlsFiles files{(pki_ / "ca.pem").string(),
                           (pki_ / "issued" / (name + ".pem")).string(),
                           (pki_ / "issued" / (name + ".key")).string(), ""};
    auto context = crypto::MakeClientTlsContext(files);
    EXPECT_TRUE(context) << context.error().ToString();
    return *context;
  }

  // A 3-class service (softmax over the same features, class 2 favoured)
  // in place of the binary one, before Start.
  void UseThreeClasses() {
    core::DatasetSchema schema = testing::ServingSchema();
    schema.label.classes = {0, 1, 2};
    const core::ModelSpec spec{
        core::ModelKind::kSoftmaxRegression, 6, 3, {}, "relu"};
    std::vector<float> p(static_cast<size_t>(spec.NumParameters()), 0.0f);
    p.back() = 2.0f;  // bias of class 2
    auto service = PredictionService::Create(
        {}, schema, testing::ServingStandardiser(), dir_.path() / "state3");
    ASSERT_TRUE(service) << service.error().ToString();
    service_ = std::move(*service);
    const ServedVersion v{"v1_softmax", ModelHash(p), p, spec.ToString()};
    const auto ack = service_->OnDeploymentUpdate(
        MakeUpdate("dep-1", "immediate", v, nullptr, 0, ""));
    ASSERT_TRUE(ack.accepted) << ack.reason;
  }

  TempDir dir_;
  fs::path pki_;
  std::unique_ptr<PredictionService> service_;
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>>
      work_;
  std::unique_ptr<PredictionServer> server_;
  std::thread thread_;
  uint16_t port_ = 0;
};

TEST_F(PredictionServerTest,
       ServesPredictOutcomeMetricsAndHealthOnOneConnection) {
  Start(/*require_client_cert=*/true);
  Client client(ClientTls(true), port_);
  ASSERT_FALSE(client.Handshake());

  Reply health = client.Call(http::verb::get, "/healthz");
  EXPECT_EQ(health.status, 200) << health.body;
  EXPECT_EQ(json::parse(health.body)["current_version"], "v1");

  Reply predict = client.Call(
      http::verb::post, "/v1/predict",
      R"({"request_key":"enc-1","features":{"age":70,"chol":250,"cp":2}})");
  ASSERT_EQ(predict.status, 200) << predict.body;
  const json p = json::parse(predict.body);
  EXPECT_EQ(p["version_id"], "v1");
  EXPECT_EQ(p["label"], 1);
  EXPECT_GT(p["probability"].get<double>(), 0.5);
  EXPECT_EQ(p["model"], "deployed");  // which model answered (issue 14)
  // Every kind's class probabilities and predicted class, too.
  EXPECT_EQ(p.size(), 6u);
  EXPECT_EQ(p["predicted_class"], "1");
  EXPECT_NEAR(p["probabilities"]["1"].get<double>(),
              p["probability"].get<double>(), 1e-6);
  EXPECT_NEAR(p["probabilities"]["0"].get<double>() +
                  p["probabilities"]["1"].get<double>(),
              1.0, 1e-6);

  Reply outcome = client.Call(http::verb::post, "/v1/outcome",
                              R"({"request_key":"enc-1","outcome":1})");
  EXPECT_EQ(outcome.status, 200) << outcome.body;
  Reply twice = client.Call(http::verb::post, "/v1/outcome",
                            R"({"request_key":"enc-1","outcome":true})");
  EXPECT_EQ(twice.status, 409) << twice.body;
  Reply unknown = client.Call(http::verb::post, "/v1/outcome",
                              R"({"request_key":"enc-2","outcome":0})");
  EXPECT_EQ(unknown.status, 404) << unknown.body;

  Reply metrics = client.Call(http::verb::get, "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.content_type, "text/plain; version=0.0.4");
  EXPECT_NE(metrics.body.find("cls_predictions_total{version=\"v1\"} 1"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("cls_accuracy{version=\"v1\"} 1"),
            std::string::npos);
}

// A 3-class site takes class indices 0..2 as outcomes and refuses anything
// else naming the range. Failed before: true was recorded as class 1 (a
// binary model's "yes" names no class of three), so a client used to binary
// sites silently counted wrong outcomes into the drift monitor and the
// rollout comparison; and the refusal of 3 did not say 0..2.
TEST_F(PredictionServerTest, ThreeClassSiteTakesOnlyClassIndicesAsOutcomes) {
  ASSERT_NO_FATAL_FAILURE(UseThreeClasses());
  Start(/*require_client_cert=*/true);
  Client client(ClientTls(true), port_);
  ASSERT_FALSE(client.Handshake());
  Reply predict = client.Call(
      http::verb::post, "/v1/predict",
      R"({"request_key":"enc-1","features":{"age":70,"chol":250,"cp":2}})");
  ASSERT_EQ(predict.status, 200) << predict.body;
  const json p = json::parse(predict.body);
  EXPECT_EQ(p["label"], 2) << p.dump();
  EXPECT_EQ(p["predicted_class"], "2") << p.dump();
  ASSERT_EQ(p["probabilities"].size(), 3u) << p.dump();

  for (const char* bad : {"true", "false", "3", "-1", "1.5", "\"2\""}) {
    Reply r = client.Call(
        http::verb::post, "/v1/outcome",
        std::string(R"({"request_key":"enc-1","outcome":)") + bad + "}");
    EXPECT_EQ(r.status, 400) << bad << " " << r.body;
    EXPECT_EQ(json::parse(r.body)["error"]["message"],
              "outcome must be a class index 0..2")
        << bad;
  }
  Reply right = client.Call(http::verb::post, "/v1/outcome",
                            R"({"request_key":"enc-1","outcome":2})");
  EXPECT_EQ(right.status, 200) << right.body;
  // One outcome, the right one: none of the refused ones was counted.
  Reply metrics = client.Call(http::verb::get, "/metrics");
  EXPECT_NE(metrics.body.find("cls_outcomes_total{version=\"v1_softmax\"} 1"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("cls_accuracy{version=\"v1_softmax\"} 1"),
            std::string::npos)
      << metrics.body;
}

TEST_F(PredictionServerTest, RefusesBadRequestsWithoutEchoingThem) {
  Start(/*require_client_cert=*/true);
  Client client(ClientTls(true), port_);
  ASSERT_FALSE(client.Handshake());
  const struct {
    http::verb verb;
    std::string target;
    std::string body;
    int status;
    std::string message;
  } cases[] = {
      {http::verb::post, "/v1/predict", "{not json PATIENT-77", 400,
       "body is not valid JSON"},
      {http::verb::post, "/v1/predict", R"({"features":{}})", 400,
       "request_key (a string) is required"},
      {http::verb::post, "/v1/predict",
       R"({"request_key":"k","features":{"age":"PATIENT-77"}})", 400,
       "feature 'age': not a number"},
      {http::verb::post, "/v1/outcome", R"({"request_key":"k","outcome":2})",
       400, "outcome must be 0, 1, true or false"},
      {http::verb::get, "/v1/predict", "", 405, "use POST"},
      {http::verb::post, "/metrics", "{}", 405, "use GET"},
      {http::verb::get, "/v2/anything", "", 404, "no such endpoint"},
  };
  for (const auto& c : cases) {
    Reply r = client.Call(c.verb, c.target, c.body);
    EXPECT_EQ(r.status, c.status) << c.target << " " << r.body;
    EXPECT_EQ(json::parse(r.body)["error"]["message"], c.message);
    EXPECT_EQ(r.body.find("PATIENT"), std::string::npos) << r.body;
  }
  Reply metrics = client.Call(http::verb::get, "/metrics");
  EXPECT_NE(metrics.body.find(
                "cls_requests_rejected_total{reason=\"bad_request\"} 4"),
            std::string::npos)
      << metrics.body;
}

TEST_F(PredictionServerTest, RefusesAClientWithoutACertificate) {
  Start(/*require_client_cert=*/true);
  Client client(ClientTls(false), port_);
  // TLS 1.3: the client's handshake may complete before the server's
  // refusal arrives; the first request then fails.
  if (!client.Handshake()) {
    EXPECT_EQ(client.Call(http::verb::get, "/healthz").status, -1);
  }
}

TEST_F(PredictionServerTest, AcceptsAnyClientWhenClientCertificatesAreOff) {
  Start(/*require_client_cert=*/false);
  Client client(ClientTls(false), port_);
  ASSERT_FALSE(client.Handshake());
  EXPECT_EQ(client.Call(http::verb::get, "/healthz").status, 200);
}

// The project CA also signs every other hospital's site certificate: that
// is no reason to let another hospital score or label this site's patients.
TEST_F(PredictionServerTest, RefusesAnotherHospitalsSiteCertificateWith403) {
  Start(/*require_client_cert=*/true);
  ASSERT_EQ(RunPki(pki_, "issue site HOSP_B"), 0);
  Client client(ClientTlsFor("HOSP_B"), port_);
  // The TLS handshake succeeds (the certificate is the project CA's); every
  // request is then refused with 403 and the connection closed.
  ASSERT_FALSE(client.Handshake());
  Reply r = client.Call(
      http::verb::post, "/v1/predict",
      R"({"request_key":"enc-1","features":{"age":70,"chol":250,"cp":2}})");
  EXPECT_EQ(r.status, 403) << r.body;
  if (r.status == 403) {
    EXPECT_EQ(json::parse(r.body)["error"]["message"],
              "certificate 'HOSP_B' (role site) may not call this endpoint");
  }
  Client again(ClientTlsFor("HOSP_B"), port_);
  ASSERT_FALSE(again.Handshake());
  Reply outcome = again.Call(http::verb::post, "/v1/outcome",
                             R"({"request_key":"enc-1","outcome":1})");
  EXPECT_EQ(outcome.status, 403) << outcome.body;
}

TEST_F(PredictionServerTest, RefusesAnOperatorCertificateByDefault) {
  ASSERT_EQ(RunPki(pki_, "issue operator alice --role operator"), 0);
  Start(/*require_client_cert=*/true);
  Client refused(ClientTlsFor("alice"), port_);
  ASSERT_FALSE(refused.Handshake());
  Reply r = refused.Call(http::verb::get, "/healthz");
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(json::parse(r.body)["error"]["message"],
            "certificate 'alice' (role operator) may not call this endpoint");
}

TEST_F(PredictionServerTest, ServesAnOperatorCertificateWhenItsRoleIsListed) {
  ASSERT_EQ(RunPki(pki_, "issue operator alice --role operator"), 0);
  Start(/*require_client_cert=*/true, 64 * 1024,
        ClientPolicy{{"ehr", "operator"}, ""});
  Client allowed(ClientTlsFor("alice"), port_);
  ASSERT_FALSE(allowed.Handshake());
  Reply predict = allowed.Call(
      http::verb::post, "/v1/predict",
      R"({"request_key":"enc-1","features":{"age":70,"chol":250,"cp":2}})");
  EXPECT_EQ(predict.status, 200) << predict.body;
}

TEST_F(PredictionServerTest, ServesThisSitesOwnCertificateOnlyWhenAllowed) {
  ASSERT_EQ(RunPki(pki_, "issue site HOSP_A"), 0);
  ASSERT_EQ(RunPki(pki_, "issue site HOSP_B"), 0);
  Start(/*require_client_cert=*/true, 64 * 1024,
        ClientPolicy{{"ehr"}, "HOSP_A"});
  Client own(ClientTlsFor("HOSP_A"), port_);
  ASSERT_FALSE(own.Handshake());
  EXPECT_EQ(own.Call(http::verb::get, "/healthz").status, 200);
  Client other(ClientTlsFor("HOSP_B"), port_);
  ASSERT_FALSE(other.Handshake());
  Reply r = other.Call(http::verb::get, "/healthz");
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(json::parse(r.body)["error"]["message"],
            "certificate 'HOSP_B' (role site) may not call this endpoint");
  Client ehr(ClientTls(true), port_);
  ASSERT_FALSE(ehr.Handshake());
  EXPECT_EQ(ehr.Call(http::verb::get, "/healthz").status, 200);
}

TEST(ClientPolicyTest, AdmitsListedRolesAndOnlyThisSitesOwnSiteCertificate) {
  const ClientPolicy policy{{"ehr", "admin"}, "HOSP_A"};
  EXPECT_EQ(ClientRefusal(policy, "epic", "ehr"), "");
  EXPECT_EQ(ClientRefusal(policy, "alice", "admin"), "");
  EXPECT_EQ(ClientRefusal(policy, "HOSP_A", "site"), "");
  EXPECT_EQ(ClientRefusal(policy, "HOSP_B", "site"),
            "certificate 'HOSP_B' (role site) may not call this endpoint");
  EXPECT_EQ(ClientRefusal(policy, "coord", "coordinator"),
            "certificate 'coord' (role coordinator) may not call this "
            "endpoint");
  EXPECT_EQ(ClientRefusal(policy, "x", ""),
            "certificate 'x' (role none) may not call this endpoint");
  // "site" in the role list still admits no other hospital.
  EXPECT_NE(ClientRefusal({{"site"}, ""}, "HOSP_B", "site"), "");
  EXPECT_NE(ClientRefusal({{"ehr"}, ""}, "HOSP_A", "site"), "");
}

TEST_F(PredictionServerTest, AnswersAnOversizeBodyWith413) {
  Start(/*require_client_cert=*/true, /*body_limit=*/1024);
  Client client(ClientTls(true), port_);
  ASSERT_FALSE(client.Handshake());
  Reply r =
      client.Call(http::verb::post, "/v1/predict",
                  R"({"request_key":")" + std::string(4000, 'x') + R"("})");
  EXPECT_EQ(r.status, 413) << r.body;
}

TEST(PredictionServerConfigTest, ParsesListenAddresses) {
  auto v4 = ParseListenAddress("127.0.0.1:8443", "serve.listen");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->first, "127.0.0.1");
  EXPECT_EQ(v4->second, 8443);
  auto v6 = ParseListenAddress("[::1]:0", "serve.listen");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->first, "::1");
  for (const char* bad :
       {"8443", "localhost:8443", "127.0.0.1:99999", "127.0.0.1:", ":8443"}) {
    auto r = ParseListenAddress(bad, "serve.listen");
    EXPECT_FALSE(r) << bad;
  }
}

}  // namespace
}  // namespace cls::site
