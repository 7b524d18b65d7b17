// The fused CPU kernel of rl/policy_loss.h (its CUDA twin is cuda/policy_loss.cu): two passes over the batch, the
// first over the mask (and, for GSPO, the log-ratios) to get each row's token count and sequence ratio, the second
// writing the gradient and accumulating the statistics. Nothing of size B*T is allocated but the caller's gradient.
#include "rl/cpu/policy_loss.h"

#include <ATen/Parallel.h>

#include <cfloat>
#include <cmath>
#include <vector>

#include "common/errors.h"
#include "rl/cpu/fast_exp.h"
#include "rl/policy_loss_math.h"

namespace hiexp::rl {

namespace {

inline bool finite(float x) { return std::fabs(x) <= FLT_MAX; }

struct RowSums {
  double pg = 0, kl = 0, clipped = 0, negKl = 0;
  bool bad = false;
};

// Per-row weights of the aggregation (math::aggregationScale, shared with the CUDA kernel).
std::vector<double> rowScales(const std::vector<double>& rowMask, Aggregation agg, int64_t T, double normLength,
                              double* totalMask) {
  const int64_t B = static_cast<int64_t>(rowMask.size());
  double M = 0;
  int64_t nonEmpty = 0;
  for (double m : rowMask) {
    M += m;
    nonEmpty += m > 0;
  }
  *totalMask = M;
  std::vector<double> scale(B, 0.0);
  for (int64_t b = 0; b < B; ++b) {
    scale[b] = math::aggregationScale(agg, rowMask[b], M, static_cast<double>(nonEmpty), T, normLength);
  }
  return scale;
}

template <typename MaskT>
void rowMaskSums(const MaskT* mask, const float* logp, const float* oldLogp, bool withLogRatio, int64_t B, int64_t T,
                 std::vector<double>& rowMask, std::vector<double>& rowLogRatio) {
  at::parallel_for(0, B, std::max<int64_t>(1, 65536 / std::max<int64_t>(T, 1)), [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int64_t row = b * T;
      double lr = 0;
      float m = 0, badMask = 0;
      for (int64_t t = 0; t < T; ++t) {
        const float w = static_cast<float>(mask[row + t]);
        badMask += (w >= 0.0f) & finite(w) ? 0.0f : 1.0f;
        m += w;
      }
      if (badMask > 0) {
        for (int64_t t = 0; t < T; ++t) {
          const float w = static_cast<float>(mask[row + t]);
          HX_CHECK_RANGE(w >= 0.0f && finite(w), "mask[", row + t, "] must be a finite weight >= 0, got ", w);
        }
      }
      if (withLogRatio) {
        float sum = 0.0f;
        for (int64_t t = 0; t < T; ++t) {
          const float w = static_cast<float>(mask[row + t]);
          const float d = logp[row + t] - oldLogp[row + t];  // loaded unconditionally: a conditional load stops vectorisation
          sum += w > 0.0f ? w * d : 0.0f;
        }
        lr = sum;
      }
      rowMask[b] = m;
      rowLogRatio[b] = lr;
    }
  });
}

// One row of the second pass, in chunks: a map loop writes the gradient and each token's weighted terms into small
// L1-resident buffers, then plain loops sum the buffers. Split this way both loops vectorise; fused, the compiler
// turns the selects into conditional reductions it cannot vectorise. Template parameters fix everything constant.
template <typename MaskT, bool Gspo, bool TokenAdv, int Kl>
RowSums lossRow(const PolicyLossBatch& x, const MaskT* mask, int64_t b, float scale, float seqRatio, bool seqInRange,
                float lowBound, float highBound, float dualClip, float klCoef, float* grad) {
  constexpr int64_t kChunk = 256;
  const int64_t T = x.T, row = b * T;
  const float rowAdv = TokenAdv ? 0.0f : x.advantages[b];
  const float seqClippedRatio = math::clampf(seqRatio, lowBound, highBound);
  const float seqGradRatio = seqInRange ? seqRatio : 0.0f;
  // Local restrict pointers: read through `x`, every store to grad could alias x's fields.
  const float* __restrict logpP = x.logp + row;
  const float* __restrict oldP = x.oldLogp + row;
  const float* __restrict advP = TokenAdv ? x.advantages + row : nullptr;
  const float* __restrict refP = Kl ? x.refLogp + row : nullptr;
  const MaskT* __restrict maskP = mask + row;
  float* __restrict gradP = grad + row;
  alignas(64) float lossBuf[kChunk], klBuf[kChunk], clipBuf[kChunk], negKlBuf[kChunk], badBuf[kChunk];
  RowSums sums;
  for (int64_t start = 0; start < T; start += kChunk) {
    const int64_t n = std::min(kChunk, T - start);
    // The arrays never overlap (inputs are read-only, grad and the buffers are written once per index); gcc does not
    // trust block-scope restrict, and its run-time alias checks are too many for this loop.
#pragma GCC ivdep
    for (int64_t j = 0; j < n; ++j) {
      const int64_t t = start + j;
      const float m = static_cast<float>(maskP[t]);
      const bool on = m > 0.0f;
      // Unconditional loads then selects: every index is in bounds, and a conditional load would stop vectorisation.
      const float lpIn = logpP[t], oldIn = oldP[t];
      const float lp = on ? lpIn : 0.0f;
      const float old = on ? oldIn : 0.0f;
      float A = rowAdv;
      if constexpr (TokenAdv) {
        const float aIn = advP[t];
        A = on ? aIn : 0.0f;
      }
      float ref = 0.0f;
      if constexpr (Kl != 0) {
        const float refIn = refP[t];
        ref = on ? refIn : 0.0f;
      }
      const bool ok = finite(lp) & finite(old) & finite(A) & (Kl == 0 || finite(ref));
      badBuf[j] = (on & !ok) ? 1.0f : 0.0f;
      const float d = lp - old;
      float ratio, clippedRatio, gradRatio, logRatio;
      if constexpr (Gspo) {
        ratio = seqRatio;
        clippedRatio = seqClippedRatio;
        gradRatio = seqGradRatio;
        logRatio = d;
      } else {
        logRatio = math::clampf(d, -math::kLogRatioClamp, math::kLogRatioClamp);
        ratio = fastExp(logRatio);
        clippedRatio = math::clampf(ratio, lowBound, highBound);
        gradRatio = d == logRatio ? ratio : 0.0f;
      }
      const math::TokenTerms term = math::clippedSurrogate(A, ratio, clippedRatio, gradRatio, dualClip);
      float g = term.grad, klValue = 0.0f;
      if constexpr (Kl != 0) {
        const math::KlTerms k = math::klPenalty(Kl, lp, ref, [](float v) __attribute__((always_inline)) { return fastExp(v); });
        klValue = k.value;
        g += klCoef * k.grad;
      }
      const float w = on ? m : 0.0f;
      gradP[t] = on ? w * scale * g : 0.0f;
      lossBuf[j] = w * term.loss;
      if constexpr (Kl != 0) klBuf[j] = w * klValue;
      clipBuf[j] = w * term.clipped;
      negKlBuf[j] = w * -logRatio;
    }
    float pg = 0, kl = 0, clipped = 0, negKl = 0, bad = 0;
    if constexpr (Kl != 0) {
      for (int64_t j = 0; j < n; ++j) kl += klBuf[j];
    }
    for (int64_t j = 0; j < n; ++j) {
      pg += lossBuf[j];
      clipped += clipBuf[j];
      negKl += negKlBuf[j];
      bad += badBuf[j];
    }
    sums.pg += pg;
    sums.kl += kl;
    sums.clipped += clipped;
    sums.negKl += negKl;
    sums.bad = sums.bad || bad > 0;
  }
  return sums;
}

template <typename MaskT, bool Gspo, bool TokenAdv, int Kl>
void lossRows(const PolicyLossBatch& x, const MaskT* mask, const std::vector<double>& scale,
              const std::vector<double>& rowMask, const std::vector<double>& rowLogRatio, const PolicyLossOptions& o,
              float* grad, std::vector<RowSums>& sums) {
  const float lowBound = static_cast<float>(1.0 - o.clipLow), highBound = static_cast<float>(1.0 + o.clipHigh);
  const float dualClip = o.dualClip ? static_cast<float>(*o.dualClip) : FLT_MAX;
  const float klCoef = static_cast<float>(o.klCoef);
  at::parallel_for(0, x.B, std::max<int64_t>(1, 32768 / std::max<int64_t>(x.T, 1)), [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      float seqRatio = 1.0f;
      bool seqInRange = true;
      if constexpr (Gspo) {
        const double mean = rowLogRatio[b] / std::max(1.0, rowMask[b]);
        seqInRange = mean <= math::kSeqLogRatioMax;
        seqRatio = static_cast<float>(std::exp(std::min<double>(mean, math::kSeqLogRatioMax)));
      }
      sums[b] = lossRow<MaskT, Gspo, TokenAdv, Kl>(x, mask, b, static_cast<float>(scale[b]), seqRatio, seqInRange,
                                                    lowBound, highBound, dualClip, klCoef, grad);
    }
  });
}

template <typename MaskT, bool Gspo, bool TokenAdv>
void dispatchKl(int kl, const PolicyLossBatch& x, const MaskT* mask, const std::vector<double>& scale,
                const std::vector<double>& rowMask, const std::vector<double>& rowLogRatio,
                const PolicyLossOptions& o, float* grad, std::vector<RowSums>& sums) {
  switch (kl) {
    case 0: return lossRows<MaskT, Gspo, TokenAdv, 0>(x, mask, scale, rowMask, rowLogRatio, o, grad, sums);
    case 1: return lossRows<MaskT, Gspo, TokenAdv, 1>(x, mask, scale, rowMask, rowLogRatio, o, grad, sums);
    case 2: return lossRows<MaskT, Gspo, TokenAdv, 2>(x, mask, scale, rowMask, rowLogRatio, o, grad, sums);
    default: return lossRows<MaskT, Gspo, TokenAdv, 3>(x, mask, scale, rowMask, rowLogRatio, o, grad, sums);
  }
}

template <typename MaskT>
PolicyLossStats run(const PolicyLossBatch& x, const MaskT* mask, const PolicyLossOptions& o, float* grad) {
  const bool gspo = o.algorithm == Algorithm::Gspo;
  const bool hasKl = o.klCoef > 0 && x.refLogp != nullptr;
  const int kl = hasKl ? static_cast<int>(o.klEstimator) + 1 : 0;
  std::vector<double> rowMask(x.B), rowLogRatio(x.B);
  rowMaskSums(mask, x.logp, x.oldLogp, gspo, x.B, x.T, rowMask, rowLogRatio);
  double M = 0;
  const std::vector<double> scale = rowScales(rowMask, o.aggregation, x.T, o.normLength, &M);
  std::vector<RowSums> sums(x.B);
  if (gspo) {
    x.tokenAdvantages ? dispatchKl<MaskT, true, true>(kl, x, mask, scale, rowMask, rowLogRatio, o, grad, sums)
                      : dispatchKl<MaskT, true, false>(kl, x, mask, scale, rowMask, rowLogRatio, o, grad, sums);
  } else {
    x.tokenAdvantages ? dispatchKl<MaskT, false, true>(kl, x, mask, scale, rowMask, rowLogRatio, o, grad, sums)
                      : dispatchKl<MaskT, false, false>(kl, x, mask, scale, rowMask, rowLogRatio, o, grad, sums);
  }
  PolicyLossStats s;
  double clipped = 0, negKl = 0;
  for (int64_t b = 0; b < x.B; ++b) {
    if (sums[b].bad) {
      checkFiniteInputs(x, hasKl);
      throwRange("a non-finite input in row ", b);  // not reached: checkFiniteInputs names the value
    }
    s.pgLoss += scale[b] * sums[b].pg;
    s.kl += scale[b] * sums[b].kl;
    clipped += sums[b].clipped;
    negKl += sums[b].negKl;
  }
  s.hasKl = hasKl;
  s.clipFraction = M > 0 ? clipped / M : 0.0;
  s.approxKl = M > 0 ? negKl / M : 0.0;
  s.loss = s.pgLoss + (hasKl ? o.klCoef * s.kl : 0.0);
  return s;
}

}  // namespace

PolicyLossStats policyLossCpu(const PolicyLossBatch& batch, const PolicyLossOptions& opts, float* gradLogp) {
  checkPolicyLossOptions(opts);
  HX_CHECK_RANGE(batch.B > 0 && batch.T > 0, "B and T must be >= 1, got B=", batch.B, ", T=", batch.T);
  HX_CHECK_RANGE((batch.maskU8 == nullptr) != (batch.maskF32 == nullptr), "mask must be given, as uint8 or float");
  return batch.maskU8 ? run(batch, batch.maskU8, opts, gradLogp) : run(batch, batch.maskF32, opts, gradLogp);
}

}  // namespace hiexp::rl
