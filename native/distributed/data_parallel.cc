#include "distributed/data_parallel.h"

#include "common/errors.h"

namespace hiexp::dist {

namespace {
at::Device commDevice(const Group& g, const at::Device& device) { return g.acceptsDevice(device) ? device : g.commDevice(); }
}  // namespace

std::vector<double> sumOverRanks(Group* group, std::vector<double> values, const at::Device& device) {
  if (group == nullptr || group->size() == 1 || values.empty()) return values;
  at::Tensor t = at::tensor(values, at::kDouble).to(commDevice(*group, device));
  std::vector<at::Tensor> one{t};
  group->allReduce(one, ReduceOp::Sum);
  at::Tensor host = t.cpu();
  const double* p = host.data_ptr<double>();
  return std::vector<double>(p, p + values.size());
}

int64_t maxOverRanks(Group* group, int64_t value, const at::Device& device) {
  if (group == nullptr || group->size() == 1) return value;
  std::vector<at::Tensor> one{at::full({1}, value, at::TensorOptions().dtype(at::kLong).device(commDevice(*group, device)))};
  group->allReduce(one, ReduceOp::Max);
  return one[0].cpu().item<int64_t>();
}

void allReduceGradients(Group& group, const std::vector<at::Tensor>& params, int64_t bucketBytes) {
  if (group.size() == 1) return;
  std::vector<at::Tensor> grads;
  grads.reserve(params.size());
  for (const auto& p : params) {
    at::Tensor& g = const_cast<at::Tensor&>(p).mutable_grad();
    if (!g.defined()) g = at::zeros_like(p);
    HX_CHECK_RANGE(g.is_contiguous(), "a gradient is not contiguous");
    grads.push_back(g);
  }
  group.allReduceBucketed(grads, ReduceOp::Sum, bucketBytes);
}

void broadcastTensors(Group& group, const std::vector<at::Tensor>& tensors, int root, int64_t bucketBytes) {
  if (group.size() == 1) return;
  at::NoGradGuard noGrad;
  group.broadcastBucketed(tensors, root, bucketBytes);
}

}  // namespace hiexp::dist
