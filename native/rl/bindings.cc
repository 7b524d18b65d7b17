// JavaScript bindings of native/rl: typed arrays in, typed arrays out, no copies of the B*T inputs.
#include "bindings.h"

#include <ATen/ATen.h>

#include "common/napi_args.h"
#include "common/runtime.h"
#include "rl/advantages.h"
#include "rl/advantages_torch_ops.h"
#include "rl/cpu/policy_loss.h"
#include "rl/policy_loss.h"

namespace hiexp {

namespace {

using napi::Span;

// B and T as given, with the product checked against overflow and the typed-array limit.
std::pair<int64_t, int64_t> batchShape(const Napi::Object& batch) {
  const int64_t B = napi::integer(batch, "B", "batch", 1, int64_t(1) << 40);
  const int64_t T = napi::integer(batch, "T", "batch", 1, int64_t(1) << 40);
  int64_t n = 0;
  if (__builtin_mul_overflow(B, T, &n) || n > (int64_t(1) << 32)) {
    throwRange("batch.B * batch.T = ", B, " * ", T, " overflows the largest typed array (2^32 elements)");
  }
  return {B, T};
}

template <typename T>
Span<T> sized(const Napi::Object& obj, const char* key, const std::string& owner, int64_t n) {
  auto span = napi::typedArray<T>(obj.Get(key), owner + "." + key);
  HX_CHECK_RANGE(static_cast<int64_t>(span.size) == n, owner, ".", key, " has length ", span.size, ", expected ", n);
  return span;
}

// A mask is a Uint8Array (0/1) or a Float32Array of weights >= 0.
void readMask(const Napi::Value& value, const std::string& name, int64_t n, const uint8_t** u8, const float** f32) {
  if (napi::isTypedArrayOf(value, napi_uint8_array)) {
    auto s = napi::typedArray<uint8_t>(value, name);
    HX_CHECK_RANGE(static_cast<int64_t>(s.size) == n, name, " has length ", s.size, ", expected ", n);
    *u8 = s.data;
  } else if (napi::isTypedArrayOf(value, napi_float32_array)) {
    auto s = napi::typedArray<float>(value, name);
    HX_CHECK_RANGE(static_cast<int64_t>(s.size) == n, name, " has length ", s.size, ", expected ", n);
    *f32 = s.data;
  } else {
    throwType(name, " must be a Uint8Array or a Float32Array, got ", napi::describe(value));
  }
}

rl::PolicyLossBatch readBatch(const Napi::Value& value) {
  const auto obj = napi::object(value, "batch");
  napi::rejectUnknownKeys(obj, "batch", {"logp", "oldLogp", "advantages", "mask", "refLogp", "B", "T"});
  rl::PolicyLossBatch x;
  std::tie(x.B, x.T) = batchShape(obj);
  const int64_t n = x.B * x.T;
  x.logp = sized<float>(obj, "logp", "batch", n).data;
  x.oldLogp = sized<float>(obj, "oldLogp", "batch", n).data;
  auto adv = napi::typedArray<float>(obj.Get("advantages"), "batch.advantages");
  HX_CHECK_RANGE(static_cast<int64_t>(adv.size) == x.B || static_cast<int64_t>(adv.size) == n,
                 "batch.advantages has length ", adv.size, ", expected B = ", x.B, " (per sequence) or B*T = ", n,
                 " (per token)");
  x.advantages = adv.data;
  x.tokenAdvantages = static_cast<int64_t>(adv.size) == n && n != x.B;
  readMask(obj.Get("mask"), "batch.mask", n, &x.maskU8, &x.maskF32);
  if (napi::has(obj, "refLogp")) x.refLogp = sized<float>(obj, "refLogp", "batch", n).data;
  return x;
}

rl::PolicyLossOptions readLossOptions(const Napi::Value& value, const rl::PolicyLossBatch& x) {
  const auto obj = napi::object(value, "options");
  napi::rejectUnknownKeys(obj, "options", {"algorithm", "clipLow", "clipHigh", "dualClip", "aggregation", "klCoef",
                                           "klEstimator", "normLength"});
  rl::PolicyLossOptions o;
  o.algorithm = static_cast<rl::Algorithm>(napi::choice(obj, "algorithm", "options", {"grpo", "gspo"}, 0));
  const bool gspo = o.algorithm == rl::Algorithm::Gspo;
  // GSPO's sequence ratios sit near 1, so its clip range is three orders smaller (GSPO paper: 3e-4 / 4e-4).
  o.clipLow = napi::optionalNumber(obj, "clipLow", "options").value_or(gspo ? 3e-4 : 0.2);
  o.clipHigh = napi::optionalNumber(obj, "clipHigh", "options").value_or(gspo ? 4e-4 : 0.2);
  o.dualClip = napi::optionalNumber(obj, "dualClip", "options");
  o.aggregation = static_cast<rl::Aggregation>(napi::choice(
      obj, "aggregation", "options",
      {"token-mean", "seq-mean-token-mean", "seq-mean-token-sum", "seq-mean-token-sum-norm"}, gspo ? 1 : 0));
  o.klCoef = napi::optionalNumber(obj, "klCoef", "options").value_or(0.0);
  o.klEstimator = static_cast<rl::KlEstimator>(napi::choice(obj, "klEstimator", "options", {"k1", "k2", "k3"}, 2));
  o.normLength = napi::optionalNumber(obj, "normLength", "options").value_or(0.0);
  rl::checkPolicyLossOptions(o);
  HX_CHECK_RANGE(o.klCoef == 0 || x.refLogp, "options.klCoef > 0 needs batch.refLogp (the reference log-probs)");
  return o;
}

Napi::Object lossResult(Napi::Env env, const rl::PolicyLossStats& s, Napi::Float32Array grad) {
  auto out = Napi::Object::New(env);
  out.Set("loss", s.loss);
  out.Set("pgLoss", s.pgLoss);
  out.Set("gradLogp", grad);
  out.Set("clipFraction", s.clipFraction);
  out.Set("approxKl", s.approxKl);
  if (s.hasKl) out.Set("kl", s.kl);
  return out;
}

// Zero-copy CPU tensors over the batch's typed arrays (for the tensor-level entry points).
struct BatchTensors {
  at::Tensor logp, oldLogp, advantages, mask, refLogp;
};
BatchTensors tensorsOf(const rl::PolicyLossBatch& x) {
  auto f32 = at::TensorOptions().dtype(at::kFloat);
  auto view = [&](const float* p) { return at::from_blob(const_cast<float*>(p), {x.B, x.T}, f32); };
  BatchTensors t;
  t.logp = view(x.logp).clone();
  t.oldLogp = view(x.oldLogp);
  t.advantages = x.tokenAdvantages ? view(x.advantages) : at::from_blob(const_cast<float*>(x.advantages), {x.B}, f32);
  t.mask = x.maskU8 ? at::from_blob(const_cast<uint8_t*>(x.maskU8), {x.B, x.T}, at::TensorOptions().dtype(at::kByte))
                    : view(x.maskF32);
  if (x.refLogp) t.refLogp = view(x.refLogp);
  return t;
}

// Forward and backward through libtorch autograd: `fused` picks the fused kernel's autograd function, otherwise the
// composed-ops formula. The gradient is copied into a new Float32Array.
// A device named by the caller ("cpu", "cuda", "cuda:1"), checked against what this build can use.
at::Device readDevice(const Napi::Value& value) {
  if (value.IsUndefined()) return at::Device(at::kCPU);
  const auto obj = napi::object(value, "placement");
  napi::rejectUnknownKeys(obj, "placement", {"device"});
  if (!napi::has(obj, "device")) return at::Device(at::kCPU);
  HX_CHECK_TYPE(obj.Get("device").IsString(), "placement.device must be a string such as 'cpu' or 'cuda:0'");
  const std::string name = obj.Get("device").As<Napi::String>().Utf8Value();
  if (name == "cpu") return at::Device(at::kCPU);
  HX_CHECK_RANGE(name.rfind("cuda", 0) == 0, "placement.device must be 'cpu' or 'cuda[:N]', got '", name, "'");
  HX_CHECK_RANGE(cudaAvailable(), "placement.device is '", name, "' but this build of hiexp sees no CUDA device");
  return at::Device(name);
}

Napi::Value autogradLoss(const Napi::CallbackInfo& info, bool fused) {
  const auto x = readBatch(info[0]);
  const auto o = readLossOptions(info[1], x);
  const auto device = readDevice(info[2]);
  auto t = tensorsOf(x);
  for (auto* tensor : {&t.logp, &t.oldLogp, &t.advantages, &t.mask, &t.refLogp}) {
    if (tensor->defined()) *tensor = tensor->to(device);
  }
  t.logp.set_requires_grad(true);
  rl::PolicyLossStats stats;
  at::Tensor loss = fused ? rl::policyLoss(t.logp, t.oldLogp, t.advantages, t.mask, t.refLogp, o, &stats)
                          : rl::policyLossTorchOps(t.logp, t.oldLogp, t.advantages, t.mask, t.refLogp, o);
  loss.backward();
  auto grad = Napi::Float32Array::New(info.Env(), static_cast<size_t>(x.B * x.T));
  std::memcpy(grad.Data(), t.logp.grad().cpu().contiguous().data_ptr<float>(), grad.ByteLength());
  if (!fused) {
    stats.loss = loss.item<double>();
    stats.pgLoss = stats.loss;
  }
  return lossResult(info.Env(), stats, grad);
}

Napi::Value policyLossAutograd(const Napi::CallbackInfo& info) { return autogradLoss(info, true); }
Napi::Value policyLossTorchOps(const Napi::CallbackInfo& info) { return autogradLoss(info, false); }

// The gradient buffer: a new Float32Array, or the caller's `out` (reused across steps, it saves allocating and
// page-faulting B*T floats on every call).
Napi::Float32Array gradientBuffer(const Napi::CallbackInfo& info, const Napi::Value& placement, int64_t n) {
  if (placement.IsUndefined()) return Napi::Float32Array::New(info.Env(), static_cast<size_t>(n));
  const auto obj = napi::object(placement, "output");
  napi::rejectUnknownKeys(obj, "output", {"out"});
  if (!napi::has(obj, "out")) return Napi::Float32Array::New(info.Env(), static_cast<size_t>(n));
  sized<float>(obj, "out", "output", n);
  return obj.Get("out").As<Napi::Float32Array>();
}

Napi::Value policyLoss(const Napi::CallbackInfo& info) {
  const auto x = readBatch(info[0]);
  const auto o = readLossOptions(info[1], x);
  auto grad = gradientBuffer(info, info[2], x.B * x.T);
  const auto stats = rl::policyLossCpu(x, o, grad.Data());
  return lossResult(info.Env(), stats, grad);
}

struct AdvantageCall {
  Span<float> rewards;
  rl::AdvantageOptions options;
  const float* tokenCounts = nullptr;
  std::vector<int32_t> group;
  int64_t G = 0;
};

AdvantageCall readAdvantageCall(const Napi::CallbackInfo& info) {
  const auto rewards = napi::typedArray<float>(info[0], "rewards");
  const auto obj = napi::object(info[1], "options");
  napi::rejectUnknownKeys(obj, "options",
                          {"groupIds", "groupSize", "estimator", "normalizeStd", "eps", "zeroSingletons", "tokenCounts"});
  const auto B = static_cast<int64_t>(rewards.size);
  HX_CHECK_RANGE(B >= 1, "rewards must hold at least one reward");
  rl::AdvantageOptions o;
  o.estimator = static_cast<rl::AdvantageEstimator>(
      napi::choice(obj, "estimator", "options", {"grpo", "drgrpo", "rloo", "reinforce++-baseline"}, 0));
  if (napi::has(obj, "normalizeStd") && o.estimator != rl::AdvantageEstimator::Grpo) {
    throwRange("options.normalizeStd applies to estimator 'grpo' only ('drgrpo' is grpo without it)");
  }
  o.normalizeStd = napi::optionalBool(obj, "normalizeStd", true, "options");
  o.eps = napi::optionalNumber(obj, "eps", "options").value_or(1e-6);
  o.zeroSingletons = napi::optionalBool(obj, "zeroSingletons", false, "options");
  const float* tokenCounts = nullptr;
  if (napi::has(obj, "tokenCounts")) {
    HX_CHECK_RANGE(o.estimator == rl::AdvantageEstimator::ReinforcePlusPlusBaseline,
                   "options.tokenCounts applies to estimator 'reinforce++-baseline' only");
    tokenCounts = sized<float>(obj, "tokenCounts", "options", B).data;
  }
  const bool byIds = napi::has(obj, "groupIds"), bySize = napi::has(obj, "groupSize");
  HX_CHECK_TYPE(byIds != bySize, "options must give exactly one of groupIds (Int32Array) or groupSize (number)");
  std::vector<int32_t> group(B);
  int64_t G = 0;
  if (byIds) {
    const auto ids = sized<int32_t>(obj, "groupIds", "options", B);
    G = rl::denseGroups(ids.data, B, group.data());
  } else {
    const int64_t size = napi::integer(obj, "groupSize", "options", 1, B);
    HX_CHECK_RANGE(B % size == 0, "rewards has length ", B, ", which is not a multiple of options.groupSize = ", size);
    for (int64_t i = 0; i < B; ++i) group[i] = static_cast<int32_t>(i / size);
    G = B / size;
  }
  return AdvantageCall{rewards, o, tokenCounts, std::move(group), G};
}

Napi::Value groupAdvantages(const Napi::CallbackInfo& info) {
  const auto call = readAdvantageCall(info);
  const auto B = static_cast<int64_t>(call.rewards.size);
  auto out = Napi::Float32Array::New(info.Env(), static_cast<size_t>(B));
  rl::groupAdvantagesCpu(call.rewards.data, call.group.data(), B, call.G, call.tokenCounts, call.options, out.Data());
  return out;
}

Napi::Value groupAdvantagesTorchOps(const Napi::CallbackInfo& info) {
  const auto call = readAdvantageCall(info);
  const auto B = static_cast<int64_t>(call.rewards.size);
  const auto rewards = at::from_blob(call.rewards.data, {B}, at::TensorOptions().dtype(at::kFloat));
  const auto group = at::from_blob(const_cast<int32_t*>(call.group.data()), {B}, at::TensorOptions().dtype(at::kInt))
                         .to(at::kLong);
  const auto adv = rl::groupAdvantagesTorchOps(rewards, group, call.G, call.options).contiguous();
  auto out = Napi::Float32Array::New(info.Env(), static_cast<size_t>(B));
  std::memcpy(out.Data(), adv.data_ptr<float>(), out.ByteLength());
  return out;
}

Napi::Value broadcastAdvantages(const Napi::CallbackInfo& info) {
  const auto adv = napi::typedArray<float>(info[0], "advantages");
  const auto shape = napi::object(info[2], "shape");
  const auto [B, T] = batchShape(shape);
  HX_CHECK_RANGE(static_cast<int64_t>(adv.size) == B, "advantages has length ", adv.size, ", expected B = ", B);
  const uint8_t* u8 = nullptr;
  const float* f32 = nullptr;
  readMask(info[1], "mask", B * T, &u8, &f32);
  auto out = Napi::Float32Array::New(info.Env(), static_cast<size_t>(B * T));
  rl::broadcastAdvantagesCpu(adv.data, u8, f32, B, T, out.Data());
  return out;
}

}  // namespace

void registerRl(Napi::Env env, Napi::Object exports) {
  napi::exportFunction(env, exports, "groupAdvantages", groupAdvantages);
  napi::exportFunction(env, exports, "groupAdvantagesTorchOps", groupAdvantagesTorchOps);
  napi::exportFunction(env, exports, "broadcastAdvantages", broadcastAdvantages);
  napi::exportFunction(env, exports, "policyLoss", policyLoss);
  napi::exportFunction(env, exports, "policyLossAutograd", policyLossAutograd);
  napi::exportFunction(env, exports, "policyLossTorchOps", policyLossTorchOps);
}

}  // namespace hiexp
