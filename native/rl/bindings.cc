// JavaScript bindings of native/rl: typed arrays in, typed arrays out, no copies of the B*T inputs.
//
// Memory safety. Reading an argument or an option can run JavaScript (a getter, a Proxy trap), and that JavaScript
// can detach, transfer or shrink (resizable ArrayBuffer) the memory behind an array read before. So every binding
// here works in two phases:
//   read  each argument and option field is read once (napi::field: getters run here, and only here) and every
//         scalar option is checked; arrays stay JavaScript values;
//   pin   the arrays' data pointers and current lengths are taken and checked against B and T, the outputs are
//         allocated and the kernel runs. Nothing in this phase calls into JavaScript, so the pointers stay valid, and
//         a buffer detached or shrunk during the read phase is refused here by name.
// The kernels run synchronously on the calling thread, so no input outlives the call and none is copied.
#include "bindings.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstring>

#include "common/napi_args.h"
#include "common/runtime.h"
#include "rl/advantages.h"
#include "rl/advantages_torch_ops.h"
#include "rl/cpu/policy_loss.h"
#include "rl/policy_loss.h"

namespace hiexp {

namespace {

using napi::Span;

// The largest B*T: a typed array holds at most 2^32 elements here, and anything larger is refused before any
// length is compared or anything allocated.
constexpr int64_t kMaxElements = int64_t(1) << 32;

// B and T of a batch (owner "batch" or "shape"), with the product checked against overflow and the typed-array limit.
std::pair<int64_t, int64_t> readShape(const Napi::Object& obj) {
  const int64_t B = napi::integerValue(napi::field(obj, "B"), "batch.B", 1, int64_t(1) << 40);
  const int64_t T = napi::integerValue(napi::field(obj, "T"), "batch.T", 1, int64_t(1) << 40);
  int64_t n = 0;
  if (__builtin_mul_overflow(B, T, &n) || n > kMaxElements) {
    throwRange("batch.B * batch.T = ", B, " * ", T, " overflows the largest typed array (2^32 elements)");
  }
  return {B, T};
}

// Pin phase: a typed array of exactly n elements.
template <typename T>
Span<T> sized(const Napi::Value& value, const std::string& name, int64_t n) {
  auto span = napi::typedArray<T>(value, name);
  HX_CHECK_RANGE(static_cast<int64_t>(span.size) == n, name, " has length ", span.size, ", expected ", n);
  return span;
}

// Pin phase: a mask is a Uint8Array (0/1) or a Float32Array of weights >= 0.
void pinMask(const Napi::Value& value, const std::string& name, int64_t n, const uint8_t** u8, const float** f32) {
  if (napi::isTypedArrayOf(value, napi_uint8_array)) {
    *u8 = sized<uint8_t>(value, name, n).data;
  } else if (napi::isTypedArrayOf(value, napi_float32_array)) {
    *f32 = sized<float>(value, name, n).data;
  } else {
    throwType(name, " must be a Uint8Array or a Float32Array, got ", napi::describe(value));
  }
}

// ---- policy losses ---------------------------------------------------------------------------------------------

// A policy-loss call after the read phase.
struct LossCall {
  Napi::Value logp, oldLogp, advantages, mask, refLogp;
  int64_t B = 0, T = 0;
  rl::PolicyLossOptions options;
};

void readBatch(const Napi::Value& value, LossCall& c) {
  const auto obj = napi::object(value, "batch");
  napi::rejectUnknownKeys(obj, "batch", {"logp", "oldLogp", "advantages", "mask", "refLogp", "B", "T"});
  std::tie(c.B, c.T) = readShape(obj);
  c.logp = napi::field(obj, "logp");
  c.oldLogp = napi::field(obj, "oldLogp");
  c.advantages = napi::field(obj, "advantages");
  c.mask = napi::field(obj, "mask");
  c.refLogp = napi::field(obj, "refLogp");
}

void readLossOptions(const Napi::Value& value, LossCall& c) {
  const auto obj = napi::object(value, "options");
  napi::rejectUnknownKeys(obj, "options", {"algorithm", "clipLow", "clipHigh", "dualClip", "aggregation", "klCoef",
                                           "klEstimator", "normLength"});
  rl::PolicyLossOptions& o = c.options;
  o.algorithm = static_cast<rl::Algorithm>(napi::choiceValue(napi::field(obj, "algorithm"), "options.algorithm",
                                                             {"grpo", "gspo"}, 0));
  const bool gspo = o.algorithm == rl::Algorithm::Gspo;
  // GSPO's sequence ratios sit near 1, so its clip range is three orders smaller (GSPO paper: 3e-4 / 4e-4).
  o.clipLow = napi::optionalNumberValue(napi::field(obj, "clipLow"), "options.clipLow").value_or(gspo ? 3e-4 : 0.2);
  o.clipHigh = napi::optionalNumberValue(napi::field(obj, "clipHigh"), "options.clipHigh").value_or(gspo ? 4e-4 : 0.2);
  o.dualClip = napi::optionalNumberValue(napi::field(obj, "dualClip"), "options.dualClip");
  o.aggregation = static_cast<rl::Aggregation>(
      napi::choiceValue(napi::field(obj, "aggregation"), "options.aggregation",
                        {"token-mean", "seq-mean-token-mean", "seq-mean-token-sum", "seq-mean-token-sum-norm"},
                        gspo ? 1 : 0));
  o.klCoef = napi::optionalNumberValue(napi::field(obj, "klCoef"), "options.klCoef").value_or(0.0);
  o.klEstimator = static_cast<rl::KlEstimator>(
      napi::choiceValue(napi::field(obj, "klEstimator"), "options.klEstimator", {"k1", "k2", "k3"}, 2));
  o.normLength = napi::optionalNumberValue(napi::field(obj, "normLength"), "options.normLength").value_or(0.0);
  rl::checkPolicyLossOptions(o);
  HX_CHECK_RANGE(o.klCoef == 0 || !c.refLogp.IsUndefined(),
                 "options.klCoef > 0 needs batch.refLogp (the reference log-probs)");
}

// Pin phase of a policy-loss call: raw views of the batch's arrays.
rl::PolicyLossBatch pinBatch(const LossCall& c) {
  rl::PolicyLossBatch x;
  x.B = c.B;
  x.T = c.T;
  const int64_t n = c.B * c.T;
  x.logp = sized<float>(c.logp, "batch.logp", n).data;
  x.oldLogp = sized<float>(c.oldLogp, "batch.oldLogp", n).data;
  const auto adv = napi::typedArray<float>(c.advantages, "batch.advantages");
  HX_CHECK_RANGE(static_cast<int64_t>(adv.size) == c.B || static_cast<int64_t>(adv.size) == n,
                 "batch.advantages has length ", adv.size, ", expected B = ", c.B, " (per sequence) or B*T = ", n,
                 " (per token)");
  x.advantages = adv.data;
  x.tokenAdvantages = static_cast<int64_t>(adv.size) == n && n != c.B;
  pinMask(c.mask, "batch.mask", n, &x.maskU8, &x.maskF32);
  if (!c.refLogp.IsUndefined()) x.refLogp = sized<float>(c.refLogp, "batch.refLogp", n).data;
  return x;
}

Napi::Object lossResult(Napi::Env env, const rl::PolicyLossStats& s, const Napi::Value& grad) {
  auto out = Napi::Object::New(env);
  out.Set("loss", s.loss);
  out.Set("pgLoss", s.pgLoss);
  out.Set("gradLogp", grad);
  out.Set("clipFraction", s.clipFraction);
  out.Set("approxKl", s.approxKl);
  if (s.hasKl) out.Set("kl", s.kl);
  return out;
}

// Zero-copy CPU tensors over the pinned arrays (for the tensor-level entry points); logp is cloned, as it takes a
// gradient.
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

// Read phase: the device named by the caller ("cpu", "cuda", "cuda:1"), checked against what this build can use.
at::Device readDevice(const Napi::Value& value) {
  if (value.IsUndefined()) return at::Device(at::kCPU);
  const auto obj = napi::object(value, "placement");
  napi::rejectUnknownKeys(obj, "placement", {"device"});
  const Napi::Value device = napi::field(obj, "device");
  if (device.IsUndefined()) return at::Device(at::kCPU);
  HX_CHECK_TYPE(device.IsString(), "placement.device must be a string such as 'cpu' or 'cuda:0'");
  const std::string name = device.As<Napi::String>().Utf8Value();
  if (name == "cpu") return at::Device(at::kCPU);
  HX_CHECK_RANGE(name.rfind("cuda", 0) == 0, "placement.device must be 'cpu' or 'cuda[:N]', got '", name, "'");
  HX_CHECK_RANGE(cudaAvailable(), "placement.device is '", name, "' but this build of hiexp sees no CUDA device");
  return at::Device(name);
}

// Forward and backward through libtorch autograd: `fused` picks the fused kernel's autograd function, otherwise the
// composed-ops formula. The gradient is copied into a new Float32Array.
Napi::Value autogradLoss(const Napi::CallbackInfo& info, bool fused) {
  LossCall c;
  readBatch(info[0], c);
  readLossOptions(info[1], c);
  const auto device = readDevice(info[2]);
  // Pin phase: no JavaScript until the gradient is copied out.
  const auto x = pinBatch(c);
  auto t = tensorsOf(x);
  if (!fused) {
    // The composed ops refuse what the fused kernel refuses (options, a non-finite value at a masked token) instead of
    // returning NaN, and, like it, ignore whatever the padding holds (NaN * 0 would still be NaN).
    rl::checkPolicyLossOptions(c.options);
    rl::checkFiniteInputs(x, c.options.klCoef > 0 && x.refLogp != nullptr);
    const auto live = t.mask > 0;
    const auto clean = [&](const at::Tensor& v) { return at::where(live, v, at::zeros_like(v)); };
    t.logp = clean(t.logp);
    t.oldLogp = clean(t.oldLogp);
    if (x.tokenAdvantages) t.advantages = clean(t.advantages);
    if (t.refLogp.defined()) t.refLogp = clean(t.refLogp);
  }
  for (auto* tensor : {&t.logp, &t.oldLogp, &t.advantages, &t.mask, &t.refLogp}) {
    if (tensor->defined()) *tensor = tensor->to(device);
  }
  t.logp.set_requires_grad(true);
  rl::PolicyLossStats stats;
  at::Tensor loss = fused ? rl::policyLoss(t.logp, t.oldLogp, t.advantages, t.mask, t.refLogp, c.options, &stats)
                          : rl::policyLossTorchOps(t.logp, t.oldLogp, t.advantages, t.mask, t.refLogp, c.options);
  loss.backward();
  const at::Tensor grad = t.logp.grad().cpu().contiguous();
  if (!fused) {
    stats.loss = loss.item<double>();
    stats.pgLoss = stats.loss;
  }
  auto out = Napi::Float32Array::New(info.Env(), static_cast<size_t>(x.B * x.T));
  std::memcpy(out.Data(), grad.data_ptr<float>(), out.ByteLength());
  return lossResult(info.Env(), stats, out);
}

Napi::Value policyLossAutograd(const Napi::CallbackInfo& info) { return autogradLoss(info, true); }
Napi::Value policyLossTorchOps(const Napi::CallbackInfo& info) { return autogradLoss(info, false); }

// Read phase of the optional third argument { out }: the caller's gradient buffer (reused across steps, it saves
// allocating and page-faulting B*T floats on every call), or undefined.
Napi::Value readOutput(const Napi::Value& value) {
  if (value.IsUndefined()) return value;
  const auto obj = napi::object(value, "output");
  napi::rejectUnknownKeys(obj, "output", {"out"});
  return napi::field(obj, "out");
}

bool overlaps(const void* a, size_t aBytes, const void* b, size_t bBytes) {
  const auto pa = reinterpret_cast<uintptr_t>(a), pb = reinterpret_cast<uintptr_t>(b);
  return a && b && pa < pb + bBytes && pb < pa + aBytes;
}

// The kernel reads every input while it writes the gradient, so the caller's buffer must not share memory with one.
void checkOutputDisjoint(const rl::PolicyLossBatch& x, const float* grad) {
  const size_t n = static_cast<size_t>(x.B * x.T), bytes = n * sizeof(float);
  const struct {
    const void* data;
    size_t bytes;
    const char* name;
  } inputs[] = {{x.logp, bytes, "batch.logp"},
                {x.oldLogp, bytes, "batch.oldLogp"},
                {x.advantages, (x.tokenAdvantages ? n : static_cast<size_t>(x.B)) * sizeof(float), "batch.advantages"},
                {x.maskU8, n, "batch.mask"},
                {x.maskF32, bytes, "batch.mask"},
                {x.refLogp, bytes, "batch.refLogp"}};
  for (const auto& in : inputs) {
    HX_CHECK_RANGE(!overlaps(grad, bytes, in.data, in.bytes), "output.out shares memory with ", in.name,
                   "; the gradient needs a buffer of its own");
  }
}

Napi::Value policyLoss(const Napi::CallbackInfo& info) {
  LossCall c;
  readBatch(info[0], c);
  readLossOptions(info[1], c);
  Napi::Value out = readOutput(info[2]);
  // Pin phase: no JavaScript from here to the return.
  const int64_t n = c.B * c.T;
  if (out.IsUndefined()) out = Napi::Float32Array::New(info.Env(), static_cast<size_t>(n));
  const auto x = pinBatch(c);
  float* grad = sized<float>(out, "output.out", n).data;
  checkOutputDisjoint(x, grad);
  const auto stats = rl::policyLossCpu(x, c.options, grad);
  return lossResult(info.Env(), stats, out);
}

// ---- advantages ------------------------------------------------------------------------------------------------

// A group-advantages call after the read phase.
struct AdvantageCall {
  Napi::Value rewards, groupIds, groupSize, tokenCounts;
  rl::AdvantageOptions options;
};

AdvantageCall readAdvantageCall(const Napi::CallbackInfo& info) {
  AdvantageCall c;
  c.rewards = info[0];
  const auto obj = napi::object(info[1], "options");
  napi::rejectUnknownKeys(obj, "options",
                          {"groupIds", "groupSize", "estimator", "normalizeStd", "eps", "zeroSingletons", "tokenCounts"});
  rl::AdvantageOptions& o = c.options;
  o.estimator = static_cast<rl::AdvantageEstimator>(napi::choiceValue(
      napi::field(obj, "estimator"), "options.estimator", {"grpo", "drgrpo", "rloo", "reinforce++-baseline"}, 0));
  const Napi::Value normalizeStd = napi::field(obj, "normalizeStd");
  if (!normalizeStd.IsUndefined() && o.estimator != rl::AdvantageEstimator::Grpo) {
    throwRange("options.normalizeStd applies to estimator 'grpo' only ('drgrpo' is grpo without it)");
  }
  o.normalizeStd = napi::optionalBoolValue(normalizeStd, "options.normalizeStd", true);
  o.eps = napi::optionalNumberValue(napi::field(obj, "eps"), "options.eps").value_or(1e-6);
  o.zeroSingletons = napi::optionalBoolValue(napi::field(obj, "zeroSingletons"), "options.zeroSingletons", false);
  rl::checkAdvantageOptions(o);
  c.tokenCounts = napi::field(obj, "tokenCounts");
  HX_CHECK_RANGE(c.tokenCounts.IsUndefined() || o.estimator == rl::AdvantageEstimator::ReinforcePlusPlusBaseline,
                 "options.tokenCounts applies to estimator 'reinforce++-baseline' only");
  c.groupIds = napi::field(obj, "groupIds");
  c.groupSize = napi::field(obj, "groupSize");
  HX_CHECK_TYPE(c.groupIds.IsUndefined() != c.groupSize.IsUndefined(),
                "options must give exactly one of groupIds (Int32Array) or groupSize (number)");
  return c;
}

// Pin phase of a group-advantages call: the rewards, the dense group of each (copied), the optional token counts.
struct PinnedAdvantages {
  Span<float> rewards;
  std::vector<int32_t> group;
  int64_t G = 0;
  const float* tokenCounts = nullptr;
};

PinnedAdvantages pinAdvantageCall(const AdvantageCall& c) {
  PinnedAdvantages p;
  p.rewards = napi::typedArray<float>(c.rewards, "rewards");
  const auto B = static_cast<int64_t>(p.rewards.size);
  HX_CHECK_RANGE(B >= 1, "rewards must hold at least one reward");
  if (!c.tokenCounts.IsUndefined()) p.tokenCounts = sized<float>(c.tokenCounts, "options.tokenCounts", B).data;
  p.group.resize(static_cast<size_t>(B));
  if (!c.groupIds.IsUndefined()) {
    const auto ids = sized<int32_t>(c.groupIds, "options.groupIds", B);
    p.G = rl::denseGroups(ids.data, B, p.group.data());
  } else {
    const int64_t size = napi::integerValue(c.groupSize, "options.groupSize", 1, B);  // a number: no JavaScript runs
    HX_CHECK_RANGE(B % size == 0, "rewards has length ", B, ", which is not a multiple of options.groupSize = ", size);
    for (int64_t i = 0; i < B; ++i) p.group[i] = static_cast<int32_t>(i / size);
    p.G = B / size;
  }
  return p;
}

Napi::Value groupAdvantages(const Napi::CallbackInfo& info) {
  const auto c = readAdvantageCall(info);
  // Pin phase: no JavaScript from here to the return (allocating the output runs none).
  const auto p = pinAdvantageCall(c);
  const auto B = static_cast<int64_t>(p.rewards.size);
  auto out = Napi::Float32Array::New(info.Env(), static_cast<size_t>(B));
  rl::groupAdvantagesCpu(p.rewards.data, p.group.data(), B, p.G, p.tokenCounts, c.options, out.Data());
  return out;
}

Napi::Value groupAdvantagesTorchOps(const Napi::CallbackInfo& info) {
  const auto c = readAdvantageCall(info);
  const auto p = pinAdvantageCall(c);
  const auto B = static_cast<int64_t>(p.rewards.size);
  for (int64_t i = 0; i < B; ++i) {
    HX_CHECK_RANGE(std::isfinite(p.rewards.data[i]), "rewards[", i, "] must be finite, got ", p.rewards.data[i]);
  }
  const auto rewards = at::from_blob(p.rewards.data, {B}, at::TensorOptions().dtype(at::kFloat));
  const auto group =
      at::from_blob(const_cast<int32_t*>(p.group.data()), {B}, at::TensorOptions().dtype(at::kInt)).to(at::kLong);
  const auto adv = rl::groupAdvantagesTorchOps(rewards, group, p.G, c.options).contiguous();
  auto out = Napi::Float32Array::New(info.Env(), static_cast<size_t>(B));
  std::memcpy(out.Data(), adv.data_ptr<float>(), out.ByteLength());
  return out;
}

Napi::Value broadcastAdvantages(const Napi::CallbackInfo& info) {
  const Napi::Value advantages = info[0], mask = info[1];
  const auto [B, T] = readShape(napi::object(info[2], "shape"));
  // Pin phase.
  const auto adv = napi::typedArray<float>(advantages, "advantages");
  HX_CHECK_RANGE(static_cast<int64_t>(adv.size) == B, "advantages has length ", adv.size, ", expected B = ", B);
  const uint8_t* u8 = nullptr;
  const float* f32 = nullptr;
  pinMask(mask, "mask", B * T, &u8, &f32);
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
