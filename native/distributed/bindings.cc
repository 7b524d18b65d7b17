// JavaScript entry points of native/dist: process groups (rendezvous, collectives on typed arrays, destroy) and the
// broadcast of a policy's weights. Everything that talks to other ranks runs on the libuv pool and returns a Promise.
#include "bindings.h"

#include <cstring>

#include "common/napi_args.h"
#include "distributed/data_parallel.h"
#include "distributed/handles.h"

namespace hiexp {
namespace {
using dist::Group;

dist::GroupOptions parseGroup(const Napi::Object& o) {
  const std::string owner = "options";
  napi::rejectUnknownKeys(o, owner, {"rank", "worldSize", "masterAddr", "masterPort", "backend", "timeoutMs", "cudaDevice", "agentStore"});
  dist::GroupOptions r;
  r.worldSize = static_cast<int>(napi::integer(o, "worldSize", owner, 1, 1 << 20));
  r.rank = static_cast<int>(napi::integer(o, "rank", owner, 0, r.worldSize - 1));
  if (!o.Get("masterAddr").IsString()) throwType("options.masterAddr must be a string, got ", napi::describe(o.Get("masterAddr")));
  r.masterAddr = o.Get("masterAddr").As<Napi::String>().Utf8Value();
  r.masterPort = static_cast<int>(napi::integer(o, "masterPort", owner, 1, 65535));
  r.backend = napi::choice(o, "backend", owner, {"gloo", "nccl"}, 0) == 0 ? dist::BackendKind::Gloo : dist::BackendKind::Nccl;
  r.timeout = std::chrono::milliseconds(napi::integer(o, "timeoutMs", owner, 1, 1ll << 40));
  if (napi::has(o, "cudaDevice")) r.cudaDevice = static_cast<int>(napi::integer(o, "cudaDevice", owner, 0, 1 << 16));
  r.agentStore = napi::optionalBool(o, "agentStore", false, owner);
  r.check();
  return r;
}

// A typed array's values as a tensor and back. Copied on the calling thread, right after the pointer is taken and
// after every other argument is read: the collective runs on the libuv pool, when JavaScript may have detached,
// shrunk or changed the array.
struct Buffer {
  at::Tensor tensor;
  napi_typedarray_type type = napi_float32_array;
};

Buffer toTensor(const Napi::Value& v, const std::string& name) {
  Buffer b;
  if (napi::isTypedArrayOf(v, napi_float32_array)) {
    auto s = napi::typedArray<float>(v, name);
    b.tensor = at::from_blob(s.data, {static_cast<int64_t>(s.size)}, at::kFloat).clone();
  } else if (napi::isTypedArrayOf(v, napi_float64_array)) {
    auto s = napi::typedArray<double>(v, name);
    b.tensor = at::from_blob(s.data, {static_cast<int64_t>(s.size)}, at::kDouble).clone();
    b.type = napi_float64_array;
  } else if (napi::isTypedArrayOf(v, napi_int32_array)) {
    auto s = napi::typedArray<int32_t>(v, name);
    b.tensor = at::from_blob(s.data, {static_cast<int64_t>(s.size)}, at::kInt).clone();
    b.type = napi_int32_array;
  } else {
    throwType(name, " must be a Float32Array, Float64Array or Int32Array, got ", napi::describe(v));
  }
  return b;
}

Napi::Value toJs(Napi::Env env, const Buffer& b) {
  at::Tensor t = b.tensor.cpu().contiguous();
  const size_t n = static_cast<size_t>(t.numel());
  switch (b.type) {
    case napi_float64_array: {
      auto a = Napi::Float64Array::New(env, n);
      if (n) std::memcpy(a.Data(), t.data_ptr<double>(), n * sizeof(double));
      return a;
    }
    case napi_int32_array: {
      auto a = Napi::Int32Array::New(env, n);
      if (n) std::memcpy(a.Data(), t.data_ptr<int32_t>(), n * sizeof(int32_t));
      return a;
    }
    default: {
      auto a = Napi::Float32Array::New(env, n);
      if (n) std::memcpy(a.Data(), t.data_ptr<float>(), n * sizeof(float));
      return a;
    }
  }
}

Napi::Value undefinedJs(Napi::Env env, bool&) { return env.Undefined(); }

Napi::Value distBackends(const Napi::CallbackInfo& info) {
  auto o = Napi::Object::New(info.Env());
  o.Set("gloo", dist::hasGloo());
  o.Set("nccl", dist::hasNccl());
  return o;
}

// distInit(options) -> Promise<handle>: blocks (off the main thread) until every rank has joined or the time-out.
Napi::Value distInit(const Napi::CallbackInfo& info) {
  auto opts = parseGroup(napi::object(info[0], "options"));
  return napi::runAsync<std::shared_ptr<Group>>(
      info.Env(), [opts] { return Group::create(opts); },
      [](Napi::Env env, std::shared_ptr<Group>& g) { return napi::wrapHandle(env, g); });
}

// distAllReduce(group, array, op) -> Promise<array of the same type>
Napi::Value distAllReduce(const Napi::CallbackInfo& info) {
  auto g = napi::unwrapHandle<Group>(info[0], "group");
  static const dist::ReduceOp ops[] = {dist::ReduceOp::Sum, dist::ReduceOp::Mean, dist::ReduceOp::Max, dist::ReduceOp::Min};
  const dist::ReduceOp op = ops[napi::choiceValue(info[2], "allReduce.op", {"sum", "mean", "max", "min"}, 0)];
  Buffer b = toTensor(info[1], "data");
  HX_CHECK_RANGE(!(op == dist::ReduceOp::Mean && b.type == napi_int32_array),
                 "op 'mean' needs a Float32Array or Float64Array (an Int32Array cannot hold the mean)");
  return napi::runAsync<Buffer>(
      info.Env(),
      [g, b, op]() mutable {
        std::vector<at::Tensor> one{b.tensor.to(g->commDevice())};
        g->allReduce(one, op);
        b.tensor = one[0];
        return b;
      },
      [](Napi::Env env, Buffer& r) { return toJs(env, r); });
}

// distBroadcast(group, array, root) -> Promise<root's array>
Napi::Value distBroadcast(const Napi::CallbackInfo& info) {
  auto g = napi::unwrapHandle<Group>(info[0], "group");
  const int root = static_cast<int>(napi::integerValue(info[2], "broadcast.root", 0, g->size() - 1));
  Buffer b = toTensor(info[1], "data");
  return napi::runAsync<Buffer>(
      info.Env(),
      [g, b, root]() mutable {
        std::vector<at::Tensor> one{b.tensor.to(g->commDevice())};
        g->broadcast(one, root);
        b.tensor = one[0];
        return b;
      },
      [](Napi::Env env, Buffer& r) { return toJs(env, r); });
}

Napi::Value distBarrier(const Napi::CallbackInfo& info) {
  auto g = napi::unwrapHandle<Group>(info[0], "group");
  return napi::runAsync<bool>(info.Env(), [g] { g->barrier(); return true; }, undefinedJs);
}

Napi::Value distDestroy(const Napi::CallbackInfo& info) {
  auto g = napi::unwrapHandle<Group>(info[0], "group");
  return napi::runAsync<bool>(info.Env(), [g] { g->destroy(); return true; }, undefinedJs);
}

// distBroadcastPolicy(group, policy, root) -> Promise<void>: every rank's weights become root's.
Napi::Value distBroadcastPolicy(const Napi::CallbackInfo& info) {
  auto g = napi::unwrapHandle<Group>(info[0], "group");
  auto core = napi::unwrapHandle<model::PolicyCore>(info[1], "policy");
  const int root = static_cast<int>(napi::integerValue(info[2], "broadcast.root", 0, g->size() - 1));
  HX_CHECK_RANGE(g->acceptsDevice(core->model->device()), "the policy's device (", core->model->device().str(),
                 ") does not suit the ", g->backendName(), " backend (gloo: cpu, nccl: cuda)");
  return napi::runAsync<bool>(
      info.Env(),
      [g, core, root] {
        std::lock_guard<std::mutex> lock(core->model->mutex());
        dist::broadcastTensors(*g, core->model->parameters(), root);
        return true;
      },
      undefinedJs);
}

}  // namespace

void registerDistributed(Napi::Env env, Napi::Object exports) {
  napi::exportFunction(env, exports, "distBackends", distBackends);
  napi::exportFunction(env, exports, "distInit", distInit);
  napi::exportFunction(env, exports, "distAllReduce", distAllReduce);
  napi::exportFunction(env, exports, "distBroadcast", distBroadcast);
  napi::exportFunction(env, exports, "distBarrier", distBarrier);
  napi::exportFunction(env, exports, "distDestroy", distDestroy);
  napi::exportFunction(env, exports, "distBroadcastPolicy", distBroadcastPolicy);
}

}  // namespace hiexp
