#include "model/sampler.h"

#include <cmath>
#include <limits>
#include <sstream>

#include "common/errors.h"

namespace hiexp::model {

void SamplingOptions::check() const {
  HX_CHECK_RANGE(temperature >= 0 && std::isfinite(temperature), "temperature must be a finite number >= 0, got ",
                 temperature);
  HX_CHECK_RANGE(topP > 0 && topP <= 1, "topP must be in (0, 1], got ", topP);
  HX_CHECK_RANGE(topK >= 0, "topK must be >= 0, got ", topK);
}

std::string Rng::state() const {
  std::ostringstream out;
  out << engine_;
  return out.str();
}

void Rng::setState(const std::string& state) {
  std::istringstream in(state);
  in >> engine_;
  HX_CHECK_RANGE(!in.fail(), "bad RNG state in checkpoint");
}

Sampled sampleNext(const at::Tensor& logitsIn, const SamplingOptions& opts, Rng& rng) {
  at::NoGradGuard noGrad;
  const at::Tensor logits = logitsIn.to(at::kFloat);
  const int64_t B = logits.size(0), V = logits.size(1);
  const double negInf = -std::numeric_limits<double>::infinity();
  at::Tensor tokens;
  if (opts.temperature == 0) {
    tokens = logits.argmax(-1);
  } else {
    at::Tensor l = logits / opts.temperature;
    if (opts.topK > 0 && opts.topK < V) {
      at::Tensor kth = std::get<0>(l.topk(opts.topK, -1)).narrow(-1, opts.topK - 1, 1);
      l = l.masked_fill(l < kth, negInf);
    }
    if (opts.topP < 1) {
      auto [sorted, order] = l.sort(-1, /*descending=*/true);
      at::Tensor probs = at::softmax(sorted, -1);
      // Drop a token when the tokens before it already hold topP of the mass; the most likely token always stays.
      at::Tensor drop = (probs.cumsum(-1) - probs) > opts.topP;
      sorted = sorted.masked_fill(drop, negInf);
      l = at::full_like(l, negInf).scatter(-1, order, sorted);
    }
    at::Tensor cdf = at::softmax(l.to(at::kDouble), -1).cumsum(-1);
    std::vector<double> u(B);
    for (auto& x : u) x = rng.uniform();
    at::Tensor ut = at::from_blob(u.data(), {B, 1}, at::TensorOptions().dtype(at::kDouble)).to(logits.device());
    ut = ut * cdf.narrow(-1, V - 1, 1);
    tokens = (cdf < ut).sum(-1).clamp_max(V - 1);
  }
  at::Tensor logp = logits.gather(-1, tokens.unsqueeze(-1)).squeeze(-1) - at::logsumexp(logits, -1);
  return {tokens.to(at::kCPU, at::kLong).contiguous(), logp.to(at::kCPU).contiguous()};
}

}  // namespace hiexp::model
