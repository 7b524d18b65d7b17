// Gradient steps on a PolicyCore's model: the RL step (log-probs with grad -> hiexp::rl::policyLoss -> backward ->
// clip -> AdamW) and the supervised step (masked cross-entropy), both with micro-batch accumulation, and checkpoints
// (weights, optimiser moments, step, RNG, frozen reference) written atomically.
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <string>

#include "model/policy_core.h"
#include "rl/policy_loss.h"
#include "train/adamw.h"

namespace hiexp::dist {
class Group;
}

namespace hiexp::train {

// A right-padded batch: tokens [B, T] (int64), mask [B, T] float (1 = a response token the loss sees; position 0
// must be 0 since nothing predicts it), advantages [B] or [B, T], oldLogp [B, T] or undefined (then the current
// log-probs, detached: the on-policy ratio 1).
// refLogp [B, T] or undefined: per-token log-probs of the KL target; when given they replace the frozen reference
// (HiExp regularises towards the experience-conditioned sampling distribution, which no weights copy represents).
struct RlBatch {
  at::Tensor tokens, mask, advantages, oldLogp, refLogp;
};

struct StepStats {
  double loss = 0, pgLoss = 0, gradNorm = 0, clipFraction = 0, approxKl = 0, kl = 0, entropy = 0, lr = 0;
  bool hasKl = false;
  bool skipped = false;  // non-finite gradient norm: no update was applied
  int64_t step = 0;      // completed optimiser steps after this one
  int64_t tokens = 0;    // masked tokens in the batch
};

class Trainer {
 public:
  Trainer(std::shared_ptr<model::PolicyCore> core, OptimizerOptions opts);
  const OptimizerOptions& options() const { return opts_; }
  void setOptions(const OptimizerOptions& o) { o.check(); opts_ = o; }
  int64_t step() const { return step_; }
  int64_t vocabSize() const { return core_->model->config().vocabSize; }

  StepStats rlStep(const RlBatch& batch, const rl::PolicyLossOptions& lossOpts);
  StepStats sftStep(const at::Tensor& tokens, const at::Tensor& mask);
  // Freezes a copy of the current weights as the KL reference (done automatically by the first step with klCoef > 0).
  void resetReference();  // locks the model
  bool hasReference() const { return !reference_.empty(); }
  // Data parallel (native/distributed/data_parallel.h): with a group attached, each step's loss normalisers are those of the
  // global batch and the gradients are summed over the ranks before clipping. Null detaches.
  void setProcessGroup(std::shared_ptr<dist::Group> group) { group_ = std::move(group); }

  // Writes <dir>/model.safetensors and <dir>/trainer_state.safetensors (each through a temporary file and a rename).
  void saveCheckpoint(const std::string& dir) const;
  // Restores the optimiser, step, reference and RNG from <dir>/trainer_state.safetensors (the weights are read by
  // the model loader).
  void loadState(const std::string& dir);

 private:
  void applyUpdate(StepStats& stats);
  std::shared_ptr<model::PolicyCore> core_;
  OptimizerOptions opts_;
  AdamW adam_;
  int64_t step_ = 0;
  std::map<std::string, at::Tensor> reference_;
  std::shared_ptr<dist::Group> group_;
};

}  // namespace hiexp::train
