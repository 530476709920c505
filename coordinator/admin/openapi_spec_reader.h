#ifndef CLS_COORDINATOR_ADMIN_OPENAPI_SPEC_READER_H_
#define CLS_COORDINATOR_ADMIN_OPENAPI_SPEC_READER_H_

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace cls::coordinator {

// One operation of an OpenAPI document: a path and one of its methods.
struct SpecOperation {
  std::string method;      // "POST"
  std::string path;        // "/v1/sites/{}/approve": parameter names dropped
  std::string permission;  // the operation's x-permission, "" when absent
  bool pending = false;    // x-pending-route: true
  int line = 0;            // 1-based line of the method key
};

// The operations under the top-level `paths:` of an OpenAPI YAML document,
// in document order. Reads only what OpenApiSpecTest needs, without a YAML
// library: paths and their methods must be block-style keys (`get:` on a
// line of its own); a flow-style path or operation, an indentation it does
// not expect or a repeated path+method is an InvalidArgument naming the
// line, so nothing is silently skipped.
Result<std::vector<SpecOperation>> ReadSpecOperations(std::string_view yaml);

// "/v1/sites/{id}" and "/v1/sites/{site_id}" are the same route:
// "/v1/sites/{}".
std::string NormalizeRoutePattern(std::string_view pattern);

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_ADMIN_OPENAPI_SPEC_READER_H_
