// JavaScript entry points of the policy model: create / load / save, logits, scoring, step-wise generation.
// Each entry point is a named function below, registered at the end. The order inside each is fixed: every option
// object is read (getters run JavaScript, which could detach or shrink an array) and validated first; only then are
// typed-array pointers taken, and their contents copied before any more JavaScript can run. The async work sees only
// those copies, never JavaScript memory.
#include "bindings.h"

#include <chrono>
#include <cstring>

#include "common/napi_args.h"
#include "common/napi_tensors.h"
#include "common/runtime.h"
#include "model/decode_loop.h"
#include "model/generation.h"
#include "model/handles.h"
#include "model/policy_core.h"
#include "model/safetensors.h"


namespace hiexp {
namespace {
using model::PolicyCore;
using model::Qwen2;

at::Device parseDevice(const std::string& s) {
  if (s == "cpu") return at::Device(at::kCPU);
  HX_CHECK_RANGE(s.rfind("cuda", 0) == 0, "device must be 'cpu', 'cuda' or 'cuda:N', got '", s, "'");
  HX_CHECK_RANGE(cudaAvailable(), "device '", s, "' was asked for but this addon sees no CUDA device");
  return at::Device(s);
}

at::ScalarType parseDtype(size_t i) {
  static const at::ScalarType types[] = {at::kFloat, at::kBFloat16, at::kHalf};
  return types[i];
}

model::Qwen2Config parseConfig(const Napi::Object& o) {
  const std::string owner = "config";
  model::Qwen2Config c;
  c.vocabSize = napi::integer(o, "vocabSize", owner, 1, 1 << 24);
  c.hiddenSize = napi::integer(o, "hiddenSize", owner, 1, 1 << 20);
  c.intermediateSize = napi::integer(o, "intermediateSize", owner, 1, 1 << 22);
  c.numLayers = napi::integer(o, "numLayers", owner, 1, 4096);
  c.numHeads = napi::integer(o, "numHeads", owner, 1, 4096);
  c.numKvHeads = napi::integer(o, "numKvHeads", owner, 1, 4096);
  c.headDim = napi::integer(o, "headDim", owner, 2, 1 << 16);
  c.rmsNormEps = napi::number(o, "rmsNormEps", owner);
  c.ropeTheta = napi::number(o, "ropeTheta", owner);
  c.tieWordEmbeddings = napi::optionalBool(o, "tieWordEmbeddings", false, owner);
  c.initializerRange = napi::optionalNumber(o, "initializerRange", owner).value_or(0.02);
  return c;
}

std::string str(const Napi::Value& v, const std::string& name) {
  if (!v.IsString()) throwType(name, " must be a string, got ", napi::describe(v));
  return v.As<Napi::String>().Utf8Value();
}


int64_t dim(const Napi::Value& v, const char* name) {
  if (!v.IsNumber()) throwType(name, " must be a number, got ", napi::describe(v));
  double x = v.As<Napi::Number>().DoubleValue();
  HX_CHECK_RANGE(x >= 1 && x == std::floor(x) && x < (1ll << 31), name, " must be a positive integer, got ", x);
  return static_cast<int64_t>(x);
}

Napi::Float32Array toFloat32(Napi::Env env, const at::Tensor& t) {
  at::Tensor c = t.detach().to(at::kCPU, at::kFloat).contiguous();
  auto out = Napi::Float32Array::New(env, c.numel());
  std::memcpy(out.Data(), c.data_ptr<float>(), c.numel() * sizeof(float));
  return out;
}

Napi::Object sampledToJs(Napi::Env env, const model::Sampled& s) {
  auto out = Napi::Object::New(env);
  auto tokens = Napi::Int32Array::New(env, s.tokens.numel());
  for (size_t i = 0; i < static_cast<size_t>(s.tokens.numel()); ++i)
    tokens[i] = static_cast<int32_t>(s.tokens.data_ptr<int64_t>()[i]);
  out.Set("tokens", tokens);
  out.Set("logprobs", toFloat32(env, s.logp));
  return out;
}

// [B, T, V] logits, chunked over rows so that the vocabulary-sized intermediate stays bounded.
at::Tensor rightPaddedHidden(const Qwen2& m, const at::Tensor& ids) {
  const int64_t B = ids.size(0), T = ids.size(1);
  at::Tensor pos = at::arange(T, at::TensorOptions().dtype(at::kLong).device(m.device())).unsqueeze(0).expand({B, T});
  return m.hidden(ids.to(m.device()), pos, at::Tensor(), nullptr);
}

model::SamplingOptions parseSampling(const Napi::Object& opts) {
  model::SamplingOptions sampling;
  sampling.temperature = napi::optionalNumber(opts, "temperature", "options").value_or(1.0);
  sampling.topP = napi::optionalNumber(opts, "topP", "options").value_or(1.0);
  sampling.topK = napi::has(opts, "topK") ? napi::integer(opts, "topK", "options", 0, 1 << 24) : 0;
  sampling.check();
  return sampling;
}

std::vector<std::vector<int64_t>> splitSequences(const napi::Span<int32_t>& ids, const napi::Span<int32_t>& lengths) {
  std::vector<std::vector<int64_t>> seqs;
  size_t at = 0;
  for (size_t b = 0; b < lengths.size; ++b) {
    HX_CHECK_RANGE(lengths.data[b] >= 0 && at + lengths.data[b] <= ids.size, "lengths[", b, "] = ", lengths.data[b],
                   " runs past the end of ids (", ids.size, ")");
    seqs.emplace_back(ids.data + at, ids.data + at + lengths.data[b]);
    at += lengths.data[b];
  }
  HX_CHECK_RANGE(at == ids.size, "lengths sum to ", at, " but ids holds ", ids.size);
  return seqs;
}

// policyCreate(config, { device, dtype, seed? }) -> Promise<handle>: random init when seed is given, else zeros to be
// loaded. Async: allocating (and drawing) a multi-billion-parameter model takes seconds.
Napi::Value policyCreate(const Napi::CallbackInfo& info) {
  auto config = parseConfig(napi::object(info[0], "config"));
  config.check();
  auto opts = napi::object(info[1], "options");
  const std::string device = napi::has(opts, "device") ? str(opts.Get("device"), "options.device") : "cpu";
  const auto dtype = parseDtype(napi::choice(opts, "dtype", "options", {"float32", "bfloat16", "float16"}, 0));
  const at::Device dev = parseDevice(device);
  std::optional<uint64_t> seed;
  if (napi::has(opts, "seed")) seed = static_cast<uint64_t>(napi::integer(opts, "seed", "options", 0, (1ll << 53)));
  using Ptr = std::shared_ptr<PolicyCore>;
  return napi::runAsync<Ptr>(
      info.Env(),
      [config, dev, dtype, seed] {
        auto core = std::make_shared<PolicyCore>();
        core->model = std::make_shared<Qwen2>(config, dev, dtype);
        if (seed) {
          core->model->initRandom(*seed);
          core->rng = model::Rng(*seed ^ 0x9e3779b97f4a7c15ULL);
        }
        return core;
      },
      [](Napi::Env env, Ptr& core) -> Napi::Value { return napi::wrapHandle(env, core); });
}

// policyParameters(handle) -> [{ name, shape }] in Hugging Face order.
Napi::Value policyParameters(const Napi::CallbackInfo& info) {
  auto core = napi::unwrapHandle<PolicyCore>(info[0], "policy");
  auto params = core->model->expectedParameters();
  auto out = Napi::Array::New(info.Env(), params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    auto o = Napi::Object::New(info.Env());
    o.Set("name", params[i].first);
    auto shape = Napi::Array::New(info.Env(), params[i].second.size());
    for (size_t d = 0; d < params[i].second.size(); ++d) shape.Set(d, static_cast<double>(params[i].second[d]));
    o.Set("shape", shape);
    out.Set(i, o);
  }
  return out;
}

std::vector<std::string> stringArray(const Napi::Value& v, const std::string& name) {
  if (!v.IsArray()) throwType(name, " must be an array of strings, got ", napi::describe(v));
  auto arr = v.As<Napi::Array>();
  std::vector<std::string> out;
  for (uint32_t i = 0; i < arr.Length(); ++i) out.push_back(str(arr.Get(i), name + "[" + std::to_string(i) + "]"));
  return out;
}

// policyLoad(handle, files: string[]) -> Promise<string[] ignored tensor names>. Every parameter must be found.
Napi::Value policyLoad(const Napi::CallbackInfo& info) {
  auto core = napi::unwrapHandle<PolicyCore>(info[0], "policy");
  const std::vector<std::string> files = stringArray(info[1], "files");
  return napi::runAsync<std::vector<std::string>>(
      info.Env(),
      [core, files] {
        std::lock_guard<std::mutex> lock(core->model->mutex());
        std::vector<std::string> ignored;
        for (const auto& f : files) {
          auto file = model::readSafetensors(f);
          model::checkFinite(file, f);
          auto skip = core->model->loadTensors(file.tensors);
          ignored.insert(ignored.end(), skip.begin(), skip.end());
        }
        core->model->finishLoad();
        return ignored;
      },
      [](Napi::Env env, std::vector<std::string>& ignored) -> Napi::Value {
        auto out = Napi::Array::New(env, ignored.size());
        for (size_t i = 0; i < ignored.size(); ++i) out.Set(i, ignored[i]);
        return out;
      });
}

// policySave(handle, path, names?: string[]) -> Promise<void>: the named parameters (all by default) to one file.
Napi::Value policySave(const Napi::CallbackInfo& info) {
  auto core = napi::unwrapHandle<PolicyCore>(info[0], "policy");
  const std::string path = str(info[1], "path");
  const bool subset = info.Length() > 2 && info[2].IsArray();
  const std::vector<std::string> names = subset ? stringArray(info[2], "names") : std::vector<std::string>{};
  return napi::runAsync<bool>(
      info.Env(),
      [core, path, names, subset] {
        std::lock_guard<std::mutex> lock(core->model->mutex());
        auto all = core->model->namedParameters();
        std::vector<std::pair<std::string, at::Tensor>> chosen;
        if (!subset) chosen = all;
        for (const auto& n : names) {
          auto it = std::find_if(all.begin(), all.end(), [&](const auto& p) { return p.first == n; });
          HX_CHECK_RANGE(it != all.end(), "names holds '", n, "', which is not a parameter of this model");
          chosen.push_back(*it);
        }
        model::writeSafetensors(path, chosen, {{"format", "pt"}});
        return true;
      },
      [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
}

// policyLogits(handle, ids: Int32Array, B, T) -> Promise<Float32Array B*T*V>: a right-padded batch (tests, parity).
Napi::Value policyLogits(const Napi::CallbackInfo& info) {
  auto core = napi::unwrapHandle<PolicyCore>(info[0], "policy");
  const int64_t B = dim(info[2], "B"), T = dim(info[3], "T");
  const at::Tensor ids = napi::tokenBatch(info[1], B, T, core->model->config().vocabSize, "ids");  // a copy
  return napi::runAsync<at::Tensor>(
      info.Env(),
      [core, ids] {
        at::NoGradGuard noGrad;
        std::lock_guard<std::mutex> lock(core->model->mutex());
        return core->model->lmHead(rightPaddedHidden(*core->model, ids)).to(at::kFloat);
      },
      [](Napi::Env env, at::Tensor& t) -> Napi::Value { return toFloat32(env, t); });
}

// policyScore(handle, ids, B, T, { entropy?, microBatchSize? }) -> Promise<{ logprobs, entropy? }> (B*T each):
// logprobs[b*T + t] = log p(ids[b, t] | ids[b, <t]) for t >= 1, 0 at t = 0.
Napi::Value policyScore(const Napi::CallbackInfo& info) {
  auto core = napi::unwrapHandle<PolicyCore>(info[0], "policy");
  const int64_t B = dim(info[2], "B"), T = dim(info[3], "T");
  auto opts = info.Length() > 4 && !info[4].IsUndefined() ? napi::object(info[4], "options") : Napi::Object::New(info.Env());
  const bool wantEntropy = napi::optionalBool(opts, "entropy", false, "options");
  const int64_t micro = napi::has(opts, "microBatchSize") ? napi::integer(opts, "microBatchSize", "options", 1, 1 << 20) : B;
  const at::Tensor ids = napi::tokenBatch(info[1], B, T, core->model->config().vocabSize, "ids");  // after the options
  using Pair = std::pair<at::Tensor, at::Tensor>;
  return napi::runAsync<Pair>(
      info.Env(),
      [core, ids, wantEntropy, micro, B] {
        at::NoGradGuard noGrad;
        std::lock_guard<std::mutex> lock(core->model->mutex());
        std::vector<at::Tensor> lps, ents;
        for (int64_t b0 = 0; b0 < B; b0 += micro) {
          const int64_t n = std::min(micro, B - b0);
          at::Tensor chunk = ids.narrow(0, b0, n).to(core->model->device());
          at::Tensor logits = core->model->lmHead(rightPaddedHidden(*core->model, chunk));
          auto [lp, ent] = model::tokenLogprobs(logits, chunk, wantEntropy);
          lps.push_back(lp.to(at::kCPU));
          if (wantEntropy) ents.push_back(ent.to(at::kCPU));
        }
        return Pair{at::cat(lps, 0), wantEntropy ? at::cat(ents, 0) : at::Tensor()};
      },
      [](Napi::Env env, Pair& r) -> Napi::Value {
        auto out = Napi::Object::New(env);
        out.Set("logprobs", toFloat32(env, r.first));
        if (r.second.defined()) out.Set("entropy", toFloat32(env, r.second));
        return out;
      });
}

// The options generateStart and generateResume share, read (and their getters run) before any array is touched.
struct GenerationOptions {
  int64_t maxNewTokens = 0;
  model::SamplingOptions sampling;
  std::optional<uint64_t> seed;
  bool sharePrompts = true;
};
GenerationOptions parseGenerationOptions(const Napi::Value& v) {
  auto opts = napi::object(v, "options");
  GenerationOptions g;
  g.maxNewTokens = napi::integer(opts, "maxNewTokens", "options", 1, 1 << 20);
  g.sampling = parseSampling(opts);
  if (napi::has(opts, "seed")) g.seed = static_cast<uint64_t>(napi::integer(opts, "seed", "options", 0, (1ll << 53)));
  g.sharePrompts = napi::optionalBool(opts, "sharePrompts", true, "options");
  return g;
}

model::Rng sessionRng(const GenerationOptions& g, PolicyCore& core) {
  if (g.seed) return model::Rng(*g.seed);
  std::lock_guard<std::mutex> lock(core.rngMutex);
  return model::Rng(core.rng.next());
}

using Started = std::pair<std::shared_ptr<model::GenerationSession>, model::Sampled>;
Napi::Value startedToJs(Napi::Env env, Started& r) {
  auto out = sampledToJs(env, r.second);
  out.Set("session", napi::wrapHandle(env, r.first));
  return out;
}

// generateStart(handle, ids: Int32Array (concatenated), lengths: Int32Array, { maxNewTokens, temperature, topP,
// topK, seed? }) -> Promise<{ session, tokens: Int32Array(B), logprobs: Float32Array(B) }>
Napi::Value generateStart(const Napi::CallbackInfo& info) {
  auto core = napi::unwrapHandle<PolicyCore>(info[0], "policy");
  const GenerationOptions g = parseGenerationOptions(info[3]);
  const auto seqs = splitSequences(napi::typedArray<int32_t>(info[1], "ids"), napi::typedArray<int32_t>(info[2], "lengths"));
  auto session = std::make_shared<model::GenerationSession>();
  session->model = core->model;
  session->sampling = g.sampling;
  session->rng = sessionRng(g, *core);
  const int64_t maxNew = g.maxNewTokens;
  const bool share = g.sharePrompts;
  return napi::runAsync<Started>(
      info.Env(),
      [session, seqs, maxNew, share] {
        std::lock_guard<std::mutex> lock(session->model->mutex());
        return Started{session, model::startGeneration(*session, seqs, maxNew, share)};
      },
      startedToJs);
}

// generateResume(prevSession, from: Int32Array, ids, lengths, options, policy) -> like generateStart, each row
// continuing the parked row from[i] of prevSession with the suffix tokens ids[...lengths[i]] (its last sampled token
// first).
Napi::Value generateResume(const Napi::CallbackInfo& info) {
  auto prev = napi::unwrapHandle<model::GenerationSession>(info[0], "session");
  const GenerationOptions g = parseGenerationOptions(info[4]);
  std::shared_ptr<PolicyCore> core;
  if (!g.seed) core = napi::unwrapHandle<PolicyCore>(info[5], "policy");
  auto from = napi::typedArray<int32_t>(info[1], "from");
  const std::vector<int64_t> rows(from.data, from.data + from.size);
  auto lengths = napi::typedArray<int32_t>(info[3], "lengths");
  HX_CHECK_RANGE(from.size == lengths.size, "from and lengths must have the same length (", from.size, " vs ",
                 lengths.size, ")");
  const auto seqs = splitSequences(napi::typedArray<int32_t>(info[2], "ids"), lengths);
  auto session = std::make_shared<model::GenerationSession>();
  session->model = prev->model;
  session->sampling = g.sampling;
  session->rng = g.seed ? model::Rng(*g.seed) : sessionRng(g, *core);
  const int64_t maxNew = g.maxNewTokens;
  return napi::runAsync<Started>(
      info.Env(),
      [session, prev, rows, seqs, maxNew] {
        std::lock_guard<std::mutex> lock(session->model->mutex());
        return Started{session, model::resumeGeneration(*session, *prev, rows, seqs, maxNew)};
      },
      startedToJs);
}

// generateStep(session, keep?: Int32Array, park?: boolean) -> Promise<{ tokens, logprobs }> for the rows kept (all
// by default); with park, the dropped rows' caches are kept for generateResume.
Napi::Value generateStep(const Napi::CallbackInfo& info) {
  auto session = napi::unwrapHandle<model::GenerationSession>(info[0], "session");
  const bool park = info.Length() > 2 && info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
  std::optional<std::vector<int64_t>> keep;
  if (info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsNull()) {
    auto k = napi::typedArray<int32_t>(info[1], "keep");
    keep.emplace(k.data, k.data + k.size);
  }
  return napi::runAsync<model::Sampled>(
      info.Env(),
      [session, keep, park] {
        std::lock_guard<std::mutex> lock(session->model->mutex());
        return model::stepGeneration(*session, keep ? &*keep : nullptr, park);
      },
      [](Napi::Env env, model::Sampled& s) -> Napi::Value { return sampledToJs(env, s); });
}

// policySetPieces(handle, bytes: Uint8Array, offsets: Int32Array(V + 1)): token id v's text piece is
// bytes[offsets[v], offsets[v + 1]), UTF-8. Stop strings of generateDecode are matched on these pieces.
Napi::Value policySetPieces(const Napi::CallbackInfo& info) {
  auto core = napi::unwrapHandle<PolicyCore>(info[0], "policy");
  auto bytes = napi::typedArray<uint8_t>(info[1], "bytes");
  auto offsets = napi::typedArray<int32_t>(info[2], "offsets");
  const int64_t V = core->model->config().vocabSize;
  HX_CHECK_RANGE(static_cast<int64_t>(offsets.size) == V + 1, "offsets must hold vocabSize + 1 = ", V + 1,
                 " entries, got ", offsets.size);
  auto pieces = std::make_shared<std::vector<std::string>>();
  pieces->reserve(static_cast<size_t>(V));
  for (int64_t v = 0; v < V; ++v) {
    const int32_t a = offsets.data[v], b = offsets.data[v + 1];
    HX_CHECK_RANGE(a >= 0 && a <= b && static_cast<size_t>(b) <= bytes.size, "offsets[", v, "..", v + 1, "] = ", a,
                   "..", b, " must be ascending and within bytes (", bytes.size, ")");
    pieces->emplace_back(reinterpret_cast<const char*>(bytes.data) + a, static_cast<size_t>(b - a));
  }
  std::lock_guard<std::mutex> lock(core->piecesMutex);
  core->pieces = std::move(pieces);
  return info.Env().Undefined();
}

// generateDecode(session, policy, { stops: string[], eosIds: Int32Array, maxNewTokens, window, park? }) ->
// Promise<{ tokens: Int32Array, logprobs: Float32Array, lengths: Int32Array, finish: Int32Array, stop: Int32Array }>:
// the rest of the turn of every row of a session just started or resumed (its first token already sampled), run
// natively; row b's tokens are tokens[sum(lengths[<b]) …]; finish 0 = length, 1 = EOS, 2 = stop string stop[b].
Napi::Value generateDecode(const Napi::CallbackInfo& info) {
  auto session = napi::unwrapHandle<model::GenerationSession>(info[0], "session");
  auto core = napi::unwrapHandle<PolicyCore>(info[1], "policy");
  auto opts = napi::object(info[2], "options");
  model::StopRules rules;
  rules.maxNewTokens = napi::integer(opts, "maxNewTokens", "options", 1, 1 << 20);
  rules.window = napi::has(opts, "window") ? napi::integer(opts, "window", "options", 0, 1 << 16) : 0;
  const bool park = napi::optionalBool(opts, "park", false, "options");
  if (napi::has(opts, "stops")) rules.stops = stringArray(opts.Get("stops"), "options.stops");
  for (size_t k = 0; k < rules.stops.size(); ++k)
    HX_CHECK_RANGE(!rules.stops[k].empty(), "options.stops[", k, "] is empty");
  HX_CHECK_RANGE(rules.stops.empty() || rules.window >= 1, "options.window must be at least 1 with stop strings");
  if (napi::has(opts, "eosIds")) {
    auto eos = napi::typedArray<int32_t>(opts.Get("eosIds"), "options.eosIds");
    rules.eosIds.assign(eos.data, eos.data + eos.size);
  }
  std::shared_ptr<const std::vector<std::string>> pieces;
  {
    std::lock_guard<std::mutex> lock(core->piecesMutex);
    pieces = core->pieces;
  }
  HX_CHECK_RANGE(rules.stops.empty() || pieces, "options.stops needs the policy's token pieces (policySetPieces)");
  static const std::vector<std::string> none;
  using Rows = std::vector<model::DecodedRow>;
  return napi::runAsync<Rows>(
      info.Env(),
      [session, pieces, rules, park] {
        std::lock_guard<std::mutex> lock(session->model->mutex());
        return model::decodeUntil(*session, pieces ? *pieces : none, rules, park);
      },
      [](Napi::Env env, Rows& rows) -> Napi::Value {
        size_t total = 0;
        for (const auto& r : rows) total += r.tokens.size();
        auto tokens = Napi::Int32Array::New(env, total);
        auto logprobs = Napi::Float32Array::New(env, total);
        auto lengths = Napi::Int32Array::New(env, rows.size());
        auto finish = Napi::Int32Array::New(env, rows.size());
        auto stop = Napi::Int32Array::New(env, rows.size());
        size_t at = 0;
        for (size_t b = 0; b < rows.size(); ++b) {
          const auto& r = rows[b];
          std::copy(r.tokens.begin(), r.tokens.end(), tokens.Data() + at);
          std::copy(r.logprobs.begin(), r.logprobs.end(), logprobs.Data() + at);
          at += r.tokens.size();
          lengths[b] = static_cast<int32_t>(r.tokens.size());
          finish[b] = static_cast<int32_t>(r.finish);
          stop[b] = r.stop;
        }
        auto out = Napi::Object::New(env);
        out.Set("tokens", tokens);
        out.Set("logprobs", logprobs);
        out.Set("lengths", lengths);
        out.Set("finish", finish);
        out.Set("stop", stop);
        return out;
      });
}

// policyPackedBound(handle, ids: Int32Array (concatenated), lengths: Int32Array) -> Promise<{ forwardMs,
// forwardBackwardMs, logprobs }>: one forward of the sequences packed without padding (no grad), then one
// forward+backward of the same tokens (the sum of their log-probs as the loss; gradients dropped after).
// bench/rl_step.ts's bound. logprobs (N): the packed forward's log-prob of each token given the tokens before it in its
// own sequence (0 at each sequence's first token), for checking the packing against policyScore.
Napi::Value policyPackedBound(const Napi::CallbackInfo& info) {
  auto core = napi::unwrapHandle<PolicyCore>(info[0], "policy");
  const auto seqs = splitSequences(napi::typedArray<int32_t>(info[1], "ids"), napi::typedArray<int32_t>(info[2], "lengths"));
  HX_CHECK_RANGE(!seqs.empty(), "lengths must name at least one sequence");
  std::vector<int64_t> lengths, flat;
  for (const auto& s : seqs) {
    HX_CHECK_RANGE(!s.empty(), "every packed sequence needs at least one token");
    for (int64_t t : s)
      HX_CHECK_RANGE(t >= 0 && t < core->model->config().vocabSize, "ids holds token id ", t, " outside the vocabulary");
    lengths.push_back(static_cast<int64_t>(s.size()));
    flat.insert(flat.end(), s.begin(), s.end());
  }
  struct Times {
    double forward, forwardBackward;
    at::Tensor logprobs;
  };
  return napi::runAsync<Times>(
      info.Env(),
      [core, lengths, flat] {
        Qwen2& m = *core->model;
        std::lock_guard<std::mutex> lock(m.mutex());
        at::Tensor ids = at::tensor(flat, at::kLong).to(m.device());
        auto logprobs = [&] {
          at::Tensor logits = m.lmHead(m.hiddenPacked(lengths, ids));
          return model::tokenLogprobs(logits, ids.unsqueeze(0), false).first.squeeze(0);
        };
        using Clock = std::chrono::steady_clock;
        auto t0 = Clock::now();
        at::Tensor lp;
        {
          at::NoGradGuard noGrad;
          lp = logprobs();
          lp.sum().item<double>();
        }
        auto t1 = Clock::now();
        m.setRequiresGrad(true);
        logprobs().sum().backward();
        for (const auto& p : m.parameters()) const_cast<at::Tensor&>(p).mutable_grad() = at::Tensor();
        m.setRequiresGrad(false);
        auto t2 = Clock::now();
        // A sequence's first token is predicted across the boundary from the previous one: not a log-prob of its own.
        int64_t at0 = 0;
        for (int64_t L : lengths) {
          lp[at0] = 0;
          at0 += L;
        }
        return Times{std::chrono::duration<double, std::milli>(t1 - t0).count(),
                     std::chrono::duration<double, std::milli>(t2 - t1).count(), lp};
      },
      [](Napi::Env env, Times& t) -> Napi::Value {
        auto out = Napi::Object::New(env);
        out.Set("forwardMs", t.forward);
        out.Set("forwardBackwardMs", t.forwardBackward);
        out.Set("logprobs", toFloat32(env, t.logprobs));
        return out;
      });
}

// generateEnd(session, park?: boolean): parks the remaining rows (park) or frees everything now rather than at
// garbage collection.
Napi::Value generateEnd(const Napi::CallbackInfo& info) {
  auto session = napi::unwrapHandle<model::GenerationSession>(info[0], "session");
  const bool park = info.Length() > 1 && info[1].IsBoolean() && info[1].As<Napi::Boolean>().Value();
  return napi::runAsync<bool>(
      info.Env(),
      [session, park] {
        std::lock_guard<std::mutex> lock(session->model->mutex());
        if (park) {
          model::parkAll(*session);
        } else {
          session->cache = model::KvCache();
          session->parked.clear();
        }
        return true;
      },
      [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
}

}  // namespace

void registerModel(Napi::Env env, Napi::Object exports) {
  napi::exportFunction(env, exports, "policyCreate", policyCreate);
  napi::exportFunction(env, exports, "policyParameters", policyParameters);
  napi::exportFunction(env, exports, "policyLoad", policyLoad);
  napi::exportFunction(env, exports, "policySave", policySave);
  napi::exportFunction(env, exports, "policyLogits", policyLogits);
  napi::exportFunction(env, exports, "policyScore", policyScore);
  napi::exportFunction(env, exports, "generateStart", generateStart);
  napi::exportFunction(env, exports, "generateResume", generateResume);
  napi::exportFunction(env, exports, "generateStep", generateStep);
  napi::exportFunction(env, exports, "generateDecode", generateDecode);
  napi::exportFunction(env, exports, "policySetPieces", policySetPieces);
  napi::exportFunction(env, exports, "policyPackedBound", policyPackedBound);
  napi::exportFunction(env, exports, "generateEnd", generateEnd);
}

}  // namespace hiexp
