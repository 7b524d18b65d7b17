// Dispatch of the fused policy loss: option and input checks shared by every path, the device dispatch of the tensor
// entry (cpu/ kernel, cuda/ kernel) and the autograd function that hands the fused gradient to libtorch's backward.
#include "rl/policy_loss.h"

#include <torch/csrc/autograd/custom_function.h>

#include <cfloat>
#include <cmath>

#include "common/errors.h"
#include "rl/cpu/policy_loss.h"

#ifdef HIEXP_WITH_CUDA
#include <c10/cuda/CUDAStream.h>

#include "rl/cuda/policy_loss.h"
#endif

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

void checkFiniteInputs(const PolicyLossBatch& x, bool hasKl) {
  const auto finite = [](float v) { return std::fabs(v) <= FLT_MAX; };
  for (int64_t b = 0; b < x.B; ++b) {
    for (int64_t t = 0; t < x.T; ++t) {
      const int64_t i = b * x.T + t;
      const float m = x.maskU8 ? static_cast<float>(x.maskU8[i]) : x.maskF32[i];
      HX_CHECK_RANGE(m >= 0.0f && finite(m), "mask[", i, "] must be a finite weight >= 0, got ", m);
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
  }
}

namespace {

struct Prepared {
  at::Tensor logp, oldLogp, advantages, mask, refLogp;
  PolicyLossBatch batch;
};

// Checks shapes and devices, makes every input a contiguous tensor of the dtype the kernels read, and fills the view.
Prepared prepare(const at::Tensor& logp, const at::Tensor& oldLogp, const at::Tensor& advantages,
                 const at::Tensor& mask, const at::Tensor& refLogp) {
  HX_CHECK_RANGE(logp.dim() == 2, "logp must be a [B, T] tensor, got ", logp.dim(), " dimensions");
  const int64_t B = logp.size(0), T = logp.size(1);
  const auto device = logp.device();
  auto sameShape = [&](const at::Tensor& t, const char* name) {
    HX_CHECK_RANGE(t.sizes() == logp.sizes(), name, " must have logp's shape [", B, ", ", T, "], got ", t.sizes());
    HX_CHECK_RANGE(t.device() == device, name, " is on ", t.device(), " but logp is on ", device);
  };
  sameShape(oldLogp, "oldLogp");
  sameShape(mask, "mask");
  HX_CHECK_RANGE(advantages.device() == device, "advantages is on ", advantages.device(), " but logp is on ", device);
  HX_CHECK_RANGE((advantages.dim() == 1 && advantages.size(0) == B) || advantages.sizes() == logp.sizes(),
                 "advantages must be [B] or [B, T] = [", B, ", ", T, "], got ", advantages.sizes());
  if (refLogp.defined()) sameShape(refLogp, "refLogp");

  Prepared p;
  auto f32 = [](const at::Tensor& t) { return t.detach().to(at::kFloat).contiguous(); };
  p.logp = f32(logp);
  p.oldLogp = f32(oldLogp);
  p.advantages = f32(advantages);
  p.mask = (mask.scalar_type() == at::kBool || mask.scalar_type() == at::kByte) ? mask.to(at::kByte).contiguous()
                                                                                   : f32(mask);
  if (refLogp.defined()) p.refLogp = f32(refLogp);
  auto& x = p.batch;
  x.logp = p.logp.data_ptr<float>();
  x.oldLogp = p.oldLogp.data_ptr<float>();
  x.advantages = p.advantages.data_ptr<float>();
  x.tokenAdvantages = p.advantages.dim() == 2;
  if (p.mask.scalar_type() == at::kByte) {
    x.maskU8 = p.mask.data_ptr<uint8_t>();
  } else {
    x.maskF32 = p.mask.data_ptr<float>();
  }
  x.refLogp = refLogp.defined() ? p.refLogp.data_ptr<float>() : nullptr;
  x.B = B;
  x.T = T;
  return p;
}

PolicyLossStats computeInto(const Prepared& p, const PolicyLossOptions& opts, at::Tensor& grad) {
  if (p.logp.is_cpu()) return policyLossCpu(p.batch, opts, grad.data_ptr<float>());
#ifdef HIEXP_WITH_CUDA
  if (p.logp.is_cuda()) {
    checkPolicyLossOptions(opts);
    const auto f64 = p.logp.options().dtype(at::kDouble);
    auto rowStats = at::empty({p.batch.B * 6}, f64);
    auto totals = at::empty({cuda::kTotalCount + 1}, f64);
    cuda::policyLoss(p.batch, opts, grad.data_ptr<float>(), rowStats.data_ptr<double>(), totals.data_ptr<double>(),
                     c10::cuda::getCurrentCUDAStream().stream());
    const auto host = totals.cpu();
    const double* t = host.data_ptr<double>();
    if (t[cuda::kBad] > 0) {
      // Rerun on the CPU only to name the bad value; this path ends in an exception.
      auto cpu = prepare(p.logp.cpu(), p.oldLogp.cpu(), p.advantages.cpu(), p.mask.cpu(),
                         p.refLogp.defined() ? p.refLogp.cpu() : at::Tensor());
      auto scratch = at::empty_like(cpu.logp);
      policyLossCpu(cpu.batch, opts, scratch.data_ptr<float>());
      throwRange("a non-finite input at a masked token");
    }
    PolicyLossStats s;
    const double M = t[cuda::kMask];
    s.hasKl = opts.klCoef > 0 && p.batch.refLogp != nullptr;
    s.pgLoss = t[cuda::kPg];
    s.kl = s.hasKl ? t[cuda::kKl] : 0.0;
    s.clipFraction = M > 0 ? t[cuda::kClipped] / M : 0.0;
    s.approxKl = M > 0 ? t[cuda::kNegKl] / M : 0.0;
    s.loss = s.pgLoss + (s.hasKl ? opts.klCoef * s.kl : 0.0);
    return s;
  }
#endif
  throwRange("logp is on ", p.logp.device(), ", which this build of hiexp cannot run (built without CUDA)");
}

// The inputs that take no gradient travel as one plain argument: libtorch's Function::apply would treat them as
// Variables, and an undefined refLogp cannot be one.
struct Constants {
  at::Tensor oldLogp, advantages, mask, refLogp;
  PolicyLossOptions opts;
  PolicyLossStats* stats;
};

struct FusedPolicyLoss : torch::autograd::Function<FusedPolicyLoss> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& logp, const Constants* c) {
    const Prepared p = prepare(logp, c->oldLogp, c->advantages, c->mask, c->refLogp);
    at::Tensor grad = at::empty_like(p.logp);
    const PolicyLossStats s = computeInto(p, c->opts, grad);
    if (c->stats) *c->stats = s;
    ctx->save_for_backward({grad.to(logp.scalar_type())});
    return at::scalar_tensor(s.loss, logp.options().dtype(at::kFloat));
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list gradOutput) {
    const at::Tensor grad = ctx->get_saved_variables()[0];
    return {grad * gradOutput[0].to(grad.scalar_type()), at::Tensor()};
  }
};

}  // namespace

at::Tensor policyLoss(const at::Tensor& logp, const at::Tensor& oldLogp, const at::Tensor& advantages,
                      const at::Tensor& mask, const at::Tensor& refLogp, const PolicyLossOptions& opts,
                      PolicyLossStats* stats) {
  const Constants constants{oldLogp, advantages, mask, refLogp, opts, stats};
  return FusedPolicyLoss::apply(logp, &constants);
}

}  // namespace hiexp::rl
