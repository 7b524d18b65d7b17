// Launchers of cuda/policy_loss.cu. Device pointers and the caller's stream only: no libtorch here, so nvcc compiles the
// kernels on any machine; rl/policy_loss.cc allocates the workspace and passes libtorch's current stream.
#pragma once
#include <cstdint>

#include "rl/policy_loss_types.h"

namespace hiexp::rl::cuda {

// Slots of the totals buffer (float64, device) filled by policyLoss.
enum Total { kPg = 0, kKl, kClipped, kNegKl, kMask, kBad, kTotalCount };

// Workspace: rowStats has B * 6 doubles, totals kTotalCount doubles. Writes grad (B*T). Asynchronous on `stream`.
void policyLoss(const PolicyLossBatch& deviceBatch, const PolicyLossOptions& opts, float* grad, double* rowStats,
                double* totals, void* stream);

}  // namespace hiexp::rl::cuda
