#include "coordinator/admin_api.h"

#include <gtest/gtest.h>

namespace cls::coordinator {
namespace {

TEST(RoleAllowsTest, EveryOperatorRoleMayRead) {
  for (const char* role : {"admin", "operator", "auditor", "viewer"}) {
    EXPECT_TRUE(RoleAllows(role, "status.read")) << role;
    EXPECT_TRUE(RoleAllows(role, "round.read")) << role;
  }
}

TEST(RoleAllowsTest, OnlyAdminsAndOperatorsChangeState) {
  for (const char* permission : {"round.start", "site.approve"}) {
    EXPECT_TRUE(RoleAllows("admin", permission));
    EXPECT_TRUE(RoleAllows("operator", permission));
    EXPECT_FALSE(RoleAllows("auditor", permission));
    EXPECT_FALSE(RoleAllows("viewer", permission));
  }
}

TEST(RoleAllowsTest, SitesAndUnknownRolesMayDoNothing) {
  for (const char* role : {"site", "coordinator", "", "root"}) {
    EXPECT_FALSE(RoleAllows(role, "status.read")) << role;
    EXPECT_FALSE(RoleAllows(role, "round.start")) << role;
  }
  EXPECT_FALSE(RoleAllows("admin", "no.such.permission"));
}

}  // namespace
}  // namespace cls::coordinator
