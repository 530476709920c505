#ifndef CLS_CONSOLE_FAKE_ADMIN_API_H_
#define CLS_CONSOLE_FAKE_ADMIN_API_H_

// For tests only: a coordinator that answers from a script.

#include <deque>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "console/admin_client.h"

namespace cls::console::testing {

// Answers requests from a script, in order, and records what was sent.
class FakeAdminApi final : public AdminApi {
 public:
  void Answer(int status, nlohmann::json body) {
    answers_.push_back(AdminResponse{status, std::move(body)});
  }
  void Fail(Error error) {
    answers_.push_back(std::unexpected(std::move(error)));
  }

  Result<AdminResponse> Send(const AdminRequest& request) override {
    requests.push_back(request);
    if (answers_.empty()) return Internal("fake: no answer scripted");
    auto answer = std::move(answers_.front());
    answers_.pop_front();
    return answer;
  }

  std::vector<AdminRequest> requests;

 private:
  std::deque<Result<AdminResponse>> answers_;
};

}  // namespace cls::console::testing

#endif  // CLS_CONSOLE_FAKE_ADMIN_API_H_
