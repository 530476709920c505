#ifndef CLS_CONSOLE_DASHBOARD_GATE_H_
#define CLS_CONSOLE_DASHBOARD_GATE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

// Who may use `clsctl dashboard`'s loopback HTTP server (docs/console.md
// "Dashboard"). The server holds the operator's certificate and forwards
// requests with it, so anything that reaches it acts as the operator: the
// gate lets in only the browser that opened the one-time link.
//
//   1. Host must be 127.0.0.1:PORT, localhost:PORT (or the listen address):
//      a page of another origin that rebinds a DNS name to 127.0.0.1 sends
//      its own name and gets 403.
//   2. ?token=T (the link printed once) is traded, once, for a session
//      cookie and a redirect to the same page without the token; a used or
//      wrong token gets 401.
//   3. Any other request needs the session cookie, else 401.
//   4. A request that changes something (not GET/HEAD) also needs the
//      header X-CLS-Dashboard: 1, which a cross-site form cannot send
//      (SameSite=Strict already keeps the cookie off such requests).
// Pure logic, no sockets: console/dashboard_gate_test.cc drives it.
// Thread-safe.
namespace cls::console {

struct GateRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, "/?token=..." or "/v1/status"
  std::string host;    // the Host header ("" when absent)
  std::string cookie;  // the Cookie header ("" when absent)
  bool dashboard_header = false;  // X-CLS-Dashboard: 1 present
};

struct GateDecision {
  enum class Kind { kAllow, kRedirect, kRefuse };
  Kind kind = Kind::kRefuse;
  int status = 401;        // for kRefuse: 401 or 403
  std::string message;     // for kRefuse: why (shown to the user)
  std::string location;    // for kRedirect: the target without token
  std::string set_cookie;  // for kRedirect: the session cookie
};

class DashboardGate {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  static constexpr std::chrono::hours kSessionLifetime{12};

  // `port`: the bound port; `listen_host`: the literal address listened on
  // (its "HOST:PORT" is accepted as Host too); `token`: the one-time token
  // (64 hex digits); `random_hex`: makes session ids (crypto/random.h in
  // production).
  DashboardGate(uint16_t port, std::string listen_host, std::string token,
                std::function<std::string()> random_hex,
                Clock clock = std::chrono::steady_clock::now);

  GateDecision Check(const GateRequest& request);

  // The session cookie's name: one per port, so two dashboards on one
  // machine (cookies ignore ports) do not log each other out.
  const std::string& cookie_name() const { return cookie_name_; }

 private:
  bool HostAllowed(std::string_view host) const;
  bool SessionValid(std::string_view cookie_header);

  std::vector<std::string> allowed_hosts_;
  std::string token_;
  std::function<std::string()> random_hex_;
  Clock clock_;
  std::string cookie_name_;

  std::mutex mu_;
  bool token_used_ = false;
  std::map<std::string, std::chrono::steady_clock::time_point> sessions_;
};

// `?token=...` removed from a target, other parameters kept ("/x?a=1").
std::string StripTokenParameter(std::string_view target);
// The value of query parameter `name` in `target` ("" when absent).
std::string QueryParameter(std::string_view target, std::string_view name);

}  // namespace cls::console

#endif  // CLS_CONSOLE_DASHBOARD_GATE_H_
