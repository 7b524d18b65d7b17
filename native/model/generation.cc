#include "model/generation.h"

#include <map>

#include "common/errors.h"
#include "common/profile.h"

namespace hiexp::model {

Sampled startGeneration(GenerationSession& s, const std::vector<std::vector<int64_t>>& sequences, int64_t maxNewTokens,
                        bool sharePrompts) {
  at::NoGradGuard noGrad;
  profile::Scope timed("generate.prefill");
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
  // Identical sequences (a group's G rollouts of one question share their prompt) are prefilled once; the other rows
  // start as copies of that row's cache and logits, so every row samples as it would have alone.
  std::map<std::vector<int64_t>, int64_t> firstRow;
  std::vector<int64_t> source(static_cast<size_t>(B));
  std::vector<const std::vector<int64_t>*> distinct;
  for (int64_t b = 0; b < B; ++b) {
    if (!sharePrompts) {
      source[b] = static_cast<int64_t>(distinct.size());
      distinct.push_back(&sequences[b]);
      continue;
    }
    auto [it, added] = firstRow.emplace(sequences[b], static_cast<int64_t>(distinct.size()));
    if (added) distinct.push_back(&sequences[b]);
    source[b] = it->second;
  }
  const int64_t U = static_cast<int64_t>(distinct.size());
  // Left padding: row u's tokens end at column longest - 1.
  at::Tensor ids = at::zeros({U, longest}, at::kLong);
  at::Tensor valid = at::zeros({U, longest}, at::kBool);
  at::Tensor pos = at::zeros({U, longest}, at::kLong);
  auto idsA = ids.accessor<int64_t, 2>();
  auto validA = valid.accessor<bool, 2>();
  auto posA = pos.accessor<int64_t, 2>();
  for (int64_t u = 0; u < U; ++u) {
    const auto& seq = *distinct[u];
    const int64_t pad = longest - static_cast<int64_t>(seq.size());
    for (size_t t = 0; t < seq.size(); ++t) {
      idsA[u][pad + t] = seq[t];
      validA[u][pad + t] = true;
      posA[u][pad + t] = static_cast<int64_t>(t);
    }
  }
  s.rows = B;
  s.cache = m.newCache(U, longest + maxNewTokens);
  at::Tensor h = m.hidden(ids.to(m.device()), pos.to(m.device()), valid.to(m.device()), &s.cache);
  at::Tensor logits = m.lmHead(h.narrow(1, longest - 1, 1)).squeeze(1);
  if (U < B) {
    at::Tensor rows = at::tensor(source, at::kLong).to(m.device());
    for (auto& k : s.cache.keys) k = k.index_select(0, rows);
    for (auto& v : s.cache.values) v = v.index_select(0, rows);
    s.cache.keyValid = s.cache.keyValid.index_select(0, rows);
    logits = logits.index_select(0, rows);
  }
  Sampled out = sampleNext(logits, s.sampling, s.rng);
  std::vector<int64_t> lengths;
  for (const auto& seq : sequences) lengths.push_back(static_cast<int64_t>(seq.size()));
  s.nextPos = at::tensor(lengths, at::kLong).to(m.device());
  s.lastTokens = out.tokens.to(m.device());
  s.last = out;
  s.rowIds.resize(B);
  for (int64_t b = 0; b < B; ++b) s.rowIds[b] = b;
  return out;
}

namespace {
void parkRow(GenerationSession& s, int64_t r) {
  ParkedRow p;
  const int64_t L = s.cache.length;
  for (size_t l = 0; l < s.cache.keys.size(); ++l) {
    p.keys.push_back(s.cache.keys[l][r].narrow(1, 0, L).clone());
    p.values.push_back(s.cache.values[l][r].narrow(1, 0, L).clone());
  }
  p.keyValid = s.cache.keyValid[r].narrow(0, 0, L).clone();
  // Real tokens in the cache: the prompt and every generated token but the last (sampled, not yet fed).
  p.fed = p.keyValid.sum().item<int64_t>();
  s.parked[s.rowIds[r]] = std::move(p);
}
}  // namespace

void parkAll(GenerationSession& s) {
  at::NoGradGuard noGrad;
  if (s.cache.capacity > 0)
    for (int64_t r = 0; r < s.rows; ++r) parkRow(s, r);
  s.cache = KvCache();
}

Sampled resumeGeneration(GenerationSession& s, const GenerationSession& prev, const std::vector<int64_t>& from,
                         const std::vector<std::vector<int64_t>>& suffixes, int64_t maxNewTokens) {
  at::NoGradGuard noGrad;
  profile::Scope timed("generate.prefill");
  const Qwen2& m = *s.model;
  const int64_t B = static_cast<int64_t>(from.size());
  HX_CHECK_RANGE(B >= 1 && suffixes.size() == from.size(), "resume needs one suffix per row");
  int64_t longest = 0, widest = 0;
  for (int64_t b = 0; b < B; ++b) {
    auto it = prev.parked.find(from[b]);
    HX_CHECK_RANGE(it != prev.parked.end(), "row ", from[b], " of the previous generation has no cached prefix");
    HX_CHECK_RANGE(!suffixes[b].empty(), "suffixes[", b, "] is empty: resuming needs at least one new token");
    for (int64_t t : suffixes[b])
      HX_CHECK_RANGE(t >= 0 && t < m.config().vocabSize, "suffixes[", b, "] holds token id ", t,
                     " outside the vocabulary [0, ", m.config().vocabSize, ")");
    longest = std::max<int64_t>(longest, it->second.keyValid.size(0));
    widest = std::max<int64_t>(widest, suffixes[b].size());
  }
  s.rows = B;
  s.cache = m.newCache(B, longest + widest + maxNewTokens);
  std::vector<int64_t> nextPos(B);
  at::Tensor ids = at::zeros({B, widest}, at::kLong);
  at::Tensor valid = at::zeros({B, widest}, at::kBool);
  at::Tensor pos = at::zeros({B, widest}, at::kLong);
  auto idsA = ids.accessor<int64_t, 2>();
  auto validA = valid.accessor<bool, 2>();
  auto posA = pos.accessor<int64_t, 2>();
  for (int64_t b = 0; b < B; ++b) {
    const ParkedRow& p = prev.parked.at(from[b]);
    const int64_t L = p.keyValid.size(0);
    for (size_t l = 0; l < p.keys.size(); ++l) {
      s.cache.keys[l][b].narrow(1, longest - L, L).copy_(p.keys[l]);
      s.cache.values[l][b].narrow(1, longest - L, L).copy_(p.values[l]);
    }
    s.cache.keyValid[b].narrow(0, longest - L, L).copy_(p.keyValid);
    const auto& suf = suffixes[b];
    const int64_t pad = widest - static_cast<int64_t>(suf.size());
    for (size_t t = 0; t < suf.size(); ++t) {
      idsA[b][pad + t] = suf[t];
      validA[b][pad + t] = true;
      posA[b][pad + t] = p.fed + static_cast<int64_t>(t);
    }
    nextPos[b] = p.fed + static_cast<int64_t>(suf.size());
  }
  s.cache.length = longest;
  at::Tensor h = m.hidden(ids.to(m.device()), pos.to(m.device()), valid.to(m.device()), &s.cache);
  at::Tensor logits = m.lmHead(h.narrow(1, widest - 1, 1)).squeeze(1);
  Sampled out = sampleNext(logits, s.sampling, s.rng);
  s.nextPos = at::tensor(nextPos, at::kLong).to(m.device());
  s.lastTokens = out.tokens.to(m.device());
  s.last = out;
  s.rowIds.resize(B);
  for (int64_t b = 0; b < B; ++b) s.rowIds[b] = b;
  return out;
}

Sampled stepGeneration(GenerationSession& s, const std::vector<int64_t>* keep, bool park) {
  at::NoGradGuard noGrad;
  profile::Scope timed("generate.decode");
  const Qwen2& m = *s.model;
  HX_CHECK_RANGE(s.cache.length < s.cache.capacity, "generation ran past its maxNewTokens (KV cache is full)");
  if (keep && static_cast<int64_t>(keep->size()) != s.rows) {
    HX_CHECK_RANGE(!keep->empty(), "keep must name at least one row");
    int64_t prev = -1;
    for (int64_t r : *keep) {
      HX_CHECK_RANGE(r > prev && r < s.rows, "keep must be ascending row indices below ", s.rows, ", got ", r);
      prev = r;
    }
    if (park) {
      size_t k = 0;
      for (int64_t r = 0; r < s.rows; ++r) {
        if (k < keep->size() && (*keep)[k] == r) ++k;
        else parkRow(s, r);
      }
    }
    std::vector<int64_t> ids;
    for (int64_t r : *keep) ids.push_back(s.rowIds[r]);
    s.rowIds = ids;
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
  s.last = out;
  return out;
}

}  // namespace hiexp::model
