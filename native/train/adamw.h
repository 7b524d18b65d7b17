// AdamW (Loshchilov & Hutter; torch.optim.AdamW's update, decoupled weight decay) with a warm-up then constant or
// cosine learning-rate schedule. Moments are float32 whatever the parameter dtype; the update is computed in float32
// and cast back, so bf16 weights do not lose the small steps to rounding in the moments.
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace hiexp::train {

enum class Schedule { Constant, Cosine };

struct OptimizerOptions {
  double lr = 1e-5;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weightDecay = 0.01;
  int64_t warmupSteps = 0;
  Schedule schedule = Schedule::Constant;
  int64_t totalSteps = 0;    // cosine: the step at which lr reaches minLrRatio * lr
  double minLrRatio = 0.0;
  double maxGradNorm = 1.0;  // 0: no clipping
  int64_t microBatchSize = 0;  // rows per forward/backward at most; 0: no row limit
  // Padded tokens (rows x longest row) per forward/backward at most; rows are taken longest first, so that a
  // micro-batch pads to its own longest row, not the batch's. 0: auto (train/micro_batches.h).
  int64_t microBatchTokens = 0;
  void check() const;
};

// The learning rate of step `step` (0-based: the first step is 0).
double learningRate(const OptimizerOptions& o, int64_t step);

class AdamW {
 public:
  // Applies one update to the parameters that have a gradient; `step` counts completed updates before this one.
  void update(const std::vector<std::pair<std::string, at::Tensor>>& params, const OptimizerOptions& o, double lr,
              int64_t step);
  // exp_avg.<name>, exp_avg_sq.<name>
  std::vector<std::pair<std::string, at::Tensor>> state() const;
  void loadState(const std::vector<std::pair<std::string, at::Tensor>>& tensors, at::Device device);

 private:
  std::map<std::string, at::Tensor> m_, v_;
};

// Global L2 norm of the gradients (float32 sum of squares, as torch.nn.utils.clip_grad_norm_); scales them to maxNorm
// when above it (maxNorm > 0). Returns the norm before clipping.
double clipGradNorm(const std::vector<at::Tensor>& params, double maxNorm);

}  // namespace hiexp::train
