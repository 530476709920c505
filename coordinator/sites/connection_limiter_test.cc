#include "coordinator/sites/connection_limiter.h"

#include <gtest/gtest.h>

#include <vector>

namespace cls::coordinator {
namespace {

TEST(ConnectionLimiter, RefusesConnectionsBeyondTheTotal) {
  ConnectionLimiter limiter(3, 10);
  std::vector<ConnectionLimiter::Slot> slots;
  for (int i = 0; i < 3; ++i) {
    auto slot = limiter.Admit();
    ASSERT_TRUE(slot.has_value());
    slots.push_back(std::move(*slot));
  }
  EXPECT_EQ(limiter.total(), 3);
  EXPECT_FALSE(limiter.Admit().has_value());
  slots.pop_back();
  EXPECT_EQ(limiter.total(), 2);
  EXPECT_TRUE(limiter.Admit().has_value());
  EXPECT_EQ(limiter.total(), 2) << "a slot dropped at once releases its place";
}

TEST(ConnectionLimiter, RefusesASiteBeyondItsCapButNotOthers) {
  ConnectionLimiter limiter(100, 2);
  std::vector<ConnectionLimiter::Slot> slots;
  for (int i = 0; i < 2; ++i) {
    auto slot = limiter.Admit();
    ASSERT_TRUE(slot.has_value());
    ASSERT_TRUE(limiter.ClaimSite(*slot, "MALLORY"));
    slots.push_back(std::move(*slot));
  }
  auto third = limiter.Admit();
  ASSERT_TRUE(third.has_value());
  EXPECT_FALSE(limiter.ClaimSite(*third, "MALLORY"));
  EXPECT_EQ(limiter.of_site("MALLORY"), 2);
  EXPECT_TRUE(limiter.ClaimSite(*third, "HOSP_001"));
  EXPECT_EQ(limiter.of_site("HOSP_001"), 1);
  EXPECT_EQ(limiter.total(), 3);

  slots.clear();
  EXPECT_EQ(limiter.of_site("MALLORY"), 0);
  EXPECT_EQ(limiter.total(), 1);
  auto again = limiter.Admit();
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(limiter.ClaimSite(*again, "MALLORY"));
}

TEST(ConnectionLimiter, SlotsMayOutliveTheLimiter) {
  std::optional<ConnectionLimiter::Slot> slot;
  {
    ConnectionLimiter limiter(1, 1);
    slot = limiter.Admit();
    ASSERT_TRUE(slot.has_value());
    ASSERT_TRUE(limiter.ClaimSite(*slot, "HOSP_001"));
  }
  slot.reset();  // no use after free (ASan would say)
}

}  // namespace
}  // namespace cls::coordinator
