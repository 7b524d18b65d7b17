// advantages.h's grpo / drgrpo estimators as a PyTorch user writes them (index_add over group ids): the benchmark
// baseline of the native kernel.
#pragma once
#include <ATen/ATen.h>

#include "rl/advantages.h"

namespace hiexp::rl {

// rewards [B] float, group [B] int64 dense in [0, G).
at::Tensor groupAdvantagesTorchOps(const at::Tensor& rewards, const at::Tensor& group, int64_t G,
                                   const AdvantageOptions& opts);

}  // namespace hiexp::rl
