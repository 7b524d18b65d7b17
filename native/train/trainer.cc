#include "train/trainer.h"

#include <cmath>
#include <tuple>

#include "common/errors.h"
#include "distributed/data_parallel.h"
#include "common/profile.h"
#include "model/safetensors.h"
#include "train/micro_batches.h"

namespace hiexp::train {

using model::Qwen2;

Trainer::Trainer(std::shared_ptr<model::PolicyCore> core, OptimizerOptions opts) : core_(std::move(core)), opts_(opts) {
  opts_.check();
}

void Trainer::resetReference() {
  std::lock_guard<std::mutex> lock(core_->model->mutex());
  reference_ = core_->model->cloneWeights();
}

namespace {

at::Tensor forwardLogits(const Qwen2& m, const at::Tensor& tokens, const std::map<std::string, at::Tensor>* weights) {
  const int64_t B = tokens.size(0), T = tokens.size(1);
  // Right padding needs no key mask: causal attention never lets a real token see the padding after it.
  at::Tensor pos = at::arange(T, at::TensorOptions().dtype(at::kLong).device(m.device())).unsqueeze(0).expand({B, T});
  return m.lmHead(m.hidden(tokens, pos, at::Tensor(), nullptr, weights));
}

void zeroGrads(const std::vector<at::Tensor>& params) {
  for (const auto& p : params) {
    at::Tensor& g = const_cast<at::Tensor&>(p).mutable_grad();
    g = at::Tensor();
  }
}

// Runs `step(mb)` on each micro-batch with gradients on, so that they accumulate; on an exception the gradients are
// cleared and requires-grad is restored before it propagates.
template <typename Step>
void overMicroBatches(Qwen2& m, const std::vector<MicroBatch>& plan, Step&& step) {
  zeroGrads(m.parameters());
  m.setRequiresGrad(true);
  try {
    for (const MicroBatch& mb : plan) step(mb);
  } catch (...) {
    m.setRequiresGrad(false);
    zeroGrads(m.parameters());
    throw;
  }
  m.setRequiresGrad(false);
}

}  // namespace

void Trainer::applyUpdate(StepStats& stats) {
  const auto params = core_->model->parameters();
  if (group_) dist::allReduceGradients(*group_, params);  // data parallel: the global batch's gradient
  profile::Scope timed("train.optimizer");
  stats.gradNorm = clipGradNorm(params, opts_.maxGradNorm);
  stats.lr = learningRate(opts_, step_);
  if (!std::isfinite(stats.gradNorm)) {
    stats.skipped = true;
  } else {
    adam_.update(core_->model->namedParameters(), opts_, stats.lr, step_);
    ++step_;
  }
  zeroGrads(params);
  stats.step = step_;
}

StepStats Trainer::rlStep(const RlBatch& batchIn, const rl::PolicyLossOptions& lossOpts) {
  rl::checkPolicyLossOptions(lossOpts);
  Qwen2& m = *core_->model;
  std::lock_guard<std::mutex> lock(m.mutex());
  const at::Device dev = m.device();
  const RlBatch batch{batchIn.tokens.to(dev, at::kLong), batchIn.mask.to(dev, at::kFloat),
                      batchIn.advantages.to(dev, at::kFloat),
                      batchIn.oldLogp.defined() ? batchIn.oldLogp.to(dev, at::kFloat) : at::Tensor(),
                      batchIn.refLogp.defined() ? batchIn.refLogp.to(dev, at::kFloat) : at::Tensor()};
  const int64_t B = batch.tokens.size(0), T = batch.tokens.size(1);
  const bool useKl = lossOpts.klCoef > 0;
  if (useKl && !batch.refLogp.defined() && reference_.empty()) reference_ = m.cloneWeights();

  // Each micro-batch's loss is its own aggregate; the weights below make the sum equal the whole batch's aggregate.
  at::Tensor rowTokens = batch.mask.sum(1);
  // Data parallel: the normalisers are the global batch's (sums over the ranks; identity without a group).
  const auto totals = dist::sumOverRanks(group_.get(), {rowTokens.sum().item<double>(), (rowTokens > 0).sum().item<double>()}, dev);
  const double totalTokens = totals[0], totalRows = totals[1];
  const int64_t normT = lossOpts.aggregation == rl::Aggregation::SeqMeanTokenSumNorm && lossOpts.normLength == 0
                            ? dist::maxOverRanks(group_.get(), T, dev) : T;
  StepStats stats;
  stats.tokens = static_cast<int64_t>(totalTokens);
  double entropySum = 0;
  const auto plan = planMicroBatches(batch.mask, opts_.microBatchSize, opts_.microBatchTokens, m.config().vocabSize);
  overMicroBatches(m, plan, [&](const MicroBatch& mb) {
    at::Tensor mask = take(batch.mask, mb);
    at::Tensor mRows = mask.sum(1);
    const double tok = mRows.sum().item<double>();
    if (tok == 0) return;
    double weight = 1;
    switch (lossOpts.aggregation) {
      case rl::Aggregation::TokenMean: weight = tok / totalTokens; break;
      case rl::Aggregation::SeqMeanTokenMean:
      case rl::Aggregation::SeqMeanTokenSum: weight = (mRows > 0).sum().item<double>() / totalRows; break;
      case rl::Aggregation::SeqMeanTokenSumNorm: weight = 1; break;
    }
    at::Tensor tokens = take(batch.tokens, mb);
    at::Tensor logp, entropy;
    {
      profile::Scope timed("train.forward");
      std::tie(logp, entropy) = model::tokenLogprobs(forwardLogits(m, tokens, nullptr), tokens, true);
      entropySum += (entropy * mask).sum().item<double>();
    }
    at::Tensor refLogp;
    if (useKl && batch.refLogp.defined()) {
      refLogp = take(batch.refLogp, mb);
    } else if (useKl) {
      profile::Scope timed("train.reference-forward");
      at::NoGradGuard noGrad;
      refLogp = model::tokenLogprobs(forwardLogits(m, tokens, &reference_), tokens, false).first;
    }
    at::Tensor old = batch.oldLogp.defined() ? take(batch.oldLogp, mb) : logp.detach();
    at::Tensor adv = take(batch.advantages, mb);
    rl::PolicyLossOptions o = lossOpts;
    if (o.aggregation == rl::Aggregation::SeqMeanTokenSumNorm && o.normLength == 0) o.normLength = normT;
    rl::PolicyLossStats s;
    at::Tensor loss;
    {
      profile::Scope timed("train.loss");
      loss = rl::policyLoss(logp, old, adv, mask, refLogp, o, &s);
    }
    {
      profile::Scope timed("train.backward");
      (loss * weight).backward();
    }
    const double share = tok / totalTokens;
    stats.loss += weight * s.loss;
    stats.pgLoss += weight * s.pgLoss;
    stats.kl += weight * s.kl;
    stats.hasKl = stats.hasKl || s.hasKl;
    stats.clipFraction += share * s.clipFraction;
    stats.approxKl += share * s.approxKl;
  });
  if (group_) {  // metrics of the global batch: each rank's terms are already weighted by global normalisers
    auto r = dist::sumOverRanks(group_.get(), {stats.loss, stats.pgLoss, stats.kl, stats.clipFraction, stats.approxKl,
                                               entropySum, stats.hasKl ? 1.0 : 0.0}, dev);
    stats.loss = r[0], stats.pgLoss = r[1], stats.kl = r[2], stats.clipFraction = r[3], stats.approxKl = r[4];
    entropySum = r[5], stats.hasKl = r[6] > 0;
  }
  stats.entropy = totalTokens > 0 ? entropySum / totalTokens : 0;
  applyUpdate(stats);
  return stats;
}

StepStats Trainer::sftStep(const at::Tensor& tokensIn, const at::Tensor& maskIn) {
  Qwen2& m = *core_->model;
  std::lock_guard<std::mutex> lock(m.mutex());
  const at::Device dev = m.device();
  at::Tensor tokensAll = tokensIn.to(dev, at::kLong), maskAll = maskIn.to(dev, at::kFloat);
  const double totalTokens = dist::sumOverRanks(group_.get(), {maskAll.sum().item<double>()}, dev)[0];
  HX_CHECK_RANGE(totalTokens > 0, "mask selects no token: sftStep needs at least one target token");
  StepStats stats;
  stats.tokens = static_cast<int64_t>(totalTokens);
  double entropySum = 0;
  const auto plan = planMicroBatches(maskAll, opts_.microBatchSize, opts_.microBatchTokens, m.config().vocabSize);
  overMicroBatches(m, plan, [&](const MicroBatch& mb) {
    at::Tensor tokens = take(tokensAll, mb), mask = take(maskAll, mb);
    if (mask.sum().item<double>() == 0) return;
    auto [logp, entropy] = model::tokenLogprobs(forwardLogits(m, tokens, nullptr), tokens, true);
    entropySum += (entropy * mask).sum().item<double>();
    // Token mean over the whole batch: each micro-batch contributes its sum / all target tokens.
    at::Tensor loss = -(logp * mask).sum() / totalTokens;
    loss.backward();
    stats.loss += loss.item<double>();
  });
  if (group_) {
    auto r = dist::sumOverRanks(group_.get(), {stats.loss, entropySum}, dev);
    stats.loss = r[0], entropySum = r[1];
  }
  stats.pgLoss = stats.loss;
  stats.entropy = entropySum / totalTokens;
  applyUpdate(stats);
  return stats;
}

void Trainer::saveCheckpoint(const std::string& dir) const {
  const Qwen2& m = *core_->model;
  std::lock_guard<std::mutex> lock(m.mutex());
  model::writeSafetensors(dir + "/model.safetensors", m.namedParameters(), {{"format", "pt"}});
  auto state = adam_.state();
  for (const auto& [name, t] : reference_) state.emplace_back("reference." + name, t);
  std::map<std::string, std::string> meta{{"format", "hiexp-trainer-state"},
                                          {"step", std::to_string(step_)},
                                          {"rng", core_->rng.state()},
                                          {"has_reference", reference_.empty() ? "0" : "1"}};
  model::writeSafetensors(dir + "/trainer_state.safetensors", state, meta);
}

void Trainer::loadState(const std::string& dir) {
  const std::string path = dir + "/trainer_state.safetensors";
  auto file = model::readSafetensors(path);
  HX_CHECK_RANGE(file.metadata["format"] == "hiexp-trainer-state", "'", path, "' is not a hiexp trainer state");
  Qwen2& m = *core_->model;
  std::lock_guard<std::mutex> lock(m.mutex());
  std::vector<std::pair<std::string, at::Tensor>> moments;
  std::map<std::string, at::Tensor> reference;
  for (auto& [name, t] : file.tensors) {
    if (name.rfind("reference.", 0) == 0) reference[name.substr(10)] = t.to(m.device(), m.dtype());
    else moments.emplace_back(name, t);
  }
  adam_.loadState(moments, m.device());
  reference_ = std::move(reference);
  step_ = std::stoll(file.metadata["step"]);
  core_->rng.setState(file.metadata["rng"]);
}

}  // namespace hiexp::train
