#include "common/profile.h"

#include <ATen/record_function.h>

#include <atomic>
#include <mutex>
#include <optional>

namespace hiexp::profile {
namespace {

std::atomic<bool> on{false};
std::atomic<int64_t> ops{0};
std::mutex mutex;
std::map<std::string, Phase> phases;
std::optional<at::CallbackHandle> opCounter;

std::map<std::string, int64_t> opsByName;

std::unique_ptr<at::ObserverContext> countOp(const at::RecordFunction& fn) {
  ops.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(mutex);
  ++opsByName[fn.name()];
  return nullptr;
}

}  // namespace

bool enabled() { return on.load(std::memory_order_relaxed); }

void start() {
  std::lock_guard<std::mutex> lock(mutex);
  phases.clear();
  opsByName.clear();
  ops.store(0);
  if (!opCounter) opCounter = at::addGlobalCallback(at::RecordFunctionCallback(countOp).scopes({at::RecordScope::FUNCTION}));
  on.store(true);
}

Snapshot stop() {
  std::lock_guard<std::mutex> lock(mutex);
  on.store(false);
  if (opCounter) {
    at::removeCallback(*opCounter);
    opCounter.reset();
  }
  return Snapshot{ops.load(), phases, opsByName};
}

void record(const char* phase, double ms) {
  std::lock_guard<std::mutex> lock(mutex);
  Phase& p = phases[phase];
  p.ms += ms;
  ++p.count;
}

}  // namespace hiexp::profile
