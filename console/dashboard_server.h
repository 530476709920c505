#ifndef CLS_CONSOLE_DASHBOARD_SERVER_H_
#define CLS_CONSOLE_DASHBOARD_SERVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "console/admin_client.h"
#include "console/dashboard_gate.h"

// `clsctl dashboard`'s web server (docs/console.md "Dashboard"): plain HTTP
// on a loopback address, behind DashboardGate. It serves the page's files
// (embedded into clsctl at build time) and forwards /v1/... GET, POST and
// DELETE to the coordinator's admin API through `api`, which carries the
// operator's certificate: the browser never holds a key, and the
// coordinator's role check applies to whatever the page asks.
namespace cls::console {

struct DashboardAsset {
  std::string_view path;  // "index.html", "uPlot.iife.min.js"
  std::string_view content;
};
// The files embedded by console/CMakeLists.txt (dashboard_assets.cc).
const std::vector<DashboardAsset>& DashboardAssets();

struct DashboardServerOptions {
  std::string listen_host = "127.0.0.1";  // must be a loopback address
  uint16_t port = 0;                      // 0: a free one
  std::string token;  // the one-time token; "" = 32 random bytes, hex
  // Answers GET /dashboard/audit-verify (the live log verified here, as
  // `clsctl audit verify` does); null: 404.
  std::function<nlohmann::json()> audit_verify;
  // Session ids; null = 32 random bytes, hex (tests fix it).
  std::function<std::string()> random_hex;
};

class DashboardServer {
 public:
  // `api` is borrowed and called from several threads at once (AdminClient
  // is safe for that); `assets` too.
  DashboardServer(AdminApi& api, std::vector<DashboardAsset> assets,
                  DashboardServerOptions options);
  ~DashboardServer();
  DashboardServer(const DashboardServer&) = delete;
  DashboardServer& operator=(const DashboardServer&) = delete;

  // InvalidArgument for a listen host that is not a loopback address
  // literal ("localhost" means 127.0.0.1); binds and starts serving.
  Result<uint16_t> Start();
  // Stops serving; waits for forwarded requests in flight. Idempotent.
  void Stop();

  // http://127.0.0.1:PORT/?token=TOKEN (valid after Start).
  std::string url() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// 32 random bytes from OpenSSL, as 64 lowercase hex digits.
std::string RandomHexToken();

// Content-Type for an asset path, by its extension.
std::string_view ContentTypeFor(std::string_view path);

}  // namespace cls::console

#endif  // CLS_CONSOLE_DASHBOARD_SERVER_H_
