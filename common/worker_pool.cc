#include "common/worker_pool.h"

#include <algorithm>
#include <thread>

namespace cls {

namespace {
unsigned ThreadsFor(unsigned requested) {
  if (requested > 0) return requested;
  return std::max(1u, std::thread::hardware_concurrency());
}
}  // namespace

WorkerPool::WorkerPool(unsigned threads)
    : threads_(ThreadsFor(threads)),
      pool_(threads_),
      alive_(std::make_shared<std::atomic<bool>>(true)) {}

WorkerPool::~WorkerPool() {
  alive_->store(false);
  pool_.join();
}

}  // namespace cls
