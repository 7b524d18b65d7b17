#include "train/micro_batches.h"

#include <algorithm>
#include <numeric>

namespace hiexp::train {

std::vector<int64_t> neededLengths(const at::Tensor& mask) {
  const int64_t B = mask.size(0), T = mask.size(1);
  at::Tensor pos = at::arange(1, T + 1, mask.options().dtype(at::kLong)).unsqueeze(0);
  at::Tensor last = ((mask > 0).to(at::kLong) * pos).amax(1).clamp_min(1).to(at::kCPU).contiguous();
  const int64_t* p = last.data_ptr<int64_t>();
  return std::vector<int64_t>(p, p + B);
}

std::vector<MicroBatch> planMicroBatches(const at::Tensor& mask, int64_t maxRows, int64_t maxTokens, int64_t vocabSize) {
  const std::vector<int64_t> len = neededLengths(mask);
  const int64_t B = static_cast<int64_t>(len.size());
  if (maxTokens <= 0) {
    const int64_t base = mask.is_cuda() ? 16384 : 2048;
    const int64_t logitsCap = std::max<int64_t>(1, (int64_t{1} << 28) / std::max<int64_t>(1, vocabSize));
    maxTokens = std::min(base, logitsCap);
  }
  std::vector<int64_t> order(static_cast<size_t>(B));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return len[a] > len[b]; });
  std::vector<MicroBatch> out;
  size_t i = 0;
  while (i < order.size()) {
    const int64_t longest = len[order[i]];
    size_t j = i + 1;
    while (j < order.size() && (maxRows <= 0 || static_cast<int64_t>(j - i) < maxRows) &&
           static_cast<int64_t>(j - i + 1) * longest <= maxTokens)
      ++j;
    std::vector<int64_t> rows(order.begin() + i, order.begin() + j);
    std::sort(rows.begin(), rows.end());  // ascending: a micro-batch keeps the batch's row order
    out.push_back({at::tensor(rows, at::kLong).to(mask.device()), longest});
    i = j;
  }
  return out;
}

at::Tensor take(const at::Tensor& t, const MicroBatch& mb) {
  if (!t.defined()) return t;
  at::Tensor r = t.index_select(0, mb.rows);
  return r.dim() >= 2 ? r.narrow(1, 0, mb.length) : r;
}

}  // namespace hiexp::train
