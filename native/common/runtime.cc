#include "common/runtime.h"

#include <ATen/Parallel.h>
#include <torch/version.h>

#include <thread>

#include "common/errors.h"

#ifdef HIEXP_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

namespace hiexp {

bool cudaAvailable() {
#ifdef HIEXP_WITH_CUDA
  return at::cuda::is_available();
#else
  return false;
#endif
}

RuntimeInfo runtimeInfo() {
  RuntimeInfo info;
  info.version = HIEXP_VERSION;
  info.torchVersion = TORCH_VERSION;
#ifdef HIEXP_WITH_CUDA
  info.cudaCompiled = true;
#endif
  info.devices.push_back("cpu");
#ifdef HIEXP_WITH_CUDA
  if (at::cuda::is_available()) {
    for (int i = 0; i < at::cuda::device_count(); ++i) info.devices.push_back("cuda:" + std::to_string(i));
  }
#endif
  info.threads = at::get_num_threads();
  return info;
}

void setThreads(int n) {
  HX_CHECK_RANGE(n >= 1 && n <= 1024, "threads must be an integer in [1, 1024], got ", n);
  at::set_num_threads(n);
}

}  // namespace hiexp
