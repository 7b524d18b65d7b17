// How a right-padded [B, T] batch is cut into micro-batches. A row only needs its tokens up to its last loss token
// (causal attention: nothing after it changes a loss term), so rows are ordered longest first and each micro-batch is
// narrowed to its own longest row: padding shrinks from B x T to about the sum of the lengths, and the
// vocabulary-sized logits of one micro-batch stay under a token budget.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace hiexp::train {

struct MicroBatch {
  at::Tensor rows;   // int64 row indices into the batch, on the batch's device
  int64_t length;    // columns kept: the longest row's needed length (>= 1)
};

// Needed length of each row: one past its last position with mask > 0 (1 when it has none).
std::vector<int64_t> neededLengths(const at::Tensor& mask);

// Micro-batches of at most maxRows rows (0: no limit) and at most maxTokens padded tokens (0: auto, below), longest
// rows first; a row longer than the budget gets a micro-batch of its own.
// Auto budget: 2048 tokens on the CPU (per-op overhead is paid once per micro-batch; more rows buy little) and
// 16384 on a GPU, capped so that one micro-batch's float32 logits stay under 1 GiB.
std::vector<MicroBatch> planMicroBatches(const at::Tensor& mask, int64_t maxRows, int64_t maxTokens, int64_t vocabSize);

// Rows `mb.rows`, columns [0, mb.length) of a [B, T] tensor; a [B] tensor's rows; undefined stays undefined.
at::Tensor take(const at::Tensor& t, const MicroBatch& mb);

}  // namespace hiexp::train
