// Batched generation with a KV cache. Prompts of different lengths are left-padded into one batch; each row's
// positions count its real tokens only, so a padded row computes what it would alone. A caller drives the loop one
// step at a time and may drop finished rows: the JavaScript side (stop strings checked on decoded text), or
// decode_loop.h, which runs a whole turn natively.
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <vector>

#include "model/qwen2.h"
#include "model/sampler.h"

namespace hiexp::model {

// One finished row's cache, kept so that a later call can continue the same sequence without prefilling it again.
struct ParkedRow {
  std::vector<at::Tensor> keys, values;  // per layer [kvHeads, L, headDim]
  at::Tensor keyValid;                    // [L] bool
  int64_t fed = 0;                        // real tokens in the cache (= the position of the next token)
};

struct GenerationSession {
  std::shared_ptr<Qwen2> model;
  KvCache cache;
  at::Tensor nextPos;     // [B] int64 on the device: position of the next token of each row
  at::Tensor lastTokens;  // [B] int64 on the device
  Sampled last;           // the last sampled token of each row and its log-prob, on the CPU
  SamplingOptions sampling;
  Rng rng;
  int64_t rows = 0;
  std::vector<int64_t> rowIds;                // current row -> index of the sequence in the starting call
  std::map<int64_t, ParkedRow> parked;        // sequence index -> its cache, once parked
};

// Prefills `sequences` (each non-empty) and samples the first new token of each. capacity = longest + maxNewTokens.
// With sharePrompts, identical sequences are prefilled once and their rows copied.
Sampled startGeneration(GenerationSession& s, const std::vector<std::vector<int64_t>>& sequences, int64_t maxNewTokens,
                        bool sharePrompts = true);
// Keeps only `keep` (indices into the current rows, ascending) when given, then feeds each row's last token and
// samples the next. Throws when the cache is full. With `park`, the dropped rows' caches are kept in s.parked.
Sampled stepGeneration(GenerationSession& s, const std::vector<int64_t>* keep, bool park = false);
// Parks every current row and frees the batch cache.
void parkAll(GenerationSession& s);

// Continues parked rows of `prev`: row i of the new session is prev.parked[from[i]] followed by suffixes[i] (the
// tokens after its `fed` ones: the last sampled token, then whatever the caller appended). Rows are right-aligned;
// padding columns are masked, positions continue each row's own count.
Sampled resumeGeneration(GenerationSession& s, const GenerationSession& prev, const std::vector<int64_t>& from,
                         const std::vector<std::vector<int64_t>>& suffixes, int64_t maxNewTokens);

}  // namespace hiexp::model
