#include "console/dashboard_gate.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>
#include <utility>

namespace cls::console {
namespace {

// Constant time, so a guess cannot be refined by timing.
bool SecretEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

GateDecision Refuse(int status, std::string message) {
  return {GateDecision::Kind::kRefuse, status, std::move(message), "", ""};
}

}  // namespace

std::string QueryParameter(std::string_view target, std::string_view name) {
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return "";
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return eq == std::string_view::npos ? ""
                                          : std::string(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return "";
}

std::string StripTokenParameter(std::string_view target) {
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return std::string(target);
  std::string out(target.substr(0, q));
  std::string_view query = target.substr(q + 1);
  char sep = '?';
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (!pair.empty() && pair.substr(0, pair.find('=')) != "token") {
      out += sep;
      out += pair;
      sep = '&';
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

DashboardGate::DashboardGate(uint16_t port, std::string listen_host,
                             std::string token,
                             std::function<std::string()> random_hex,
                             Clock clock)
    : token_(std::move(token)),
      random_hex_(std::move(random_hex)),
      clock_(std::move(clock)),
      cookie_name_("cls_dashboard_" + std::to_string(port)) {
  const std::string p = ":" + std::to_string(port);
  allowed_hosts_ = {"127.0.0.1" + p, "localhost" + p};
  if (listen_host.find(':') != std::string::npos) {  // IPv6 literal
    allowed_hosts_.push_back("[" + Lower(listen_host) + "]" + p);
  } else {
    allowed_hosts_.push_back(Lower(listen_host) + p);
  }
}

bool DashboardGate::HostAllowed(std::string_view host) const {
  const std::string h = Lower(host);
  return std::find(allowed_hosts_.begin(), allowed_hosts_.end(), h) !=
         allowed_hosts_.end();
}

bool DashboardGate::SessionValid(std::string_view cookie_header) {
  // "a=1; cls_dashboard_PORT=SID; b=2"
  const auto now = clock_();
  while (!cookie_header.empty()) {
    const size_t semi = cookie_header.find(';');
    std::string_view pair = cookie_header.substr(0, semi);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == cookie_name_) {
      const std::string_view sid = pair.substr(eq + 1);
      for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
        if (!SecretEquals(it->first, sid)) continue;
        if (now - it->second > kSessionLifetime) {
          sessions_.erase(it);
          return false;
        }
        return true;
      }
    }
    if (semi == std::string_view::npos) break;
    cookie_header.remove_prefix(semi + 1);
  }
  return false;
}

GateDecision DashboardGate::Check(const GateRequest& request) {
  if (!HostAllowed(request.host)) {
    return Refuse(403, "Host '" + request.host +
                           "' refused: open the dashboard as http://" +
                           allowed_hosts_.front() + "/");
  }
  std::lock_guard lock(mu_);
  const std::string token = QueryParameter(request.target, "token");
  const bool has_token = request.target.find("?token=") != std::string::npos ||
                         request.target.find("&token=") != std::string::npos;
  if (has_token) {
    if (!SecretEquals(token, token_)) {
      return Refuse(401, "wrong dashboard token");
    }
    if (token_used_) {
      return Refuse(401,
                    "this dashboard link was already used; run clsctl "
                    "dashboard again for a new one");
    }
    if (request.method != "GET") {
      return Refuse(401, "the dashboard link opens with GET");
    }
    token_used_ = true;
    const std::string sid = random_hex_();
    sessions_[sid] = clock_();
    const auto max_age =
        std::chrono::duration_cast<std::chrono::seconds>(kSessionLifetime);
    return {GateDecision::Kind::kRedirect, 303, "",
            StripTokenParameter(request.target),
            cookie_name_ + "=" + sid + "; Path=/; HttpOnly; SameSite=Strict; " +
                "Max-Age=" + std::to_string(max_age.count())};
  }
  if (!SessionValid(request.cookie)) {
    return Refuse(401,
                  "no dashboard session: open the link clsctl dashboard "
                  "printed");
  }
  if (request.method != "GET" && request.method != "HEAD" &&
      !request.dashboard_header) {
    return Refuse(403, "a change needs the header X-CLS-Dashboard: 1");
  }
  return {GateDecision::Kind::kAllow, 200, "", "", ""};
}

}  // namespace cls::console
