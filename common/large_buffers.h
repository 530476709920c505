#ifndef CLS_COMMON_LARGE_BUFFERS_H_
#define CLS_COMMON_LARGE_BUFFERS_H_

namespace cls {

// Keeps the daemons' large buffers in the heap once freed, for the next
// round to reuse, instead of handing them back to the kernel. A model, a
// masked input or a frame is 4 MB at 1M parameters and a round allocates a
// few dozen of them, on several threads. glibc maps each such block fresh
// (mmap, over its mmap threshold) or trims it off the heap top when freed,
// so every round page-faults all of them in again. Measured on the 10-site
// × 1M secure round (make bench, secagg.round_s): the coordinator's kernel
// time per round 0.12–0.16 s → 0.06–0.10 s. The price: a daemon keeps up to
// 256 MiB of freed heap.
// Call first thing in main, before any thread starts.
void KeepLargeBuffersInTheHeap();

}  // namespace cls

#endif  // CLS_COMMON_LARGE_BUFFERS_H_
