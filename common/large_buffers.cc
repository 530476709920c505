#include "common/large_buffers.h"

#include <malloc.h>

namespace cls {

void KeepLargeBuffersInTheHeap() {
  // Blocks under 64 MiB come from the heap (and are reused); the heap top is
  // returned to the kernel only past 256 MiB free.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

}  // namespace cls
