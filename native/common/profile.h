// Opt-in profiling of native work: named wall-clock phases (prefill, decode, forward, backward, …) and the count of
// libtorch ops dispatched, so that bench/ can split an RL step by phase and tell per-op overhead from arithmetic.
// Off by default; when off a phase timer costs one relaxed atomic load.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <string>

namespace hiexp::profile {

struct Phase {
  double ms = 0;
  int64_t count = 0;
};

struct Snapshot {
  int64_t ops = 0;  // libtorch ops dispatched while profiling (RecordFunction, nested ops included)
  std::map<std::string, Phase> phases;
  std::map<std::string, int64_t> opsByName;  // the same count, by operator ("aten::linear", …)
};

bool enabled();
// Starts (or restarts) profiling from zero.
void start();
// Stops profiling and returns what was recorded since start().
Snapshot stop();
void record(const char* phase, double ms);

// Adds the scope's wall time to `phase` while profiling is on.
class Scope {
 public:
  explicit Scope(const char* phase) : phase_(enabled() ? phase : nullptr) {
    if (phase_) t0_ = std::chrono::steady_clock::now();
  }
  ~Scope() {
    if (phase_) record(phase_, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0_).count());
  }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  const char* phase_;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace hiexp::profile
