// JavaScript entry points of training: a trainer handle bound to a policy handle, RL and SFT steps, checkpoints.
#include "bindings.h"

#include "common/napi_args.h"
#include "common/napi_tensors.h"
#include "distributed/handles.h"
#include "model/handles.h"
#include "train/trainer.h"

namespace hiexp::napi {
template <>
struct HandleTag<train::Trainer> {
  static constexpr napi_type_tag tag{0x686965787054726eULL, 0x61696e6572303031ULL};
  static constexpr const char* name = "trainer";
};
}  // namespace hiexp::napi

namespace hiexp {
namespace {
using train::Trainer;

train::OptimizerOptions parseOptimizer(const Napi::Object& o) {
  const std::string owner = "optimizer";
  train::OptimizerOptions r;
  r.lr = napi::optionalNumber(o, "lr", owner).value_or(r.lr);
  r.beta1 = napi::optionalNumber(o, "beta1", owner).value_or(r.beta1);
  r.beta2 = napi::optionalNumber(o, "beta2", owner).value_or(r.beta2);
  r.eps = napi::optionalNumber(o, "eps", owner).value_or(r.eps);
  r.weightDecay = napi::optionalNumber(o, "weightDecay", owner).value_or(r.weightDecay);
  if (napi::has(o, "warmupSteps")) r.warmupSteps = napi::integer(o, "warmupSteps", owner, 0, 1ll << 40);
  r.schedule = napi::choice(o, "schedule", owner, {"constant", "cosine"}, 0) == 0 ? train::Schedule::Constant
                                                                                  : train::Schedule::Cosine;
  if (napi::has(o, "totalSteps")) r.totalSteps = napi::integer(o, "totalSteps", owner, 0, 1ll << 40);
  r.minLrRatio = napi::optionalNumber(o, "minLrRatio", owner).value_or(r.minLrRatio);
  r.maxGradNorm = napi::optionalNumber(o, "maxGradNorm", owner).value_or(r.maxGradNorm);
  if (napi::has(o, "microBatchSize")) r.microBatchSize = napi::integer(o, "microBatchSize", owner, 0, 1ll << 30);
  if (napi::has(o, "microBatchTokens")) r.microBatchTokens = napi::integer(o, "microBatchTokens", owner, 0, 1ll << 40);
  r.check();
  return r;
}

rl::PolicyLossOptions parseLoss(const Napi::Object& o) {
  const std::string owner = "loss";
  rl::PolicyLossOptions r;
  r.algorithm = napi::choice(o, "algorithm", owner, {"grpo", "gspo"}, 0) == 0 ? rl::Algorithm::Grpo : rl::Algorithm::Gspo;
  const bool gspo = r.algorithm == rl::Algorithm::Gspo;
  // The same defaults as hx.policyLoss (native/rl/bindings.cc): GSPO's sequence ratios need a far smaller clip range.
  r.clipLow = napi::optionalNumber(o, "clipLow", owner).value_or(gspo ? 3e-4 : 0.2);
  r.clipHigh = napi::optionalNumber(o, "clipHigh", owner).value_or(gspo ? 4e-4 : 0.2);
  r.dualClip = napi::optionalNumber(o, "dualClip", owner);
  static const rl::Aggregation aggs[] = {rl::Aggregation::TokenMean, rl::Aggregation::SeqMeanTokenMean,
                                         rl::Aggregation::SeqMeanTokenSum, rl::Aggregation::SeqMeanTokenSumNorm};
  r.aggregation = aggs[napi::choice(o, "aggregation", owner,
                                    {"token-mean", "seq-mean-token-mean", "seq-mean-token-sum", "seq-mean-token-sum-norm"},
                                    gspo ? 1 : 0)];
  r.klCoef = napi::optionalNumber(o, "klCoef", owner).value_or(0.0);
  static const rl::KlEstimator kls[] = {rl::KlEstimator::K1, rl::KlEstimator::K2, rl::KlEstimator::K3};
  r.klEstimator = kls[napi::choice(o, "klEstimator", owner, {"k1", "k2", "k3"}, 2)];
  r.normLength = napi::optionalNumber(o, "normLength", owner).value_or(0.0);
  return r;
}

int64_t dim(const Napi::Object& o, const char* key) { return napi::integer(o, key, "batch", 1, 1ll << 31); }


// Float32Array or Uint8Array of `n` values, copied (the step runs on the libuv pool, after JavaScript may have
// detached or changed the array); finite values only, checked on the copy.
at::Tensor floats(const Napi::Value& v, int64_t n, const std::string& name, bool allowU8) {
  at::Tensor t;
  if (allowU8 && napi::isTypedArrayOf(v, napi_uint8_array)) {
    auto s = napi::typedArray<uint8_t>(v, name);
    HX_CHECK_RANGE(static_cast<int64_t>(s.size) == n, name, " must hold ", n, " values, got ", s.size);
    return at::from_blob(s.data, {n}, at::kByte).to(at::kFloat);
  }
  if (!napi::isTypedArrayOf(v, napi_float32_array))
    throwType(name, " must be a Float32Array", allowU8 ? " or Uint8Array" : "", ", got ", napi::describe(v));
  auto s = napi::typedArray<float>(v, name);
  HX_CHECK_RANGE(static_cast<int64_t>(s.size) == n, name, " must hold ", n, " values, got ", s.size);
  t = at::from_blob(s.data, {n}, at::kFloat).clone();
  HX_CHECK_RANGE(t.isfinite().all().item<bool>(), name, " holds a NaN or infinite value");
  return t;
}

Napi::Value statsToJs(Napi::Env env, const train::StepStats& s) {
  auto o = Napi::Object::New(env);
  o.Set("loss", s.loss);
  o.Set("pgLoss", s.pgLoss);
  o.Set("gradNorm", s.gradNorm);
  o.Set("clipFraction", s.clipFraction);
  o.Set("approxKl", s.approxKl);
  if (s.hasKl) o.Set("kl", s.kl);
  o.Set("entropy", s.entropy);
  o.Set("lr", s.lr);
  o.Set("step", static_cast<double>(s.step));
  o.Set("tokens", static_cast<double>(s.tokens));
  o.Set("skipped", s.skipped);
  return o;
}

std::string str(const Napi::Value& v, const std::string& name) {
  if (!v.IsString()) throwType(name, " must be a string, got ", napi::describe(v));
  return v.As<Napi::String>().Utf8Value();
}

// trainerCreate(policy, optimizer) -> handle
Napi::Value trainerCreate(const Napi::CallbackInfo& info) {
  auto core = napi::unwrapHandle<model::PolicyCore>(info[0], "policy");
  auto opts = parseOptimizer(napi::object(info[1], "optimizer"));
  return napi::wrapHandle(info.Env(), std::make_shared<Trainer>(core, opts));
}

Napi::Value trainerSetOptions(const Napi::CallbackInfo& info) {
  auto t = napi::unwrapHandle<Trainer>(info[0], "trainer");
  t->setOptions(parseOptimizer(napi::object(info[1], "optimizer")));
  return info.Env().Undefined();
}

Napi::Value trainerStep(const Napi::CallbackInfo& info) {
  auto t = napi::unwrapHandle<Trainer>(info[0], "trainer");
  return Napi::Number::New(info.Env(), static_cast<double>(t->step()));
}

// trainerRlStep(trainer, { tokens, mask, advantages, oldLogp?, refLogp?, B, T }, loss) -> Promise<stats>
Napi::Value trainerRlStep(const Napi::CallbackInfo& info) {
  // Read phase: every field once (getters run here), every option checked; then the arrays are copied, with no
  // JavaScript between reading an array's pointer and copying it. The step runs on the libuv pool on the copies.
  auto t = napi::unwrapHandle<Trainer>(info[0], "trainer");
  auto b = napi::object(info[1], "batch");
  const int64_t B = dim(b, "B"), T = dim(b, "T");
  const Napi::Value tokens = napi::field(b, "tokens"), mask = napi::field(b, "mask"),
                    advantages = napi::field(b, "advantages"), oldLogp = napi::field(b, "oldLogp"),
                    refLogp = napi::field(b, "refLogp");
  auto loss = parseLoss(napi::object(info[2], "loss"));
  rl::checkPolicyLossOptions(loss);
  // Copy phase.
  train::RlBatch batch;
  batch.tokens = napi::tokenBatch(tokens, B, T, t->vocabSize(), "batch.tokens");
  batch.mask = floats(mask, B * T, "batch.mask", true).view({B, T});
  const bool isF32 = napi::isTypedArrayOf(advantages, napi_float32_array);
  const int64_t nAdv = isF32 ? napi::typedArray<float>(advantages, "batch.advantages").size : 0;
  HX_CHECK_RANGE(nAdv == B || nAdv == B * T || !isF32, "batch.advantages must hold B (", B, ") or B*T (", B * T,
                 ") values, got ", nAdv);
  batch.advantages = floats(advantages, nAdv == B * T ? B * T : B, "batch.advantages", false);
  if (nAdv == B * T) batch.advantages = batch.advantages.view({B, T});
  if (!oldLogp.IsUndefined()) batch.oldLogp = floats(oldLogp, B * T, "batch.oldLogp", false).view({B, T});
  if (!refLogp.IsUndefined()) batch.refLogp = floats(refLogp, B * T, "batch.refLogp", false).view({B, T});
  return napi::runAsync<train::StepStats>(
      info.Env(), [t, batch, loss] { return t->rlStep(batch, loss); },
      [](Napi::Env env, train::StepStats& s) { return statsToJs(env, s); });
}

// trainerSftStep(trainer, { tokens, mask, B, T }) -> Promise<stats>
Napi::Value trainerSftStep(const Napi::CallbackInfo& info) {
  auto t = napi::unwrapHandle<Trainer>(info[0], "trainer");
  auto b = napi::object(info[1], "batch");
  const int64_t B = dim(b, "B"), T = dim(b, "T");
  const Napi::Value tokensValue = napi::field(b, "tokens"), maskValue = napi::field(b, "mask");
  at::Tensor tokens = napi::tokenBatch(tokensValue, B, T, t->vocabSize(), "batch.tokens");
  at::Tensor mask = floats(maskValue, B * T, "batch.mask", true).view({B, T});
  return napi::runAsync<train::StepStats>(
      info.Env(), [t, tokens, mask] { return t->sftStep(tokens, mask); },
      [](Napi::Env env, train::StepStats& s) { return statsToJs(env, s); });
}

Napi::Value trainerResetReference(const Napi::CallbackInfo& info) {
  auto t = napi::unwrapHandle<Trainer>(info[0], "trainer");
  return napi::runAsync<bool>(
      info.Env(), [t] { t->resetReference(); return true; },
      [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
}

// trainerSetProcessGroup(trainer, group | null): data-parallel steps over the group's ranks (native/distributed).
Napi::Value trainerSetProcessGroup(const Napi::CallbackInfo& info) {
  auto t = napi::unwrapHandle<Trainer>(info[0], "trainer");
  t->setProcessGroup(info[1].IsNull() || info[1].IsUndefined() ? nullptr : napi::unwrapHandle<dist::Group>(info[1], "group"));
  return info.Env().Undefined();
}

// trainerSave(trainer, dir) / trainerLoadState(trainer, dir) -> Promise<void>
Napi::Value trainerSave(const Napi::CallbackInfo& info) {
  auto t = napi::unwrapHandle<Trainer>(info[0], "trainer");
  const std::string dir = str(info[1], "dir");
  return napi::runAsync<bool>(
      info.Env(), [t, dir] { t->saveCheckpoint(dir); return true; },
      [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
}

Napi::Value trainerLoadState(const Napi::CallbackInfo& info) {
  auto t = napi::unwrapHandle<Trainer>(info[0], "trainer");
  const std::string dir = str(info[1], "dir");
  return napi::runAsync<bool>(
      info.Env(), [t, dir] { t->loadState(dir); return true; },
      [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
}

}  // namespace

void registerTrain(Napi::Env env, Napi::Object exports) {
  napi::exportFunction(env, exports, "trainerCreate", trainerCreate);
  napi::exportFunction(env, exports, "trainerSetOptions", trainerSetOptions);
  napi::exportFunction(env, exports, "trainerStep", trainerStep);
  napi::exportFunction(env, exports, "trainerRlStep", trainerRlStep);
  napi::exportFunction(env, exports, "trainerSftStep", trainerSftStep);
  napi::exportFunction(env, exports, "trainerResetReference", trainerResetReference);
  napi::exportFunction(env, exports, "trainerSetProcessGroup", trainerSetProcessGroup);
  napi::exportFunction(env, exports, "trainerSave", trainerSave);
  napi::exportFunction(env, exports, "trainerLoadState", trainerLoadState);
}

}  // namespace hiexp
