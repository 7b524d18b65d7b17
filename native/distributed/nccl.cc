// The NCCL backend (CUDA tensors, one process per GPU). Compiled in only in CUDA builds whose include path has
// nccl.h (PyTorch's pip wheels: site-packages/nvidia/nccl/include).
#include "distributed/group.h"

#include <cstdlib>

#include "common/errors.h"

#if defined(HIEXP_WITH_CUDA) && __has_include(<nccl.h>)
#define HIEXP_HAS_NCCL 1
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace hiexp::dist {

#ifdef HIEXP_HAS_NCCL

bool hasNccl() { return true; }

c10::intrusive_ptr<BackendBase> makeNccl(const c10::intrusive_ptr<c10d::Store>& store, const GroupOptions& opts) {
  // Blocking wait makes Work::wait honour the time-out and throw (instead of the watchdog aborting the process), so
  // a dead peer surfaces as a JavaScript error; the user's own settings win.
  for (const char* name : {"TORCH_NCCL_BLOCKING_WAIT", "NCCL_BLOCKING_WAIT", "TORCH_NCCL_ASYNC_ERROR_HANDLING",
                           "NCCL_ASYNC_ERROR_HANDLING"})
    setenv(name, "1", 0);
  auto o = c10d::ProcessGroupNCCL::Options::create();
  o->timeout = opts.timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, opts.rank, opts.worldSize, o);
}

#else

bool hasNccl() { return false; }

c10::intrusive_ptr<BackendBase> makeNccl(const c10::intrusive_ptr<c10d::Store>&, const GroupOptions&) {
  throwRange("backend 'nccl' is not in this build: it needs a CUDA build of the addon (libtorch with CUDA) with "
             "nccl.h on the include path; use backend 'gloo' for CPU tensors");
}

#endif

}  // namespace hiexp::dist
