// Force-included (-include) into the Clang fuzz build only; see CMakeLists.txt.
//
// Cap'n Proto 0.9 headers compare `const char*` with kj::StringPtr and, in
// C++20 mode, rely on the rewritten (reversed) kj::StringPtr::operator==. Clang
// 16 and newer implement P2468R2, under which an operator== that has a matching
// operator!= is no longer reversed, so those headers fail to compile. Restore
// the free operators kj declares only before C++20. (GCC 12 predates P2468R2;
// Cap'n Proto 0.10 fixed its headers.)
#ifndef CLS_TESTS_FUZZ_CLANG_COMPAT_H_
#define CLS_TESTS_FUZZ_CLANG_COMPAT_H_

#include <capnp/common.h>
#include <kj/string.h>

#if defined(__clang__) && __clang_major__ >= 16 && CAPNP_VERSION < 10000 && \
    __cpp_impl_three_way_comparison
namespace kj {
inline bool operator==(const char* a, const StringPtr& b) {
  return b == StringPtr(a);
}
inline bool operator!=(const char* a, const StringPtr& b) {
  return !(b == StringPtr(a));
}
}  // namespace kj
#endif

#endif  // CLS_TESTS_FUZZ_CLANG_COMPAT_H_
