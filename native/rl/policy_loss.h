// Policy-gradient losses (verl's formulas, verl/trainer/ppo/core_algos.py) fused with their gradient.
//
//   GRPO (token level, PPO clip):  r_t = exp(clamp(logp_t - old_t, -20, 20))
//       l_t = max(-A_t r_t, -A_t clip(r_t, 1 - clipLow, 1 + clipHigh));  with dual clip c (A_t < 0): min(l_t, -A_t c)
//   GSPO (sequence level, arXiv 2507.18071):  s_i = exp(min(10, sum_t m_t (logp_t - old_t) / max(1, sum_t m_t)))
//       in the stop-gradient token form  s_{i,t} = sg(s_i) * exp(logp_t - sg(logp_t)), so d s_{i,t} / d logp_t = s_i,
//       l_t = max(-A_t s_{i,t}, -A_t clip(s_{i,t}, 1 - clipLow, 1 + clipHigh))
//   KL to a reference (optional, coefficient klCoef):  k1 = logp - ref;  k2 = (logp - ref)^2 / 2;
//       k3 = exp(d) - d - 1 with d = clamp(ref - logp, -20, 20), clamped to [-10, 10] (verl's low_var_kl)
//   loss = agg(l) + klCoef * agg(kl), agg one of the four aggregation modes below (mask m as weights):
//       token-mean              sum m l / sum m
//       seq-mean-token-mean     mean over non-empty rows of (sum_t m l / sum_t m)
//       seq-mean-token-sum      mean over non-empty rows of sum_t m l
//       seq-mean-token-sum-norm sum_i sum_t m l / normLength (normLength = T unless given; Dr.GRPO)
// Rows whose mask is all zero count in no mean; a batch with no masked token has loss 0 and zero gradient.
#pragma once
#include <ATen/ATen.h>

#include "rl/policy_loss_types.h"

namespace hiexp::rl {

// Tensor form for the C++ trainer: logp, oldLogp, mask [B, T] (mask uint8/bool/float), advantages [B] or [B, T],
// refLogp [B, T] or undefined. Dispatches on logp's device (CPU kernel, CUDA kernel). Returns a 0-dim loss that
// backpropagates into logp through the fused gradient (a torch::autograd::Function); stats are filled when given.
at::Tensor policyLoss(const at::Tensor& logp, const at::Tensor& oldLogp, const at::Tensor& advantages,
                      const at::Tensor& mask, const at::Tensor& refLogp, const PolicyLossOptions& opts,
                      PolicyLossStats* stats = nullptr);

// The same formulas composed from libtorch ops, differentiated by autograd: the baseline a PyTorch user runs today,
// used by bench/kernels.ts and by the tests that check the fused gradient against autograd.
at::Tensor policyLossTorchOps(const at::Tensor& logp, const at::Tensor& oldLogp, const at::Tensor& advantages,
                              const at::Tensor& mask, const at::Tensor& refLogp, const PolicyLossOptions& opts);

}  // namespace hiexp::rl
