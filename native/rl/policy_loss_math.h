// The formulas of policy_loss.h, shared by the CPU kernel (cpu/policy_loss.cc) and the CUDA kernel
// (cuda/policy_loss.cu) so the two cannot drift: the per-token surrogate and KL terms, and the weight each row's
// tokens get in the aggregated loss. Branch-free selects, so the CPU loop vectorises.
#pragma once
#include <cstdint>

#include "rl/policy_loss_types.h"

#ifdef __CUDACC__
#define HX_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define HX_HOST_DEVICE __attribute__((always_inline)) inline
#endif

namespace hiexp::rl::math {

constexpr float kLogRatioClamp = 20.0f;     // verl clamps the token log-ratio (and low_var_kl's log-ratio) to ±20
constexpr float kSeqLogRatioMax = 10.0f;    // verl clamps GSPO's sequence log-ratio at 10
constexpr float kLowVarKlClamp = 10.0f;     // verl clamps low_var_kl to [-10, 10]

HX_HOST_DEVICE float clampf(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }

// The weight of each masked token of row b in the aggregated loss: loss = sum_b scale_b * sum_t m_bt l_bt.
//   rowMask      sum_t m_bt of this row (an empty row, rowMask <= 0, counts in no mean: scale 0)
//   totalMask    sum of rowMask over the batch
//   nonEmptyRows number of rows with rowMask > 0
//   T            padded length (the default divisor of seq-mean-token-sum-norm)
HX_HOST_DEVICE double aggregationScale(Aggregation agg, double rowMask, double totalMask, double nonEmptyRows,
                                       int64_t T, double normLength) {
  if (!(rowMask > 0)) return 0.0;
  switch (agg) {
    case Aggregation::TokenMean: return 1.0 / totalMask;
    case Aggregation::SeqMeanTokenMean: return 1.0 / (rowMask * nonEmptyRows);
    case Aggregation::SeqMeanTokenSum: return 1.0 / nonEmptyRows;
    case Aggregation::SeqMeanTokenSumNorm: return 1.0 / (normLength > 0 ? normLength : static_cast<double>(T));
  }
  return 0.0;
}

struct TokenTerms {
  float loss;     // the token's policy-gradient loss l_t
  float grad;     // d l_t / d logp_t
  float clipped;  // 1 when the clipped branch is the active one
};

// PPO/GRPO token-level surrogate with asymmetric clip and dual clip. Inputs are values, not flags, so that a
// row-invariant one (GSPO's ratio) does not mix scalar and vector booleans, which stops the CPU loop vectorising:
//   ratio         r (exp of the clamped log-ratio)
//   clippedRatio  clip(r, 1 - clipLow, 1 + clipHigh)
//   gradRatio     d r / d logp: r, or 0 where the log-ratio clamp was active
//   dualClip      c, or FLT_MAX when dual clip is off (then -A c never undercuts the loss)
HX_HOST_DEVICE TokenTerms clippedSurrogate(float A, float ratio, float clippedRatio, float gradRatio, float dualClip) {
  const float l1 = -A * ratio;
  const float l2 = -A * clippedRatio;
  const bool unclipped = l1 >= l2;  // ties occur only inside the clip range, where both branches share the gradient
  TokenTerms out;
  out.loss = unclipped ? l1 : l2;
  out.grad = unclipped ? -A * gradRatio : 0.0f;
  out.clipped = l2 > l1 ? 1.0f : 0.0f;
  const float l3 = -A * dualClip;
  const bool dual = (A < 0.0f) & (l3 < out.loss);
  out.loss = dual ? l3 : out.loss;
  out.grad = dual ? 0.0f : out.grad;
  return out;
}

// KL estimators of d = logp - ref (verl's kl_penalty): value and d/dlogp. estimator: 1 = k1, 2 = k2, 3 = k3.
struct KlTerms {
  float value;
  float grad;
};

template <typename ExpFn>
HX_HOST_DEVICE KlTerms klPenalty(int estimator, float logp, float ref, ExpFn expFn) {
  KlTerms out{0.0f, 0.0f};
  if (estimator == 1) {
    out.value = logp - ref;
    out.grad = 1.0f;
  } else if (estimator == 2) {
    const float d = logp - ref;
    out.value = 0.5f * d * d;
    out.grad = d;
  } else if (estimator == 3) {
    const float d = ref - logp;
    const float dc = clampf(d, -kLogRatioClamp, kLogRatioClamp);
    const float e = expFn(dc);
    const float k = e - dc - 1.0f;
    const bool live = (d == dc) & (k <= kLowVarKlClamp);  // k >= 0 always, so only the upper clamp can bind
    out.value = k > kLowVarKlClamp ? kLowVarKlClamp : k;
    out.grad = live ? 1.0f - e : 0.0f;
  }
  return out;
}

}  // namespace hiexp::rl::math
