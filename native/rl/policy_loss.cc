// The fused CPU kernel of policy_loss.h: two passes over the batch, the first over the mask (and, for GSPO, the
// log-ratios) to get each row's token count and sequence ratio, the second writing the gradient and accumulating the
// statistics. Nothing of size B*T is allocated but the caller's gradient.
#include "rl/policy_loss.h"

#include <ATen/Parallel.h>

#include <cfloat>
#include <cmath>
#include <vector>

#include "common/errors.h"
#include "rl/fast_exp.h"
#include "rl/policy_loss_math.h"

namespace hiexp::rl {

void checkPolicyLossOptions(const PolicyLossOptions& opts) {
  HX_CHECK_RANGE(std::isfinite(opts.clipLow) && opts.clipLow >= 0 && opts.clipLow < 1,
                 "clipLow must be a number in [0, 1), got ", opts.clipLow);
  HX_CHECK_RANGE(std::isfinite(opts.clipHigh) && opts.clipHigh >= 0, "clipHigh must be a finite number >= 0, got ",
                 opts.clipHigh);
  if (opts.dualClip) {
    HX_CHECK_RANGE(std::isfinite(*opts.dualClip) && *opts.dualClip > 1, "dualClip must be a number > 1, got ",
                   *opts.dualClip);
  }
  HX_CHECK_RANGE(std::isfinite(opts.klCoef) && opts.klCoef >= 0, "klCoef must be a finite number >= 0, got ",
                 opts.klCoef);
  HX_CHECK_RANGE(std::isfinite(opts.normLength) && opts.normLength >= 0,
                 "normLength must be a finite number >= 0 (0 means T), got ", opts.normLength);
}

namespace {

inline bool finite(float x) { return std::fabs(x) <= FLT_MAX; }

struct RowSums {
  double pg = 0, kl = 0, clipped = 0, negKl = 0;
  int bad = 0;
};

// Per-row weights of the aggregation: each masked token's loss enters the total with weight mask * scale[b].
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
    if (rowMask[b] <= 0) continue;
    switch (agg) {
      case Aggregation::TokenMean: scale[b] = 1.0 / M; break;
      case Aggregation::SeqMeanTokenMean: scale[b] = 1.0 / (rowMask[b] * static_cast<double>(nonEmpty)); break;
      case Aggregation::SeqMeanTokenSum: scale[b] = 1.0 / static_cast<double>(nonEmpty); break;
      case Aggregation::SeqMeanTokenSumNorm: scale[b] = 1.0 / (normLength > 0 ? normLength : static_cast<double>(T)); break;
    }
  }
  return scale;
}

template <typename MaskT>
void rowMaskSums(const MaskT* mask, const float* logp, const float* oldLogp, bool withLogRatio, int64_t B, int64_t T,
                 std::vector<double>& rowMask, std::vector<double>& rowLogRatio) {
  at::parallel_for(0, B, std::max<int64_t>(1, 65536 / std::max<int64_t>(T, 1)), [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int64_t row = b * T;
      double m = 0, lr = 0;
      int badMask = 0;
      for (int64_t t = 0; t < T; ++t) {
        const float w = static_cast<float>(mask[row + t]);
        badMask |= !(w >= 0.0f && finite(w));
        m += w;
      }
      if (badMask) {
        for (int64_t t = 0; t < T; ++t) {
          const float w = static_cast<float>(mask[row + t]);
          HX_CHECK_RANGE(w >= 0.0f && finite(w), "mask[", row + t, "] must be a finite weight >= 0, got ", w);
        }
      }
      if (withLogRatio) {
        for (int64_t t = 0; t < T; ++t) {
          const float w = static_cast<float>(mask[row + t]);
          const float d = w > 0.0f ? logp[row + t] - oldLogp[row + t] : 0.0f;
          lr += w * d;
        }
      }
      rowMask[b] = m;
      rowLogRatio[b] = lr;
    }
  });
}

// One row of the second pass. Template parameters fix everything that is constant over the loop, so it vectorises.
template <typename MaskT, bool Gspo, bool TokenAdv, int Kl>
RowSums lossRow(const PolicyLossBatch& x, const MaskT* mask, int64_t b, float scale, float seqRatio, bool seqInRange,
                float lowBound, float highBound, float dualClip, float klCoef, float* grad) {
  const int64_t T = x.T, row = b * T;
  const float rowAdv = TokenAdv ? 0.0f : x.advantages[b];
  double pg = 0, kl = 0, clipped = 0, negKl = 0;
  int bad = 0;
  for (int64_t t = 0; t < T; ++t) {
    const int64_t i = row + t;
    const float m = static_cast<float>(mask[i]);
    const bool on = m > 0.0f;
    const float lp = on ? x.logp[i] : 0.0f;
    const float old = on ? x.oldLogp[i] : 0.0f;
    const float A = TokenAdv ? (on ? x.advantages[i] : 0.0f) : rowAdv;
    const float ref = Kl ? (on ? x.refLogp[i] : 0.0f) : 0.0f;
    bad |= on & !(finite(lp) & finite(old) & finite(A) & (Kl == 0 || finite(ref)));
    const float d = lp - old;
    float ratio;
    bool inRange;
    if constexpr (Gspo) {
      ratio = seqRatio;
      inRange = seqInRange;
      negKl += m * -d;
    } else {
      const float dc = math::clampf(d, -math::kLogRatioClamp, math::kLogRatioClamp);
      ratio = fastExp(dc);
      inRange = d == dc;
      negKl += m * -dc;
    }
    const math::TokenTerms term = math::clippedSurrogate(A, ratio, inRange, lowBound, highBound, dualClip);
    float g = term.grad;
    if constexpr (Kl != 0) {
      const math::KlTerms k = math::klPenalty(Kl, lp, ref, [](float v) { return fastExp(v); });
      kl += m * k.value;
      g += klCoef * k.grad;
    }
    grad[i] = on ? m * scale * g : 0.0f;
    pg += m * term.loss;
    clipped += m * term.clipped;
  }
  return RowSums{pg, kl, clipped, negKl, bad};
}

template <typename MaskT, bool Gspo, bool TokenAdv, int Kl>
void lossRows(const PolicyLossBatch& x, const MaskT* mask, const std::vector<double>& scale,
              const std::vector<double>& rowMask, const std::vector<double>& rowLogRatio, const PolicyLossOptions& o,
              float* grad, std::vector<RowSums>& sums) {
  const float lowBound = static_cast<float>(1.0 - o.clipLow), highBound = static_cast<float>(1.0 + o.clipHigh);
  const float dualClip = o.dualClip ? static_cast<float>(*o.dualClip) : 0.0f;
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

// Names the first non-finite input under the mask of a row the kernel flagged.
[[noreturn]] void reportNonFinite(const PolicyLossBatch& x, int64_t b, bool hasKl) {
  for (int64_t t = 0; t < x.T; ++t) {
    const int64_t i = b * x.T + t;
    const float m = x.maskU8 ? x.maskU8[i] : x.maskF32[i];
    if (!(m > 0)) continue;
    HX_CHECK_RANGE(finite(x.logp[i]), "logp[", i, "] is ", x.logp[i], " at a masked token; logp must be finite there");
    HX_CHECK_RANGE(finite(x.oldLogp[i]), "oldLogp[", i, "] is ", x.oldLogp[i],
                   " at a masked token; oldLogp must be finite there");
    const int64_t a = x.tokenAdvantages ? i : b;
    HX_CHECK_RANGE(finite(x.advantages[a]), "advantages[", a, "] is ", x.advantages[a], "; advantages must be finite");
    if (hasKl) {
      HX_CHECK_RANGE(finite(x.refLogp[i]), "refLogp[", i, "] is ", x.refLogp[i],
                     " at a masked token; refLogp must be finite there");
    }
  }
  throwRange("a non-finite input in row ", b);
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
    if (sums[b].bad) reportNonFinite(x, b, hasKl);
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
