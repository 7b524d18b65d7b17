// A c10d process group for data-parallel training: rendezvous through a TCPStore (rank 0 serves it), then Gloo
// (CPU tensors) or NCCL (CUDA tensors, HIEXP_WITH_CUDA builds) collectives. Every collective is bounded by the
// group's time-out; the first failure breaks the group, and every later call fails at once with that first message.
#pragma once
#include <ATen/ATen.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/version.h>
#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
#endif

namespace hiexp::dist {

// libtorch 1.x's ProcessGroupGloo/NCCL derive from c10d::ProcessGroup; 2.x's from c10d::Backend. Both declare the
// collectives used here (allreduce, broadcast, barrier) with the same signatures.
#if TORCH_VERSION_MAJOR >= 2
using BackendBase = c10d::Backend;
#else
using BackendBase = c10d::ProcessGroup;
#endif

enum class BackendKind { Gloo, Nccl };
enum class ReduceOp { Sum, Mean, Max, Min };

struct GroupOptions {
  int rank = 0;
  int worldSize = 1;
  std::string masterAddr = "127.0.0.1";
  int masterPort = 29500;
  BackendKind backend = BackendKind::Gloo;
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
  int cudaDevice = 0;
  // torchrun (torchelastic) already serves a TCPStore at MASTER_ADDR:MASTER_PORT (TORCHELASTIC_USE_AGENT_STORE):
  // then rank 0 connects to it as a client instead of serving one.
  bool agentStore = false;  // NCCL: this rank's GPU (LOCAL_RANK), where host buffers are staged for collectives
  void check() const;
};

// Default bucket of the bucketed collectives: 25 MB, as DistributedDataParallel's bucket_cap_mb.
constexpr int64_t kDefaultBucketBytes = 25ll << 20;

class Group {
 public:
  // Rendezvous and connection of all ranks; blocks until every rank has joined or the time-out has passed.
  static std::shared_ptr<Group> create(const GroupOptions& opts);
  ~Group();

  int rank() const { return opts_.rank; }
  int size() const { return opts_.worldSize; }
  BackendKind backend() const { return opts_.backend; }
  const char* backendName() const { return opts_.backend == BackendKind::Gloo ? "gloo" : "nccl"; }
  std::chrono::milliseconds timeout() const { return opts_.timeout; }
  // The device the collectives' tensors must live on (CPU for Gloo, this rank's CUDA device for NCCL).
  bool acceptsDevice(const at::Device& d) const;
  at::Device commDevice() const;

  // In place; the tensors are contiguous and on an accepted device. Mean divides the sum by size().
  void allReduce(std::vector<at::Tensor>& tensors, ReduceOp op);
  void broadcast(std::vector<at::Tensor>& tensors, int root);
  void barrier();

  // Reduces/broadcasts many tensors (any shapes, same dtype within a bucket) by copying them into flat buckets of at
  // most bucketBytes, one collective per bucket, and back: few large messages instead of one per parameter.
  void allReduceBucketed(const std::vector<at::Tensor>& tensors, ReduceOp op, int64_t bucketBytes = kDefaultBucketBytes);
  void broadcastBucketed(const std::vector<at::Tensor>& tensors, int root, int64_t bucketBytes = kDefaultBucketBytes);

  // Releases the backend and the store; later calls fail. Idempotent.
  void destroy();
  bool destroyed() const;

 private:
  explicit Group(const GroupOptions& opts) : opts_(opts) {}
  template <typename Fn>
  void run(const char* what, Fn&& issue);
  void forEachBucket(const std::vector<at::Tensor>& tensors, int64_t bucketBytes,
                     const std::function<void(std::vector<at::Tensor>&)>& fn);

  GroupOptions opts_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<BackendBase> backend_;
  // c10d needs the same order of collectives on every rank: one at a time per process.
  mutable std::mutex mutex_;
  std::string broken_;
};

// Backend constructors, each in its own translation unit (gloo.cc, nccl.cc) so that only they need the backend's
// headers; each throws a clear error when this build lacks that backend.
c10::intrusive_ptr<BackendBase> makeGloo(const c10::intrusive_ptr<c10d::Store>& store, const GroupOptions& opts);
c10::intrusive_ptr<BackendBase> makeNccl(const c10::intrusive_ptr<c10d::Store>& store, const GroupOptions& opts);
bool hasGloo();
bool hasNccl();

}  // namespace hiexp::dist
