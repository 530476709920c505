#ifndef CLS_COORDINATOR_ROUND_EVALUATION_INTAKE_H_
#define CLS_COORDINATOR_ROUND_EVALUATION_INTAKE_H_

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "coordinator/storage/store.h"
#include "protocol/messages.h"

namespace cls::coordinator {

// The sites' held-out evaluations of the model a round released: each site
// that received the round's result may report once; a late, repeated or
// unexpected report is ignored, an impossible one refused.
// Single-threaded (io thread). Borrows the store.
class EvaluationIntake {
 public:
  explicit EvaluationIntake(CoordinatorStore& store) : store_(store) {}

  // Round `round_id` released `version_id` to `sites`; earlier rounds'
  // reports are no longer expected.
  void Expect(int64_t round_id, std::string version_id,
              const std::vector<std::string>& sites);

  // InvalidArgument "evaluation_report with impossible counts" (the caller
  // drops the site); OK when recorded or ignored.
  Status OnReport(const std::string& site_id,
                  const protocol::EvaluationReport& report);

 private:
  CoordinatorStore& store_;
  int64_t round_id_ = 0;
  std::string version_id_;
  std::set<std::string> awaiting_;
};

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_ROUND_EVALUATION_INTAKE_H_
