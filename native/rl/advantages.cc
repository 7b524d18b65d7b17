#include "rl/advantages.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <unordered_map>

#include "common/errors.h"

namespace hiexp::rl {

int64_t denseGroups(const int32_t* ids, int64_t B, int32_t* dense) {
  std::unordered_map<int32_t, int32_t> index;
  index.reserve(static_cast<size_t>(B));
  for (int64_t i = 0; i < B; ++i) {
    auto [it, inserted] = index.emplace(ids[i], static_cast<int32_t>(index.size()));
    dense[i] = it->second;
  }
  return static_cast<int64_t>(index.size());
}

void checkAdvantageOptions(const AdvantageOptions& opts) {
  HX_CHECK_RANGE(std::isfinite(opts.eps) && opts.eps >= 0, "eps must be a finite number >= 0, got ", opts.eps);
}

void groupAdvantagesCpu(const float* rewards, const int32_t* group, int64_t B, int64_t G, const float* tokenCounts,
                        const AdvantageOptions& opts, float* out) {
  checkAdvantageOptions(opts);
  for (int64_t i = 0; i < B; ++i) {
    HX_CHECK_RANGE(std::isfinite(rewards[i]), "rewards[", i, "] must be finite, got ", rewards[i]);
    HX_CHECK_RANGE(group[i] >= 0 && group[i] < G, "group index ", group[i], " at ", i, " is outside [0, ", G, ")");
    if (tokenCounts) {
      HX_CHECK_RANGE(std::isfinite(tokenCounts[i]) && tokenCounts[i] >= 0,
                     "tokenCounts[", i, "] must be a finite number >= 0, got ", tokenCounts[i]);
    }
  }
  // Two passes in float64 (mean, then squared deviations): stable for rewards of any offset.
  std::vector<double> sum(G, 0.0), sq(G, 0.0);
  std::vector<int64_t> count(G, 0);
  for (int64_t i = 0; i < B; ++i) {
    sum[group[i]] += rewards[i];
    ++count[group[i]];
  }
  std::vector<double> mean(G), stdev(G, 1.0);
  for (int64_t g = 0; g < G; ++g) mean[g] = count[g] > 1 ? sum[g] / count[g] : 0.0;
  for (int64_t i = 0; i < B; ++i) {
    double d = rewards[i] - mean[group[i]];
    sq[group[i]] += d * d;
  }
  for (int64_t g = 0; g < G; ++g) stdev[g] = count[g] > 1 ? std::sqrt(sq[g] / (count[g] - 1)) : 1.0;
  // GRPO: a group whose rewards are all equal carries no signal, so its advantages are 0 whatever eps (with eps 0 the
  // formula is 0/0, and rounding in the mean would turn equal rewards into +-1).
  std::vector<uint8_t> constant(G, 1);
  std::vector<double> first(G, 0.0);
  std::vector<uint8_t> seen(G, 0);
  for (int64_t i = 0; i < B; ++i) {
    const int64_t g = group[i];
    if (!seen[g]) seen[g] = 1, first[g] = rewards[i];
    else if (rewards[i] != first[g]) constant[g] = 0;
  }

  std::vector<double> adv(B);
  for (int64_t i = 0; i < B; ++i) {
    const int64_t g = group[i], n = count[g];
    const double r = rewards[i];
    switch (opts.estimator) {
      case AdvantageEstimator::Grpo:
        adv[i] = n > 1 && constant[g] ? 0.0 : opts.normalizeStd ? (r - mean[g]) / (stdev[g] + opts.eps) : r - mean[g];
        break;
      case AdvantageEstimator::DrGrpo:
      case AdvantageEstimator::ReinforcePlusPlusBaseline:
        adv[i] = r - mean[g];
        break;
      case AdvantageEstimator::Rloo:
        adv[i] = n > 1 ? (static_cast<double>(n) * r - sum[g]) / static_cast<double>(n - 1) : r;
        break;
    }
    if (n == 1 && opts.zeroSingletons) adv[i] = 0.0;
  }
  if (opts.estimator == AdvantageEstimator::ReinforcePlusPlusBaseline) {
    double wsum = 0, wx = 0;
    for (int64_t i = 0; i < B; ++i) {
      const double w = tokenCounts ? tokenCounts[i] : 1.0;
      wsum += w;
      wx += w * adv[i];
    }
    HX_CHECK_RANGE(wsum > 1, "reinforce++-baseline whitens over the batch and needs a total weight > 1 (sequences or ",
                   "tokenCounts), got ", wsum);
    const double m = wx / wsum;
    double var = 0;
    for (int64_t i = 0; i < B; ++i) var += (tokenCounts ? tokenCounts[i] : 1.0) * (adv[i] - m) * (adv[i] - m);
    var = var / wsum * (wsum / (wsum - 1));  // verl's masked_var with Bessel's correction on the weight total
    const double scale = 1.0 / std::sqrt(var + 1e-8);
    for (int64_t i = 0; i < B; ++i) adv[i] = (adv[i] - m) * scale;
  }
  for (int64_t i = 0; i < B; ++i) out[i] = static_cast<float>(adv[i]);
}

void broadcastAdvantagesCpu(const float* advantages, const uint8_t* maskU8, const float* maskF32, int64_t B, int64_t T,
                            float* out) {
  at::parallel_for(0, B, 16, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const float a = advantages[b];
      const int64_t row = b * T;
      if (maskU8) {
        for (int64_t t = 0; t < T; ++t) out[row + t] = maskU8[row + t] ? a : 0.0f;
      } else {
        for (int64_t t = 0; t < T; ++t) out[row + t] = maskF32[row + t] > 0 ? a * maskF32[row + t] : 0.0f;
      }
    }
  });
}

}  // namespace hiexp::rl
