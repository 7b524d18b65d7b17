#include "distributed/group.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <c10/util/Exception.h>

#include "common/errors.h"

namespace hiexp::dist {

namespace {

// c10::Error's what() carries a C++ backtrace: keep the message alone.
std::string reason(const std::exception& e) {
  const auto* ce = dynamic_cast<const c10::Error*>(&e);
  std::string r = ce ? ce->what_without_backtrace() : e.what();
  while (!r.empty() && (r.back() == '.' || r.back() == '!' || r.back() == '\n' || r.back() == ' ')) r.pop_back();
  return r;
}

std::string where(const GroupOptions& o) {
  return detail::concat("rank ", o.rank, " of ", o.worldSize, " (", o.backend == BackendKind::Gloo ? "gloo" : "nccl",
                        ", master ", o.masterAddr, ":", o.masterPort, ", time-out ", o.timeout.count(), " ms)");
}

constexpr const char* kHint =
    " (did every rank start, with the same MASTER_ADDR, MASTER_PORT and WORLD_SIZE, and is the port free on the "
    "master?)";

}  // namespace

void GroupOptions::check() const {
  HX_CHECK_RANGE(worldSize >= 1, "worldSize must be at least 1, got ", worldSize);
  HX_CHECK_RANGE(rank >= 0 && rank < worldSize, "rank must be in [0, worldSize = ", worldSize, "), got ", rank);
  HX_CHECK_RANGE(masterPort >= 1 && masterPort <= 65535, "masterPort must be in [1, 65535], got ", masterPort);
  HX_CHECK_RANGE(!masterAddr.empty(), "masterAddr must not be empty");
  HX_CHECK_RANGE(timeout.count() >= 1, "timeoutMs must be at least 1, got ", timeout.count());
  HX_CHECK_RANGE(cudaDevice >= 0, "cudaDevice must be at least 0, got ", cudaDevice);
}

std::shared_ptr<Group> Group::create(const GroupOptions& opts) {
  opts.check();
  std::shared_ptr<Group> g(new Group(opts));
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(opts.masterPort);
    so.isServer = opts.rank == 0 && !opts.agentStore;
    so.numWorkers = static_cast<std::size_t>(opts.worldSize);
    so.waitWorkers = !opts.agentStore;
    so.timeout = opts.timeout;
    auto tcp = c10::make_intrusive<c10d::TCPStore>(opts.masterAddr, so);
    g->store_ = c10::make_intrusive<c10d::PrefixStore>("hiexp", tcp);
  } catch (const std::exception& e) {
    throw std::runtime_error(detail::concat("dist: rendezvous failed on ", where(opts), ": TCPStore: ", reason(e), kHint));
  }
  try {
    g->backend_ = opts.backend == BackendKind::Gloo ? makeGloo(g->store_, opts) : makeNccl(g->store_, opts);
  } catch (const hiexp::RangeError&) {
    throw;
  } catch (const std::exception& e) {
    throw std::runtime_error(
        detail::concat("dist: rendezvous failed on ", where(opts), ": connecting the ranks: ", reason(e), kHint));
  }
  return g;
}

Group::~Group() = default;

bool Group::acceptsDevice(const at::Device& d) const {
  return opts_.backend == BackendKind::Gloo ? d.is_cpu() : d.is_cuda();
}

at::Device Group::commDevice() const {
  return opts_.backend == BackendKind::Gloo ? at::Device(at::kCPU)
                                            : at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(opts_.cudaDevice));
}

bool Group::destroyed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return !backend_;
}

void Group::destroy() {
  std::lock_guard<std::mutex> lock(mutex_);
  backend_.reset();
  store_.reset();
}

template <typename Fn>
void Group::run(const char* what, Fn&& issue) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!broken_.empty()) throw std::runtime_error(broken_);
  if (!backend_) throw std::runtime_error(detail::concat("dist: ", what, " on a destroyed process group"));
  try {
    c10::intrusive_ptr<c10d::Work> work = issue(*backend_);
    // Gloo bounds every operation by the group's time-out; waiting with it too covers a backend that does not.
    if (!work->wait(opts_.timeout)) throw std::runtime_error("the operation did not complete within the time-out");
  } catch (const std::exception& e) {
    broken_ = detail::concat("dist: ", what, " failed on ", where(opts_), ": ", reason(e),
                             ". Another rank has probably exited or stopped responding; the group is now broken: "
                             "stop every rank and restart from the last checkpoint");
    throw std::runtime_error(broken_);
  }
}

namespace {
void checkTensors(const Group& g, const std::vector<at::Tensor>& tensors, const char* what) {
  for (const auto& t : tensors) {
    HX_CHECK_RANGE(t.defined() && t.is_contiguous(), what, ": tensors must be defined and contiguous");
    HX_CHECK_RANGE(g.acceptsDevice(t.device()), what, ": the ", g.backendName(), " backend cannot take tensors on ",
                   t.device().str());
  }
}
}  // namespace

void Group::allReduce(std::vector<at::Tensor>& tensors, ReduceOp op) {
  checkTensors(*this, tensors, "all-reduce");
  if (tensors.empty()) return;
  c10d::AllreduceOptions o;
  o.reduceOp = op == ReduceOp::Max ? c10d::ReduceOp::MAX : op == ReduceOp::Min ? c10d::ReduceOp::MIN : c10d::ReduceOp::SUM;
  o.timeout = opts_.timeout;
  // One collective per tensor: c10d's vector argument means one tensor per local device, not a list of tensors.
  for (auto& t : tensors) {
    std::vector<at::Tensor> one{t};
    run("all-reduce", [&](BackendBase& b) { return b.allreduce(one, o); });
    if (op == ReduceOp::Mean && size() > 1) t.div_(size());
  }
}

void Group::broadcast(std::vector<at::Tensor>& tensors, int root) {
  checkTensors(*this, tensors, "broadcast");
  HX_CHECK_RANGE(root >= 0 && root < size(), "root must be in [0, ", size(), "), got ", root);
  c10d::BroadcastOptions o;
  o.rootRank = root;
  o.rootTensor = 0;
  o.timeout = opts_.timeout;
  for (auto& t : tensors) {
    std::vector<at::Tensor> one{t};
    run("broadcast", [&](BackendBase& b) { return b.broadcast(one, o); });
  }
}

void Group::barrier() {
  c10d::BarrierOptions o;
  o.timeout = opts_.timeout;
#if TORCH_VERSION_MAJOR >= 2
  // NCCL's barrier all-reduces a tensor on a guessed device; an all-reduce of one value on ours is explicit.
  if (opts_.backend == BackendKind::Nccl) {
    std::vector<at::Tensor> one{at::zeros({1}, at::TensorOptions().device(commDevice()))};
    allReduce(one, ReduceOp::Sum);
    return;
  }
#endif
  run("barrier", [&](BackendBase& b) { return b.barrier(o); });
}

void Group::forEachBucket(const std::vector<at::Tensor>& tensors, int64_t bucketBytes,
                          const std::function<void(std::vector<at::Tensor>&)>& fn) {
  HX_CHECK_RANGE(bucketBytes >= 1, "bucketBytes must be at least 1, got ", bucketBytes);
  size_t i = 0;
  while (i < tensors.size()) {
    // A bucket: consecutive tensors of one dtype and device, up to bucketBytes (a larger tensor goes alone).
    const at::Tensor& first = tensors[i];
    size_t j = i;
    int64_t bytes = 0;
    while (j < tensors.size() && tensors[j].scalar_type() == first.scalar_type() &&
           tensors[j].device() == first.device() &&
           (j == i || bytes + tensors[j].numel() * tensors[j].element_size() <= bucketBytes)) {
      bytes += tensors[j].numel() * tensors[j].element_size();
      ++j;
    }
    std::vector<at::Tensor> views;
    views.reserve(j - i);
    for (size_t k = i; k < j; ++k) views.push_back(tensors[k].reshape({-1}));
    std::vector<at::Tensor> flat{at::cat(views)};
    fn(flat);
    int64_t offset = 0;
    for (size_t k = i; k < j; ++k) {
      const int64_t n = tensors[k].numel();
      const_cast<at::Tensor&>(tensors[k]).copy_(flat[0].narrow(0, offset, n).view(tensors[k].sizes()));
      offset += n;
    }
    i = j;
  }
}

void Group::allReduceBucketed(const std::vector<at::Tensor>& tensors, ReduceOp op, int64_t bucketBytes) {
  if (size() == 1 && op != ReduceOp::Mean) return;
  forEachBucket(tensors, bucketBytes, [&](std::vector<at::Tensor>& flat) { allReduce(flat, op); });
}

void Group::broadcastBucketed(const std::vector<at::Tensor>& tensors, int root, int64_t bucketBytes) {
  HX_CHECK_RANGE(root >= 0 && root < size(), "root must be in [0, ", size(), "), got ", root);
  if (size() == 1) return;
  forEachBucket(tensors, bucketBytes, [&](std::vector<at::Tensor>& flat) { broadcast(flat, root); });
}

}  // namespace hiexp::dist
