// The per-token formulas of policy_loss.h, shared by the CPU kernel (policy_loss.cc) and the CUDA kernel
// (policy_loss.cu) so the two cannot drift. Branch-free selects, so the CPU loop vectorises.
#pragma once
#include <cstdint>

#ifdef __CUDACC__
#define HX_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define HX_HOST_DEVICE inline
#endif

namespace hiexp::rl::math {

constexpr float kLogRatioClamp = 20.0f;     // verl clamps the token log-ratio (and low_var_kl's log-ratio) to ±20
constexpr float kSeqLogRatioMax = 10.0f;    // verl clamps GSPO's sequence log-ratio at 10
constexpr float kLowVarKlClamp = 10.0f;     // verl clamps low_var_kl to [-10, 10]

HX_HOST_DEVICE float clampf(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }

struct TokenTerms {
  float loss;     // the token's policy-gradient loss l_t
  float grad;     // d l_t / d logp_t
  float clipped;  // 1 when the clipped branch is the active one
};

// PPO/GRPO token-level surrogate with asymmetric clip and optional dual clip (dualClip <= 0: off).
// `ratio` is exp(clamp(d, ±20)) and `inRange` says whether d was inside the clamp (else the gradient is 0).
HX_HOST_DEVICE TokenTerms clippedSurrogate(float A, float ratio, bool inRange, float lowBound, float highBound,
                                           float dualClip) {
  const float l1 = -A * ratio;
  const float l2 = -A * clampf(ratio, lowBound, highBound);
  const bool unclipped = l1 >= l2;  // ties occur only inside the clip range, where both branches share the gradient
  TokenTerms out;
  out.loss = unclipped ? l1 : l2;
  out.grad = (unclipped && inRange) ? -A * ratio : 0.0f;
  out.clipped = l2 > l1 ? 1.0f : 0.0f;
  if (dualClip > 0.0f) {
    const float l3 = -A * dualClip;
    const bool dual = A < 0.0f && l3 < out.loss;
    out.loss = dual ? l3 : out.loss;
    out.grad = dual ? 0.0f : out.grad;
  }
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
    const bool live = d == dc && k <= kLowVarKlClamp;  // k >= 0 always, so only the upper clamp can bind
    out.value = k > kLowVarKlClamp ? kLowVarKlClamp : k;
    out.grad = live ? 1.0f - e : 0.0f;
  }
  return out;
}

}  // namespace hiexp::rl::math
