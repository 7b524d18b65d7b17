#include "model/generation.h"

#include "common/errors.h"

namespace hiexp::model {

Sampled startGeneration(GenerationSession& s, const std::vector<std::vector<int64_t>>& sequences, int64_t maxNewTokens) {
  at::NoGradGuard noGrad;
  const Qwen2& m = *s.model;
  const int64_t B = static_cast<int64_t>(sequences.size());
  HX_CHECK_RANGE(B >= 1, "sequences must hold at least one sequence");
  int64_t longest = 0;
  for (size_t b = 0; b < sequences.size(); ++b) {
    HX_CHECK_RANGE(!sequences[b].empty(), "sequences[", b, "] is empty: generation needs at least one token");
    for (int64_t t : sequences[b])
      HX_CHECK_RANGE(t >= 0 && t < m.config().vocabSize, "sequences[", b, "] holds token id ", t,
                     " outside the vocabulary [0, ", m.config().vocabSize, ")");
    longest = std::max<int64_t>(longest, sequences[b].size());
  }
  // Left padding: row b's tokens end at column longest - 1.
  at::Tensor ids = at::zeros({B, longest}, at::kLong);
  at::Tensor valid = at::zeros({B, longest}, at::kBool);
  at::Tensor pos = at::zeros({B, longest}, at::kLong);
  auto idsA = ids.accessor<int64_t, 2>();
  auto validA = valid.accessor<bool, 2>();
  auto posA = pos.accessor<int64_t, 2>();
  for (int64_t b = 0; b < B; ++b) {
    const auto& seq = sequences[b];
    const int64_t pad = longest - static_cast<int64_t>(seq.size());
    for (size_t t = 0; t < seq.size(); ++t) {
      idsA[b][pad + t] = seq[t];
      validA[b][pad + t] = true;
      posA[b][pad + t] = static_cast<int64_t>(t);
    }
  }
  s.rows = B;
  s.cache = m.newCache(B, longest + maxNewTokens);
  at::Tensor h = m.hidden(ids.to(m.device()), pos.to(m.device()), valid.to(m.device()), &s.cache);
  at::Tensor logits = m.lmHead(h.narrow(1, longest - 1, 1)).squeeze(1);
  Sampled out = sampleNext(logits, s.sampling, s.rng);
  std::vector<int64_t> lengths;
  for (const auto& seq : sequences) lengths.push_back(static_cast<int64_t>(seq.size()));
  s.nextPos = at::tensor(lengths, at::kLong).to(m.device());
  s.lastTokens = out.tokens.to(m.device());
  return out;
}

Sampled stepGeneration(GenerationSession& s, const std::vector<int64_t>* keep) {
  at::NoGradGuard noGrad;
  const Qwen2& m = *s.model;
  HX_CHECK_RANGE(s.cache.length < s.cache.capacity, "generation ran past its maxNewTokens (KV cache is full)");
  if (keep && static_cast<int64_t>(keep->size()) != s.rows) {
    HX_CHECK_RANGE(!keep->empty(), "keep must name at least one row");
    int64_t prev = -1;
    for (int64_t r : *keep) {
      HX_CHECK_RANGE(r > prev && r < s.rows, "keep must be ascending row indices below ", s.rows, ", got ", r);
      prev = r;
    }
    at::Tensor idx = at::tensor(*keep, at::kLong).to(m.device());
    for (auto& k : s.cache.keys) k = k.index_select(0, idx);
    for (auto& v : s.cache.values) v = v.index_select(0, idx);
    s.cache.keyValid = s.cache.keyValid.index_select(0, idx);
    s.nextPos = s.nextPos.index_select(0, idx);
    s.lastTokens = s.lastTokens.index_select(0, idx);
    s.rows = static_cast<int64_t>(keep->size());
  }
  at::Tensor h = m.hidden(s.lastTokens.unsqueeze(1), s.nextPos.unsqueeze(1), at::Tensor(), &s.cache);
  at::Tensor logits = m.lmHead(h).squeeze(1);
  Sampled out = sampleNext(logits, s.sampling, s.rng);
  s.nextPos = s.nextPos + 1;
  s.lastTokens = out.tokens.to(m.device());
  return out;
}

}  // namespace hiexp::model
