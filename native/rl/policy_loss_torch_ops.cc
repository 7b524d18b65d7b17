// policy_loss.h's formulas as a PyTorch user writes them (verl's core_algos.py style): elementwise libtorch ops,
// differentiated by autograd. The benchmark baseline, and the independent check of the fused gradient.
#include <ATen/ATen.h>

#include "rl/policy_loss.h"
#include "rl/policy_loss_math.h"

namespace hiexp::rl {

namespace {

at::Tensor aggregate(const at::Tensor& loss, const at::Tensor& mask, Aggregation agg, double normLength) {
  const auto rowMask = mask.sum(-1);
  const auto nonEmpty = (rowMask > 0).to(loss.scalar_type());
  const auto rowSum = (loss * mask).sum(-1);
  const auto rowCount = nonEmpty.sum().clamp_min(1.0);
  switch (agg) {
    case Aggregation::TokenMean: return rowSum.sum() / mask.sum().clamp_min(1e-30);
    case Aggregation::SeqMeanTokenMean: return (rowSum / rowMask.clamp_min(1e-30) * nonEmpty).sum() / rowCount;
    case Aggregation::SeqMeanTokenSum: return (rowSum * nonEmpty).sum() / rowCount;
    case Aggregation::SeqMeanTokenSumNorm:
      return rowSum.sum() / (normLength > 0 ? normLength : static_cast<double>(loss.size(-1)));
  }
  return rowSum.sum();
}

at::Tensor klTerm(const at::Tensor& logp, const at::Tensor& ref, KlEstimator estimator) {
  switch (estimator) {
    case KlEstimator::K1: return logp - ref;
    case KlEstimator::K2: return 0.5 * (logp - ref).square();
    case KlEstimator::K3: {
      const auto d = at::clamp(ref - logp, -math::kLogRatioClamp, math::kLogRatioClamp);
      return at::clamp(at::exp(d) - d - 1.0, -math::kLowVarKlClamp, math::kLowVarKlClamp);
    }
  }
  return logp - ref;
}

}  // namespace

at::Tensor policyLossTorchOps(const at::Tensor& logp, const at::Tensor& oldLogp, const at::Tensor& advantages,
                              const at::Tensor& mask, const at::Tensor& refLogp, const PolicyLossOptions& o) {
  const auto m = mask.to(logp.scalar_type());
  const auto A = advantages.dim() == 1 ? advantages.unsqueeze(-1) : advantages;
  at::Tensor ratio;
  if (o.algorithm == Algorithm::Grpo) {
    ratio = at::exp(at::clamp(logp - oldLogp, -math::kLogRatioClamp, math::kLogRatioClamp));
  } else {
    const auto seqLogRatio = ((logp - oldLogp) * m).sum(-1) / m.sum(-1).clamp_min(1.0);
    const auto tokenLogRatio = logp - logp.detach() + seqLogRatio.detach().unsqueeze(-1);
    ratio = at::exp(at::clamp_max(tokenLogRatio, math::kSeqLogRatioMax));
  }
  const auto l1 = -A * ratio;
  const auto l2 = -A * at::clamp(ratio, 1.0 - o.clipLow, 1.0 + o.clipHigh);
  auto pg = at::maximum(l1, l2);
  if (o.dualClip) pg = at::where(A < 0, at::minimum(pg, -A * *o.dualClip), pg);
  auto loss = aggregate(pg, m, o.aggregation, o.normLength);
  if (o.klCoef > 0 && refLogp.defined()) {
    loss = loss + o.klCoef * aggregate(klTerm(logp, refLogp, o.klEstimator), m, o.aggregation, o.normLength);
  }
  return loss;
}

}  // namespace hiexp::rl
