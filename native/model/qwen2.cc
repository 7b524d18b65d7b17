#include "model/qwen2.h"

#include <unistd.h>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>

#include "common/errors.h"

namespace hiexp::model {

// Float bytes of attention scores one cached prefill slice may hold (see Qwen2::hidden).
constexpr int64_t kPrefillScoreBytes = int64_t{32} << 20;

void Qwen2Config::check() const {
  HX_CHECK_RANGE(vocabSize >= 1, "config.vocab_size must be >= 1, got ", vocabSize);
  HX_CHECK_RANGE(hiddenSize >= 1, "config.hidden_size must be >= 1, got ", hiddenSize);
  HX_CHECK_RANGE(intermediateSize >= 1, "config.intermediate_size must be >= 1, got ", intermediateSize);
  HX_CHECK_RANGE(numLayers >= 1, "config.num_hidden_layers must be >= 1, got ", numLayers);
  HX_CHECK_RANGE(numHeads >= 1, "config.num_attention_heads must be >= 1, got ", numHeads);
  HX_CHECK_RANGE(numKvHeads >= 1 && numHeads % numKvHeads == 0,
                 "config.num_key_value_heads must divide num_attention_heads (", numHeads, "), got ", numKvHeads);
  HX_CHECK_RANGE(headDim >= 2 && headDim % 2 == 0, "config head_dim must be even and >= 2, got ", headDim);
  HX_CHECK_RANGE(rmsNormEps > 0, "config.rms_norm_eps must be > 0, got ", rmsNormEps);
  HX_CHECK_RANGE(ropeTheta > 0, "config.rope_theta must be > 0, got ", ropeTheta);
}

namespace {
// The names the JavaScript options use (c10 calls them Float, BFloat16, Half).
const char* dtypeName(at::ScalarType t) {
  return t == at::kBFloat16 ? "bfloat16" : t == at::kHalf ? "float16" : t == at::kFloat ? "float32" : c10::toString(t);
}
}  // namespace

void Qwen2::checkFitsMemory() const {
  // Counted in doubles: an absurd config (hidden_size 1e9) overflows int64 parameter counts.
  const auto& c = config_;
  const double h = static_cast<double>(c.hiddenSize), q = static_cast<double>(c.numHeads * c.headDim),
               kv = static_cast<double>(c.numKvHeads * c.headDim);
  const double embed = static_cast<double>(c.vocabSize) * h * (c.tieWordEmbeddings ? 1 : 2);
  const double attention = static_cast<double>(c.numLayers) * (2 * h * q + 2 * h * kv);
  const double mlp = static_cast<double>(c.numLayers) * 3 * h * static_cast<double>(c.intermediateSize);
  const double bytes = (embed + attention + mlp) * static_cast<double>(at::elementSize(dtype_));
  const long pages = sysconf(_SC_PHYS_PAGES), pageSize = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || pageSize <= 0) return;
  const double physical = static_cast<double>(pages) * static_cast<double>(pageSize);
  const char* largest = mlp >= embed && mlp >= attention ? "intermediate_size x hidden_size x num_hidden_layers"
                        : embed >= attention             ? "vocab_size x hidden_size"
                                                         : "hidden_size x num_attention_heads x num_hidden_layers";
  HX_CHECK_RANGE(bytes <= physical, "config: the weights alone need ", bytes / 1073741824.0, " GiB as ",
                 dtypeName(dtype_), " (hidden_size ", c.hiddenSize, ", intermediate_size ", c.intermediateSize,
                 ", num_hidden_layers ", c.numLayers, ", vocab_size ", c.vocabSize, "; the largest term is ", largest,
                 "), more than this machine's memory (", physical / 1073741824.0, " GiB)");
}

namespace {
std::string layerName(int64_t i, const char* rest) { return "model.layers." + std::to_string(i) + "." + rest; }

at::Tensor rmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  // As transformers: normalise in float32, cast back, then scale.
  at::Tensor xf = x.to(at::kFloat);
  at::Tensor var = xf.pow(2).mean(-1, /*keepdim=*/true);
  return weight * (xf * at::rsqrt(var + eps)).to(x.scalar_type());
}

at::Tensor rotateHalf(const at::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}
}  // namespace

Qwen2::Qwen2(Qwen2Config config, at::Device device, at::ScalarType dtype)
    : config_(config), device_(device), dtype_(dtype) {
  config_.check();
  if (device_.is_cpu()) checkFitsMemory();
  auto opts = at::TensorOptions().dtype(dtype_).device(device_);
  for (const auto& [name, shape] : expectedParameters()) {
    weights_[name] = at::zeros(shape, opts);
    loaded_[name] = false;
  }
  const int64_t d = config_.headDim;
  invFreq_ = 1.0 / at::pow(config_.ropeTheta, at::arange(0, d, 2, at::TensorOptions().dtype(at::kLong)).to(at::kFloat) / d);
  invFreq_ = invFreq_.to(device_);
}

std::vector<std::pair<std::string, std::vector<int64_t>>> Qwen2::expectedParameters() const {
  const auto& c = config_;
  const int64_t q = c.numHeads * c.headDim, kv = c.numKvHeads * c.headDim;
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  out.push_back({"model.embed_tokens.weight", {c.vocabSize, c.hiddenSize}});
  for (int64_t i = 0; i < c.numLayers; ++i) {
    out.push_back({layerName(i, "input_layernorm.weight"), {c.hiddenSize}});
    out.push_back({layerName(i, "self_attn.q_proj.weight"), {q, c.hiddenSize}});
    out.push_back({layerName(i, "self_attn.q_proj.bias"), {q}});
    out.push_back({layerName(i, "self_attn.k_proj.weight"), {kv, c.hiddenSize}});
    out.push_back({layerName(i, "self_attn.k_proj.bias"), {kv}});
    out.push_back({layerName(i, "self_attn.v_proj.weight"), {kv, c.hiddenSize}});
    out.push_back({layerName(i, "self_attn.v_proj.bias"), {kv}});
    out.push_back({layerName(i, "self_attn.o_proj.weight"), {c.hiddenSize, q}});
    out.push_back({layerName(i, "post_attention_layernorm.weight"), {c.hiddenSize}});
    out.push_back({layerName(i, "mlp.gate_proj.weight"), {c.intermediateSize, c.hiddenSize}});
    out.push_back({layerName(i, "mlp.up_proj.weight"), {c.intermediateSize, c.hiddenSize}});
    out.push_back({layerName(i, "mlp.down_proj.weight"), {c.hiddenSize, c.intermediateSize}});
  }
  out.push_back({"model.norm.weight", {c.hiddenSize}});
  if (!c.tieWordEmbeddings) out.push_back({"lm_head.weight", {c.vocabSize, c.hiddenSize}});
  return out;
}

void Qwen2::initRandom(uint64_t seed) {
  at::NoGradGuard noGrad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  // Drawn on the CPU in float32 and then cast, so that a seed gives the same weights on every device and dtype.
  for (const auto& [name, shape] : expectedParameters()) {
    at::Tensor t;
    const bool isNorm = name.find("layernorm") != std::string::npos || name == "model.norm.weight";
    const bool isBias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    if (isNorm) t = at::ones(shape);
    else if (isBias) t = at::zeros(shape);
    else t = at::empty(shape).normal_(0.0, config_.initializerRange, gen);
    weights_[name].copy_(t);
    loaded_[name] = true;
  }
}

std::vector<std::string> Qwen2::loadTensors(const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  at::NoGradGuard noGrad;
  std::vector<std::string> ignored;
  for (const auto& [name, t] : tensors) {
    auto it = weights_.find(name);
    if (it == weights_.end()) {
      ignored.push_back(name);
      continue;
    }
    HX_CHECK_RANGE(t.sizes() == it->second.sizes(), "tensor '", name, "' has shape ", t.sizes(),
                   " but the config needs ", it->second.sizes());
    HX_CHECK_RANGE(at::isFloatingType(t.scalar_type()), "tensor '", name, "' has non-float dtype ",
                   c10::toString(t.scalar_type()));
    it->second.copy_(t);
    loaded_[name] = true;
  }
  return ignored;
}

void Qwen2::finishLoad() {
  std::string missing;
  int count = 0;
  for (const auto& [name, ok] : loaded_)
    if (!ok) {
      if (count < 5) missing += (count ? ", " : "") + name;
      ++count;
    }
  HX_CHECK_RANGE(count == 0, "the checkpoint lacks ", count, " parameter(s) the config needs: ", missing,
                 count > 5 ? ", ..." : "");
}

std::vector<std::pair<std::string, at::Tensor>> Qwen2::namedParameters() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& [name, shape] : expectedParameters()) out.emplace_back(name, weights_.at(name));
  return out;
}

std::vector<at::Tensor> Qwen2::parameters() const {
  std::vector<at::Tensor> out;
  for (const auto& [name, shape] : expectedParameters()) out.push_back(weights_.at(name));
  return out;
}

void Qwen2::setRequiresGrad(bool on) {
  for (auto& [name, t] : weights_) t.requires_grad_(on);
}

std::map<std::string, at::Tensor> Qwen2::cloneWeights() const {
  at::NoGradGuard noGrad;
  std::map<std::string, at::Tensor> out;
  for (const auto& [name, t] : weights_) out[name] = t.detach().clone();
  return out;
}

const at::Tensor& Qwen2::w(const std::map<std::string, at::Tensor>& m, const std::string& name) const {
  return m.at(name);
}

KvCache Qwen2::newCache(int64_t batch, int64_t capacity) const {
  KvCache cache;
  auto opts = at::TensorOptions().dtype(dtype_).device(device_);
  for (int64_t i = 0; i < config_.numLayers; ++i) {
    cache.keys.push_back(at::zeros({batch, config_.numKvHeads, capacity, config_.headDim}, opts));
    cache.values.push_back(at::zeros({batch, config_.numKvHeads, capacity, config_.headDim}, opts));
  }
  cache.keyValid = at::zeros({batch, capacity}, at::TensorOptions().dtype(at::kBool).device(device_));
  cache.capacity = capacity;
  return cache;
}

namespace {

// softmax(q k^T / sqrt(D) where allowed) v for q [B, H, T, D], k and v [B, Hkv, Tk, D], allowed [B, T, Tk] bool.
at::Tensor maskedAttention(const at::Tensor& q, at::Tensor k, at::Tensor v, const at::Tensor& allowed, int64_t rep) {
  if (rep > 1) {
    k = k.repeat_interleave(rep, 1);
    v = v.repeat_interleave(rep, 1);
  }
#if TORCH_VERSION_MAJOR >= 2
  // libtorch 2.x: the fused kernel (flash / memory-efficient on GPU), same mask, same default scale 1/sqrt(D).
  return at::scaled_dot_product_attention(q, k, v, allowed.unsqueeze(1));
#else
  // transformers' eager attention: scores in the model dtype, softmax in float32.
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  at::Tensor mask = at::zeros(allowed.sizes(), q.options())
                        .masked_fill(allowed.logical_not(), -std::numeric_limits<double>::infinity())
                        .unsqueeze(1);
  at::Tensor scores = at::matmul(q, k.transpose(-1, -2)) * scale + mask;
  return at::matmul(at::softmax(scores, -1, at::kFloat).to(q.scalar_type()), v);
#endif
}

}  // namespace

at::Tensor Qwen2::decoderStack(const at::Tensor& ids, const at::Tensor& positions, const Attend& attend,
                               const std::map<std::string, at::Tensor>& W) const {
  const auto& c = config_;
  const int64_t B = ids.size(0), T = ids.size(1);
  // Rotary embedding (transformers' rotate_half form): angles in float32, then cast.
  at::Tensor freqs = positions.to(device_, at::kFloat).unsqueeze(-1) * invFreq_;  // [B, T, D/2]
  at::Tensor emb = at::cat({freqs, freqs}, -1);
  at::Tensor cosT = emb.cos().to(dtype_).unsqueeze(1), sinT = emb.sin().to(dtype_).unsqueeze(1);  // [B, 1, T, D]

  const int64_t H = c.numHeads, Hkv = c.numKvHeads, D = c.headDim;
  at::Tensor x = at::embedding(W.at("model.embed_tokens.weight"), ids.to(device_, at::kLong));
  for (int64_t i = 0; i < c.numLayers; ++i) {
    auto L = [&](const char* rest) -> const at::Tensor& { return W.at(layerName(i, rest)); };
    at::Tensor h = rmsNorm(x, L("input_layernorm.weight"), c.rmsNormEps);
    at::Tensor q = at::linear(h, L("self_attn.q_proj.weight"), L("self_attn.q_proj.bias")).view({B, T, H, D}).transpose(1, 2);
    at::Tensor k = at::linear(h, L("self_attn.k_proj.weight"), L("self_attn.k_proj.bias")).view({B, T, Hkv, D}).transpose(1, 2);
    at::Tensor v = at::linear(h, L("self_attn.v_proj.weight"), L("self_attn.v_proj.bias")).view({B, T, Hkv, D}).transpose(1, 2);
    q = q * cosT + rotateHalf(q) * sinT;
    k = k * cosT + rotateHalf(k) * sinT;
    at::Tensor o = attend(i, q, k, v).transpose(1, 2).reshape({B, T, H * D});
    x = x + at::linear(o, L("self_attn.o_proj.weight"));
    h = rmsNorm(x, L("post_attention_layernorm.weight"), c.rmsNormEps);
    at::Tensor gate = at::silu(at::linear(h, L("mlp.gate_proj.weight")));
    x = x + at::linear(gate * at::linear(h, L("mlp.up_proj.weight")), L("mlp.down_proj.weight"));
  }
  return rmsNorm(x, W.at("model.norm.weight"), c.rmsNormEps);
}

at::Tensor Qwen2::hidden(const at::Tensor& ids, const at::Tensor& positions, const at::Tensor& keyMask, KvCache* cache,
                         const std::map<std::string, at::Tensor>* weights) const {
  const int64_t B = ids.size(0), T = ids.size(1);
  const int64_t past = cache ? cache->length : 0;
  const int64_t Tk = past + T;
  if (cache) HX_CHECK_RANGE(Tk <= cache->capacity, "KV cache overflow: ", Tk, " positions, capacity ", cache->capacity);
  // A cached prefill's attention holds [rows, heads, T, Tk] float scores, several copies at once: 1000 rollouts
  // resuming after a 150-token <information> block would need gigabytes for a few milliseconds. Rows are independent,
  // so they run in slices whose scores stay under a fixed budget, which is what the config-time memory estimate counts
  // (lib/train/memory.ts, PREFILL_SCORE_BYTES).
  const int64_t rowsPerSlice = std::max<int64_t>(1, kPrefillScoreBytes / (config_.numHeads * T * Tk * 4));
  if (cache && T > 1 && rowsPerSlice < B) {
    std::vector<at::Tensor> parts;
    for (int64_t b0 = 0; b0 < B; b0 += rowsPerSlice) {
      const int64_t n = std::min(rowsPerSlice, B - b0);
      KvCache slice;  // views of the rows: the slice's writes land in the batch's cache
      for (const auto& k : cache->keys) slice.keys.push_back(k.narrow(0, b0, n));
      for (const auto& v : cache->values) slice.values.push_back(v.narrow(0, b0, n));
      slice.keyValid = cache->keyValid.narrow(0, b0, n);
      slice.length = past;
      slice.capacity = cache->capacity;
      parts.push_back(hidden(ids.narrow(0, b0, n), positions.narrow(0, b0, n),
                             keyMask.defined() ? keyMask.narrow(0, b0, n) : at::Tensor(), &slice, weights));
    }
    cache->length = Tk;
    return at::cat(parts, 0);
  }
  const auto boolOpts = at::TensorOptions().dtype(at::kBool).device(device_);

  // Which keys each query may see: key j is at or before the query (causal) and real; a query always sees itself, so
  // that padding queries (whose outputs are discarded) never meet an all-masked row.
  at::Tensor newValid = keyMask.defined() ? keyMask.to(device_, at::kBool) : at::ones({B, T}, boolOpts);
  at::Tensor valid;
  if (cache) {
    cache->keyValid.narrow(1, past, T).copy_(newValid);
    valid = cache->keyValid.narrow(1, 0, Tk);
  } else {
    valid = newValid;
  }
  at::Tensor qPos = at::arange(past, Tk, at::TensorOptions().dtype(at::kLong).device(device_)).unsqueeze(1);
  at::Tensor kPos = at::arange(0, Tk, at::TensorOptions().dtype(at::kLong).device(device_)).unsqueeze(0);
  at::Tensor allowed = (kPos <= qPos).unsqueeze(0) & valid.unsqueeze(1);  // [B, T, Tk]
  allowed = allowed | (kPos == qPos).unsqueeze(0);
  const int64_t rep = config_.numHeads / config_.numKvHeads;
  at::Tensor out = decoderStack(ids, positions, [&](int64_t i, const at::Tensor& q, at::Tensor k, at::Tensor v) {
    if (cache) {
      cache->keys[i].narrow(2, past, T).copy_(k);
      cache->values[i].narrow(2, past, T).copy_(v);
      k = cache->keys[i].narrow(2, 0, Tk);
      v = cache->values[i].narrow(2, 0, Tk);
    }
    return maskedAttention(q, k, v, allowed, rep);
  }, weights ? *weights : weights_);
  if (cache) cache->length = Tk;
  return out;
}

at::Tensor Qwen2::hiddenPacked(const std::vector<int64_t>& lengths, const at::Tensor& ids) const {
  int64_t N = 0;
  for (int64_t L : lengths) {
    HX_CHECK_RANGE(L >= 1, "packed sequences must be non-empty");
    N += L;
  }
  HX_CHECK_RANGE(ids.dim() == 1 && ids.size(0) == N, "packed ids must hold the ", N, " tokens of the sequences");
  std::vector<int64_t> pos;
  pos.reserve(static_cast<size_t>(N));
  for (int64_t L : lengths)
    for (int64_t t = 0; t < L; ++t) pos.push_back(t);
  at::Tensor positions = at::tensor(pos, at::kLong).to(device_).unsqueeze(0);
  const int64_t rep = config_.numHeads / config_.numKvHeads;
  std::map<int64_t, at::Tensor> causalOf;
  for (int64_t L : lengths)
    if (!causalOf.count(L)) causalOf[L] = at::ones({L, L}, at::TensorOptions().dtype(at::kBool).device(device_)).tril().unsqueeze(0);
  return decoderStack(ids.unsqueeze(0), positions, [&](int64_t, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
    std::vector<at::Tensor> parts;
    int64_t at0 = 0;
    for (int64_t L : lengths) {
      parts.push_back(maskedAttention(q.narrow(2, at0, L), k.narrow(2, at0, L), v.narrow(2, at0, L), causalOf.at(L), rep));
      at0 += L;
    }
    return at::cat(parts, 2);
  }, weights_);
}

at::Tensor Qwen2::lmHead(const at::Tensor& hidden, const std::map<std::string, at::Tensor>* weights) const {
  const auto& W = weights ? *weights : weights_;
  return at::linear(hidden, config_.tieWordEmbeddings ? W.at("model.embed_tokens.weight") : W.at("lm_head.weight"));
}

std::pair<at::Tensor, at::Tensor> tokenLogprobs(const at::Tensor& logits, const at::Tensor& ids, bool wantEntropy) {
  const int64_t B = logits.size(0), T = logits.size(1);
  at::Tensor logp = at::zeros({B, T}, logits.options().dtype(at::kFloat));
  at::Tensor entropy;
  if (T < 2) return {logp, wantEntropy ? at::zeros({B, T}, logp.options()) : entropy};
  // The prediction for token t comes from position t - 1. log p = logit[token] - logsumexp(logits): the gradient
  // flows through both terms without materialising a second [B, T, V] tensor.
  at::Tensor pred = logits.narrow(1, 0, T - 1).to(at::kFloat);
  at::Tensor target = ids.to(logits.device(), at::kLong).narrow(1, 1, T - 1).unsqueeze(-1);
  at::Tensor lse = at::logsumexp(pred, -1);
  at::Tensor lp = pred.gather(-1, target).squeeze(-1) - lse;
  logp = at::cat({at::zeros({B, 1}, lp.options()), lp}, 1);
  if (wantEntropy) {
    at::NoGradGuard noGrad;
    at::Tensor p = at::softmax(pred.detach(), -1);
    at::Tensor ent = lse.detach() - (p * pred.detach()).sum(-1);
    entropy = at::cat({at::zeros({B, 1}, ent.options()), ent}, 1);
  }
  return {logp, entropy};
}

}  // namespace hiexp::model
