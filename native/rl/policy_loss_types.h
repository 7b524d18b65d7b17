// Options, statistics and raw batch views of the policy losses (formulas in policy_loss.h).
// No libtorch here: the CUDA kernel (cuda/policy_loss.cu) includes this too.
#pragma once
#include <cstdint>
#include <optional>

namespace hiexp::rl {

enum class Algorithm { Grpo, Gspo };
enum class Aggregation { TokenMean, SeqMeanTokenMean, SeqMeanTokenSum, SeqMeanTokenSumNorm };
enum class KlEstimator { K1, K2, K3 };

struct PolicyLossOptions {
  Algorithm algorithm = Algorithm::Grpo;
  double clipLow = 0.2;
  double clipHigh = 0.2;
  std::optional<double> dualClip;  // c > 1; off when empty
  Aggregation aggregation = Aggregation::TokenMean;
  double klCoef = 0.0;  // the KL term is computed when klCoef > 0 and a reference is given
  KlEstimator klEstimator = KlEstimator::K3;
  double normLength = 0.0;  // seq-mean-token-sum-norm divisor; 0 means T
};

struct PolicyLossStats {
  double loss = 0;          // total: policy-gradient part + klCoef * kl
  double pgLoss = 0;        // policy-gradient part alone
  double clipFraction = 0;  // share of masked tokens whose clipped branch is active
  double approxKl = 0;      // masked token mean of old - logp
  double kl = 0;            // aggregated KL to the reference (0 when not computed)
  bool hasKl = false;
};

// Raw views of one batch. advantages has B entries (per sequence) or B*T (per token); refLogp may be null.
// mask is either uint8 (maskU8) or float (maskF32), exactly one of them non-null.
struct PolicyLossBatch {
  const float* logp = nullptr;
  const float* oldLogp = nullptr;
  const float* advantages = nullptr;
  bool tokenAdvantages = false;
  const uint8_t* maskU8 = nullptr;
  const float* maskF32 = nullptr;
  const float* refLogp = nullptr;
  int64_t B = 0;
  int64_t T = 0;
};

// Checks the options (throws hiexp::RangeError naming the option). In policy_loss.cc.
void checkPolicyLossOptions(const PolicyLossOptions& opts);

// Throws a RangeError naming the first non-finite input the loss would read: a mask weight that is not a finite
// number >= 0 anywhere, or a non-finite logp, oldLogp, advantage or (with hasKl) refLogp at a masked token. Returns
// when there is none. The fused kernels find bad values inside their own passes and call this only to name one; the
// libtorch-ops baseline calls it up front, so both refuse the same input with the same message. In policy_loss.cc.
void checkFiniteInputs(const PolicyLossBatch& batch, bool hasKl);

}  // namespace hiexp::rl
