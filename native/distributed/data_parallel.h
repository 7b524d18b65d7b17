// Data-parallel pieces of a training step (used by native/train/trainer.cc when a group is attached).
//
// Each rank holds a shard of the global batch. A loss aggregated over the global batch is a sum over sequences or
// tokens divided by a normaliser of the global batch, so every rank weights its micro-batches with the GLOBAL
// normaliser and the ranks' gradients are SUMMED (not averaged):
//   token-mean               normaliser = all masked tokens of all ranks          (all-reduced token count)
//   seq-mean-token-mean      normaliser = all non-empty sequences of all ranks    (all-reduced sequence count)
//   seq-mean-token-sum       normaliser = all non-empty sequences of all ranks    (all-reduced sequence count)
//   seq-mean-token-sum-norm  sum over sequences / normLength; normLength defaults to the padded length T, taken as
//                            the largest T of all ranks (all-reduced max), i.e. the T of the whole batch padded
//                            together
//   sft (token mean)         normaliser = all target tokens of all ranks
// Averaging local gradients instead would equal the global loss only when every rank had the same count. With these
// rules, W ranks with shards of a batch take the same step as one rank with the whole batch (up to float rounding).
#pragma once
#include <ATen/ATen.h>

#include <vector>

#include "distributed/group.h"

namespace hiexp::dist {

// Element-wise sum over the ranks of `values` (identity when group is null or has one rank).
std::vector<double> sumOverRanks(Group* group, std::vector<double> values, const at::Device& device);
int64_t maxOverRanks(Group* group, int64_t value, const at::Device& device);

// Sums every parameter's gradient over the ranks, bucketed; a rank with no gradient for a parameter (no token in its
// shard) contributes zeros, and afterwards every parameter has a gradient.
void allReduceGradients(Group& group, const std::vector<at::Tensor>& params, int64_t bucketBytes = kDefaultBucketBytes);

// Copies rank `root`'s tensors (the weights) to every rank, bucketed.
void broadcastTensors(Group& group, const std::vector<at::Tensor>& tensors, int root,
                      int64_t bucketBytes = kDefaultBucketBytes);

}  // namespace hiexp::dist
