// libFuzzer target for the frame decoder: any byte string must either decode
// or fail with an error, and whatever decodes must re-encode canonically.
// Built as `frame_fuzz` under Clang; `frame_fuzz_replay` runs the same function
// under any compiler (see README.md).

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "protocol/frame.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cls::protocol;
  auto result = DecodeFrame(cls::ByteSpan(data, size));
  if (!result) {
    if (result.error().message.empty()) std::abort();
    return 0;
  }
  const cls::Bytes encoded = EncodeFrame(*result);
  auto again = DecodeFrame(encoded);
  if (!again || again->index() != result->index()) std::abort();
  if (EncodeFrame(*again) != encoded) std::abort();
  return 0;
}
