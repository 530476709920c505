// A running site agent serves predictions over HTTPS (docs/serving.md): the
// latest global model answers /v1/predict, outcomes join their predictions,
// /metrics counts them, a client without a certificate is refused, and so is
// another hospital's site certificate (403).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/integration/cluster.h"

namespace cls::testing {
namespace {
using namespace std::chrono_literals;

// A small HTTPS client in Python's standard library (no curl on a fresh
// machine): prints one JSON object with what each request returned.
constexpr const char* kClient = R"PY(
import http.client, json, ssl, sys
port, ca, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
out = {}
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)
c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
def call(method, path, body=None):
    c.request(method, path, json.dumps(body) if body is not None else None,
              {"Content-Type": "application/json"})
    r = c.getresponse()
    return r.status, r.read().decode()
out["healthz"] = call("GET", "/healthz")[0]
status, text = call("POST", "/v1/predict", {"request_key": "enc-001",
    "features": {"f1": 0.2, "f2": -0.4, "f3": 1.1, "f4": 0.0, "group": 2}})
out["predict_status"] = status
out["predict"] = json.loads(text) if status == 200 else text
status, text = call("POST", "/v1/predict", {"request_key": "enc-002",
    "features": {"f1": "very high"}})
out["bad_status"] = status
out["bad_echoes_value"] = "very high" in text
out["outcome_status"] = call("POST", "/v1/outcome",
                             {"request_key": "enc-001", "outcome": 1})[0]
out["unknown_outcome_status"] = call("POST", "/v1/outcome",
                                     {"request_key": "enc-404", "outcome": 0})[0]
out["metrics"] = call("GET", "/metrics")[1]
bare = ssl.create_default_context(cafile=ca)
try:
    b = http.client.HTTPSConnection("127.0.0.1", port, context=bare, timeout=10)
    b.request("GET", "/healthz")
    out["no_cert"] = b.getresponse().status
except (ssl.SSLError, ConnectionError, OSError) as e:
    out["no_cert"] = "refused"
print(json.dumps(out))
)PY";

// One request with another certificate: prints the status and the body.
constexpr const char* kOtherClient = R"PY(
import http.client, json, ssl, sys
port, ca, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)
c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
c.request("POST", "/v1/predict", json.dumps({"request_key": "enc-009",
    "features": {"f1": 0.2}}), {"Content-Type": "application/json"})
r = c.getresponse()
print(json.dumps({"status": r.status, "body": json.loads(r.read().decode())}))
)PY";

TEST(ServingIntegrationTest, SiteServesTheGlobalModelOverMutualTls) {
  Cluster cluster;
  cluster.StartCoordinator("min_sites = 2");
  const int port = FreePort();
  SiteOptions serving;
  serving.extra_toml = ServeSection(port);
  cluster.StartSite("HOSP_S", serving);
  cluster.StartSite("HOSP_T");
  cluster.ApproveAll({"HOSP_S", "HOSP_T"});
  // The hospital's EHR (the role [serve] accepts by default).
  ASSERT_EQ(cluster.Pki({"issue", "ehr", "HOSP_S-ehr"}).exit_code, 0);
  auto rounds = cluster.RunRounds(1, 120s);
  ASSERT_EQ(rounds.size(), 1u);
  ASSERT_EQ(rounds[0]["status"], "completed") << rounds[0].dump();
  const std::string version = rounds[0]["model_version"];

  CommandResult r;
  ASSERT_TRUE(WaitUntil(
      [&] {
        r = RunCommand({"/usr/bin/python3", "-c", kClient, std::to_string(port),
                        cluster.Path("pki/ca.pem"),
                        cluster.Path("pki/issued/HOSP_S-ehr.pem"),
                        cluster.Path("pki/issued/HOSP_S-ehr.key")});
        return r.exit_code == 0 && r.Json()["predict_status"] == 200 &&
               r.Json()["predict"]["version_id"] == version;
      },
      20s))
      << r.output << r.error << cluster.site("HOSP_S")->Log();
  const auto out = r.Json();
  EXPECT_EQ(out["healthz"], 200);
  const double p = out["predict"]["probability"];
  EXPECT_GE(p, 0.0);
  EXPECT_LE(p, 1.0);
  EXPECT_EQ(out["predict"]["label"], p >= 0.5 ? 1 : 0);
  EXPECT_EQ(out["bad_status"], 400);
  EXPECT_EQ(out["bad_echoes_value"], false);
  EXPECT_EQ(out["outcome_status"], 200);
  EXPECT_EQ(out["unknown_outcome_status"], 404);
  const std::string metrics = out["metrics"];
  EXPECT_NE(metrics.find("cls_predictions_total"), std::string::npos);
  EXPECT_NE(metrics.find(version), std::string::npos);
  EXPECT_EQ(out["no_cert"], "refused");

  // Another hospital's site certificate passes the TLS handshake (same CA)
  // and is refused by role.
  CommandResult other = RunCommand(
      {"/usr/bin/python3", "-c", kOtherClient, std::to_string(port),
       cluster.Path("pki/ca.pem"), cluster.Path("pki/issued/HOSP_T.pem"),
       cluster.Path("pki/issued/HOSP_T.key")});
  ASSERT_EQ(other.exit_code, 0) << other.output << other.error;
  EXPECT_EQ(other.Json()["status"], 403) << other.output;
  EXPECT_EQ(other.Json()["body"]["error"]["message"],
            "certificate 'HOSP_T' (role site) may not call this endpoint");
  // Request keys and features never reach the site's log.
  const std::string log = cluster.site("HOSP_S")->Log();
  EXPECT_EQ(log.find("enc-001"), std::string::npos);
  EXPECT_EQ(log.find("very high"), std::string::npos);
}

}  // namespace
}  // namespace cls::testing
