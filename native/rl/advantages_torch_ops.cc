#include "rl/advantages_torch_ops.h"

#include "common/errors.h"

namespace hiexp::rl {

at::Tensor groupAdvantagesTorchOps(const at::Tensor& rewards, const at::Tensor& group, int64_t G,
                                   const AdvantageOptions& opts) {
  HX_CHECK_RANGE(opts.estimator == AdvantageEstimator::Grpo || opts.estimator == AdvantageEstimator::DrGrpo,
                 "the libtorch-ops baseline covers estimators 'grpo' and 'drgrpo' only");
  const auto zeros = at::zeros({G}, rewards.options());
  const auto count = zeros.index_add(0, group, at::ones_like(rewards));
  const auto several = count > 1;
  const auto mean = at::where(several, zeros.index_add(0, group, rewards) / count, zeros);
  const auto centred = rewards - mean.index_select(0, group);
  if (opts.estimator == AdvantageEstimator::DrGrpo || !opts.normalizeStd) return centred;
  const auto var = zeros.index_add(0, group, centred * centred) / (count - 1).clamp_min(1);
  const auto stdev = at::where(several, var.sqrt(), at::ones_like(var));
  // Equal rewards in a group: advantage 0 whatever eps (as the kernel: no 0/0 at eps 0).
  const auto high = zeros.index_reduce(0, group, rewards, "amax", /*include_self=*/false);
  const auto low = zeros.index_reduce(0, group, rewards, "amin", /*include_self=*/false);
  const auto constant = (high == low).logical_and(several).index_select(0, group);
  return at::where(constant, at::zeros_like(rewards), centred / (stdev.index_select(0, group) + opts.eps));
}

}  // namespace hiexp::rl
