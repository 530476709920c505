// docs/openapi.yaml against the routes the coordinator serves, both ways, so
// the spec cannot drift from RouteTable() (admin_api_routes.cc): every route
// is in the spec with its permission, and every operation of the spec is a
// route.

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "coordinator/admin/admin_api.h"
#include "coordinator/admin/openapi_spec_reader.h"

namespace cls::coordinator {
namespace {

std::string ReadDoc(const std::string& name) {
  const std::string file = std::string(CLS_DOCS_DIR) + "/" + name;
  std::ifstream in(file);
  EXPECT_TRUE(in) << "cannot read " << file;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// "METHOD /normalized/{}" -> the operation, for docs/NAME.
std::map<std::string, SpecOperation> SpecOperations(const std::string& name) {
  auto ops = ReadSpecOperations(ReadDoc(name));
  EXPECT_TRUE(ops) << name << ": " << ops.error().message;
  std::map<std::string, SpecOperation> by_route;
  if (ops) {
    for (auto& op : *ops) by_route[op.method + " " + op.path] = op;
  }
  return by_route;
}

std::map<std::string, RouteInfo> CodeRoutes() {
  std::map<std::string, RouteInfo> by_route;
  for (const auto& route : RouteTable()) {
    by_route[route.method + " " + NormalizeRoutePattern(route.pattern)] = route;
  }
  return by_route;
}

TEST(OpenApiSpecTest, EveryRouteInTheCodeIsInTheSpecWithItsPermission) {
  const auto spec = SpecOperations("openapi.yaml");
  const auto code = CodeRoutes();
  ASSERT_EQ(code.size(), RouteTable().size()) << "RouteTable repeats a route";
  for (const auto& [route, info] : code) {
    auto it = spec.find(route);
    if (it == spec.end()) {
      ADD_FAILURE() << route << " (" << info.pattern
                    << ") is served but missing from docs/openapi.yaml";
      continue;
    }
    EXPECT_EQ(it->second.permission, info.permission)
        << route << ": x-permission at docs/openapi.yaml line "
        << it->second.line;
    EXPECT_FALSE(it->second.pending)
        << route << " is served: drop its x-pending-route (line "
        << it->second.line << ")";
  }
}

TEST(OpenApiSpecTest, EveryOperationInTheSpecIsServed) {
  const auto spec = SpecOperations("openapi.yaml");
  ASSERT_FALSE(spec.empty());
  const auto code = CodeRoutes();
  for (const auto& [route, op] : spec) {
    if (code.contains(route)) continue;
    ADD_FAILURE() << route << " (docs/openapi.yaml line " << op.line
                  << ") is not in RouteTable() (admin_api_routes.cc)";
  }
}

TEST(OpenApiSpecTest, MetricsSpecHasTheHealthAndMetricsEndpoints) {
  const auto spec = SpecOperations("openapi-metrics.yaml");
  std::set<std::string> routes;
  for (const auto& [route, op] : spec) routes.insert(route);
  EXPECT_EQ(routes, (std::set<std::string>{"GET /metrics", "GET /healthz",
                                           "GET /readyz"}));
}

TEST(OpenApiSpecTest, ReaderFindsBlockOperationsAndIgnoresTheRest) {
  const std::string yaml = R"(openapi: 3.1.0
paths:
  # a comment
  /v1/a/{site_id}:
    parameters:
    - $ref: "#/components/parameters/SiteId"
    get:
      summary: "one: with a colon"
      description: |
        post: not a method, a line of text
      x-permission: a.read
    delete:
      x-permission: 'a.delete'  # quoted, with a note
      x-pending-route: true
  "/v1/b":
    post:
      responses:
        default:
          x-permission: not.this.one
  x-internal:
    /v1/c:
      get: {}
components:
  paths:
    /v1/d:
      get:
)";
  auto ops = ReadSpecOperations(yaml);
  ASSERT_TRUE(ops) << ops.error().message;
  ASSERT_EQ(ops->size(), 3u);
  EXPECT_EQ((*ops)[0].method, "GET");
  EXPECT_EQ((*ops)[0].path, "/v1/a/{}");
  EXPECT_EQ((*ops)[0].permission, "a.read");
  EXPECT_FALSE((*ops)[0].pending);
  EXPECT_EQ((*ops)[0].line, 7);
  EXPECT_EQ((*ops)[1].method, "DELETE");
  EXPECT_EQ((*ops)[1].permission, "a.delete");
  EXPECT_TRUE((*ops)[1].pending);
  EXPECT_EQ((*ops)[2].method, "POST");
  EXPECT_EQ((*ops)[2].path, "/v1/b");
  EXPECT_EQ((*ops)[2].permission, "");
}

TEST(OpenApiSpecTest, ReaderRefusesWhatItCannotReadWithTheLine) {
  auto flow = ReadSpecOperations("paths:\n  /v1/a:\n    get: {summary: x}\n");
  ASSERT_FALSE(flow);
  EXPECT_EQ(flow.error().message,
            "openapi line 3: operation get /v1/a must be a block mapping");

  auto twice = ReadSpecOperations(
      "paths:\n  /v1/a/{x}:\n    get:\n      summary: a\n"
      "  /v1/a/{y}:\n    get:\n      summary: b\n");
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().message,
            "openapi line 6: GET /v1/a/{} appears twice");

  auto none = ReadSpecOperations("openapi: 3.1.0\ninfo:\n  title: x\n");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message, "openapi: no top-level 'paths:' key");

  auto flow_paths = ReadSpecOperations("paths: {}\n");
  ASSERT_FALSE(flow_paths);
  EXPECT_EQ(flow_paths.error().message,
            "openapi line 1: paths must be a block mapping");
}

TEST(OpenApiSpecTest, NormalizeDropsParameterNames) {
  EXPECT_EQ(NormalizeRoutePattern("/v1/sites/{site_id}/trust"),
            "/v1/sites/{}/trust");
  EXPECT_EQ(NormalizeRoutePattern("/v1/sites/{id}/trust"),
            "/v1/sites/{}/trust");
  EXPECT_EQ(NormalizeRoutePattern("/v1/status"), "/v1/status");
}

}  // namespace
}  // namespace cls::coordinator
