#include "bindings.h"

#include <cmath>
#include <cstdlib>
#include <thread>

#include "common/napi_args.h"
#include "common/profile.h"
#include "common/runtime.h"

namespace hiexp {
namespace {

// info() -> { version, torchVersion, cudaCompiled, devices, threads }
Napi::Value runtimeInfoBinding(const Napi::CallbackInfo& info) {
  auto r = runtimeInfo();
  auto out = Napi::Object::New(info.Env());
  out.Set("version", r.version);
  out.Set("torchVersion", r.torchVersion);
  out.Set("cudaCompiled", r.cudaCompiled);
  auto devices = Napi::Array::New(info.Env(), r.devices.size());
  for (size_t i = 0; i < r.devices.size(); ++i) devices.Set(i, r.devices[i]);
  out.Set("devices", devices);
  out.Set("threads", r.threads);
  return out;
}

// setThreads(n): libtorch's intra-op threads.
Napi::Value setThreadsBinding(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber()) throwType("threads must be a number, got ", napi::describe(info[0]));
  const double n = info[0].As<Napi::Number>().DoubleValue();
  HX_CHECK_RANGE(n >= 1 && n <= 1024 && n == std::floor(n), "threads must be an integer in [1, 1024], got ", n);
  setThreads(static_cast<int>(n));
  return info.Env().Undefined();
}

// profileStart(): records native phase times and counts libtorch ops from now on (see common/profile.h).
Napi::Value profileStartBinding(const Napi::CallbackInfo& info) {
  profile::start();
  return info.Env().Undefined();
}

// profileStop() -> { ops, phases: { [name]: { ms, count } } } since profileStart().
Napi::Value profileStopBinding(const Napi::CallbackInfo& info) {
  const auto snap = profile::stop();
  auto out = Napi::Object::New(info.Env());
  out.Set("ops", static_cast<double>(snap.ops));
  auto phases = Napi::Object::New(info.Env());
  for (const auto& [name, p] : snap.phases) {
    auto o = Napi::Object::New(info.Env());
    o.Set("ms", p.ms);
    o.Set("count", static_cast<double>(p.count));
    phases.Set(name, o);
  }
  out.Set("phases", phases);
  auto byName = Napi::Object::New(info.Env());
  for (const auto& [name, n] : snap.opsByName) byName.Set(name, static_cast<double>(n));
  out.Set("opsByName", byName);
  return out;
}

}  // namespace

void registerCommon(Napi::Env env, Napi::Object exports) {
  // libtorch's default pool size is not always the core count (OMP_NUM_THREADS, cgroup quotas); hiexp fixes it
  // to the cores unless HIEXP_THREADS or setThreads says otherwise, so timings mean the same thing everywhere.
  unsigned cores = std::thread::hardware_concurrency();
  const char* fromEnv = std::getenv("HIEXP_THREADS");
  int threads = fromEnv ? std::atoi(fromEnv) : static_cast<int>(cores ? cores : 1);
  if (threads >= 1) setThreads(threads);

  napi::exportFunction(env, exports, "info", runtimeInfoBinding);
  napi::exportFunction(env, exports, "setThreads", setThreadsBinding);
  napi::exportFunction(env, exports, "profileStart", profileStartBinding);
  napi::exportFunction(env, exports, "profileStop", profileStopBinding);
}

}  // namespace hiexp
