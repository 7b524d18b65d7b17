// Group-relative advantage estimators (verl's compute_*_outcome_advantage), one reward per sequence.
//   grpo                  (r - mean_g) / (std_g + eps)   (std unbiased, as torch.std; without normalizeStd: r - mean_g)
//   drgrpo                r - mean_g                      (Dr.GRPO, arXiv 2503.20783: no std normalisation)
//   rloo                  r - mean of the other members  = (n r - sum_g) / (n - 1)
//   reinforce++-baseline  r - mean_g, then whitened over the batch: (x - mean) / sqrt(var + 1e-8), var unbiased,
//                         weighted by each sequence's token count when given (verl whitens over tokens)
// A group of one member has mean 0 and std 1, as in verl, so its advantage is its reward (over 1 + eps for grpo);
// zeroSingletons gives it advantage 0 instead.
#pragma once
#include <cstdint>
#include <vector>

namespace hiexp::rl {

enum class AdvantageEstimator { Grpo, DrGrpo, Rloo, ReinforcePlusPlusBaseline };

struct AdvantageOptions {
  AdvantageEstimator estimator = AdvantageEstimator::Grpo;
  bool normalizeStd = true;  // grpo only
  double eps = 1e-6;
  bool zeroSingletons = false;
};

// Maps arbitrary group ids to dense indices 0..G-1 in order of first appearance; returns G.
int64_t denseGroups(const int32_t* ids, int64_t B, int32_t* dense);

void checkAdvantageOptions(const AdvantageOptions& opts);

// rewards[B] (finite), group[B] dense in [0, G), tokenCounts[B] or null; writes out[B].
void groupAdvantagesCpu(const float* rewards, const int32_t* group, int64_t B, int64_t G, const float* tokenCounts,
                        const AdvantageOptions& opts, float* out);

// out[b*T + t] = advantages[b] * mask[b*T + t] (mask uint8 or float: exactly one non-null).
void broadcastAdvantagesCpu(const float* advantages, const uint8_t* maskU8, const float* maskF32, int64_t B, int64_t T,
                            float* out);

}  // namespace hiexp::rl
