// Batched generation with a KV cache. Prompts of different lengths are left-padded into one batch; each row's
// positions count its real tokens only, so a padded row computes what it would alone. The JavaScript side drives the
// loop one step at a time (it owns the tokenizer and checks stop strings on text) and may drop finished rows.
#pragma once
#include <ATen/ATen.h>

#include <memory>
#include <vector>

#include "model/qwen2.h"
#include "model/sampler.h"

namespace hiexp::model {

struct GenerationSession {
  std::shared_ptr<Qwen2> model;
  KvCache cache;
  at::Tensor nextPos;     // [B] int64 on the device: position of the next token of each row
  at::Tensor lastTokens;  // [B] int64 on the device
  SamplingOptions sampling;
  Rng rng;
  int64_t rows = 0;
};

// Prefills `sequences` (each non-empty) and samples the first new token of each. capacity = longest + maxNewTokens.
Sampled startGeneration(GenerationSession& s, const std::vector<std::vector<int64_t>>& sequences, int64_t maxNewTokens);
// Keeps only `keep` (indices into the current rows, ascending) when given, then feeds each row's last token and
// samples the next. Throws when the cache is full.
Sampled stepGeneration(GenerationSession& s, const std::vector<int64_t>* keep);

}  // namespace hiexp::model
