#include "train/adamw.h"

#include <cmath>

#include "common/errors.h"

namespace hiexp::train {

void OptimizerOptions::check() const {
  HX_CHECK_RANGE(lr >= 0 && std::isfinite(lr), "lr must be a finite number >= 0, got ", lr);
  HX_CHECK_RANGE(beta1 >= 0 && beta1 < 1, "beta1 must be in [0, 1), got ", beta1);
  HX_CHECK_RANGE(beta2 >= 0 && beta2 < 1, "beta2 must be in [0, 1), got ", beta2);
  HX_CHECK_RANGE(eps > 0, "eps must be > 0, got ", eps);
  HX_CHECK_RANGE(weightDecay >= 0, "weightDecay must be >= 0, got ", weightDecay);
  HX_CHECK_RANGE(warmupSteps >= 0, "warmupSteps must be >= 0, got ", warmupSteps);
  HX_CHECK_RANGE(schedule != Schedule::Cosine || totalSteps > 0, "totalSteps must be > 0 with the cosine schedule");
  HX_CHECK_RANGE(minLrRatio >= 0 && minLrRatio <= 1, "minLrRatio must be in [0, 1], got ", minLrRatio);
  HX_CHECK_RANGE(maxGradNorm >= 0, "maxGradNorm must be >= 0, got ", maxGradNorm);
  HX_CHECK_RANGE(microBatchSize >= 0, "microBatchSize must be >= 0, got ", microBatchSize);
  HX_CHECK_RANGE(microBatchTokens >= 0, "microBatchTokens must be >= 0, got ", microBatchTokens);
}

double learningRate(const OptimizerOptions& o, int64_t step) {
  if (o.warmupSteps > 0 && step < o.warmupSteps) return o.lr * static_cast<double>(step + 1) / o.warmupSteps;
  if (o.schedule == Schedule::Constant) return o.lr;
  const double span = std::max<int64_t>(1, o.totalSteps - o.warmupSteps);
  const double progress = std::min(1.0, std::max(0.0, (step - o.warmupSteps) / span));
  return o.lr * (o.minLrRatio + (1 - o.minLrRatio) * 0.5 * (1 + std::cos(M_PI * progress)));
}

void AdamW::update(const std::vector<std::pair<std::string, at::Tensor>>& params, const OptimizerOptions& o, double lr,
                   int64_t step) {
  at::NoGradGuard noGrad;
  const double t = static_cast<double>(step + 1);
  const double bc1 = 1 - std::pow(o.beta1, t), bc2 = 1 - std::pow(o.beta2, t);
  for (const auto& [name, p] : params) {
    const at::Tensor& g0 = p.grad();
    if (!g0.defined()) continue;
    at::Tensor g = g0.to(at::kFloat);
    auto& m = m_[name];
    auto& v = v_[name];
    if (!m.defined()) {
      m = at::zeros_like(g);
      v = at::zeros_like(g);
    }
    at::Tensor pf = p.detach().to(at::kFloat);  // p itself when already float32
    pf.mul_(1 - lr * o.weightDecay);
    m.mul_(o.beta1).add_(g, 1 - o.beta1);
    v.mul_(o.beta2).addcmul_(g, g, 1 - o.beta2);
    at::Tensor denom = (v.sqrt() / std::sqrt(bc2)).add_(o.eps);
    pf.addcdiv_(m, denom, -lr / bc1);
    if (p.scalar_type() != at::kFloat) p.detach().copy_(pf);
  }
}

std::vector<std::pair<std::string, at::Tensor>> AdamW::state() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& [name, m] : m_) out.emplace_back("exp_avg." + name, m);
  for (const auto& [name, v] : v_) out.emplace_back("exp_avg_sq." + name, v);
  return out;
}

void AdamW::loadState(const std::vector<std::pair<std::string, at::Tensor>>& tensors, at::Device device) {
  m_.clear();
  v_.clear();
  for (const auto& [key, t] : tensors) {
    if (key.rfind("exp_avg_sq.", 0) == 0) v_[key.substr(11)] = t.to(device, at::kFloat);
    else if (key.rfind("exp_avg.", 0) == 0) m_[key.substr(8)] = t.to(device, at::kFloat);
  }
}

double clipGradNorm(const std::vector<at::Tensor>& params, double maxNorm) {
  at::NoGradGuard noGrad;
  at::Tensor total;
  for (const auto& p : params) {
    const at::Tensor& g = p.grad();
    if (!g.defined()) continue;
    at::Tensor sq = g.to(at::kFloat).pow(2).sum();
    total = total.defined() ? total + sq : sq;
  }
  if (!total.defined()) return 0;
  const double norm = std::sqrt(total.item<double>());
  if (maxNorm > 0 && std::isfinite(norm) && norm > maxNorm) {
    const double scale = maxNorm / (norm + 1e-6);
    for (const auto& p : params)
      if (p.grad().defined()) p.grad().mul_(scale);
  }
  return norm;
}

}  // namespace hiexp::train
