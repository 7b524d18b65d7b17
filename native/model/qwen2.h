// A causal decoder with the Qwen2 / Qwen2.5 architecture (transformers' modeling_qwen2.py): token embedding, per layer
// RMSNorm -> grouped-query attention (q/k/v with bias, o without) with rotary position embedding -> residual ->
// RMSNorm -> SwiGLU MLP -> residual; a final RMSNorm and a tied or untied LM head. Weights are kept in a map under the
// Hugging Face parameter names, so that loading and saving a checkpoint is a rename-free copy.
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace hiexp::model {

struct Qwen2Config {
  int64_t vocabSize = 0;
  int64_t hiddenSize = 0;
  int64_t intermediateSize = 0;
  int64_t numLayers = 0;
  int64_t numHeads = 0;
  int64_t numKvHeads = 0;
  int64_t headDim = 0;  // hiddenSize / numHeads unless the config says otherwise
  double rmsNormEps = 1e-6;
  double ropeTheta = 1e6;
  bool tieWordEmbeddings = false;
  double initializerRange = 0.02;
  void check() const;  // throws hiexp::RangeError naming the field
};

// Per-layer keys and values for generation, preallocated to `capacity` positions: [B, kvHeads, capacity, headDim].
struct KvCache {
  std::vector<at::Tensor> keys, values;
  at::Tensor keyValid;  // [B, capacity] bool: a real (not padding) token sits at that position
  int64_t length = 0;   // positions filled so far
  int64_t capacity = 0;
};

class Qwen2 {
 public:
  Qwen2(Qwen2Config config, at::Device device, at::ScalarType dtype);

  const Qwen2Config& config() const { return config_; }
  // Throws hiexp::RangeError naming the config's sizes when the weights alone would not fit in this machine's memory
  // (checked before any allocation: zero-filling them would wake the OOM killer instead of failing).
  void checkFitsMemory() const;
  at::Device device() const { return device_; }
  at::ScalarType dtype() const { return dtype_; }

  // The names and shapes a checkpoint must hold (lm_head.weight only when untied).
  std::vector<std::pair<std::string, std::vector<int64_t>>> expectedParameters() const;
  // Normal(0, initializerRange) for matrices and embeddings, zeros for biases, ones for norms (transformers' _init_weights).
  void initRandom(uint64_t seed);
  // Copies tensors in by name, casting to the model's dtype and device. Every expected name must be present exactly
  // once across calls to finishLoad(); shapes are checked. Unknown names are returned (they are ignored).
  std::vector<std::string> loadTensors(const std::vector<std::pair<std::string, at::Tensor>>& tensors);
  void finishLoad();  // throws when a parameter was never loaded
  // HF names -> tensors (the live parameters).
  std::vector<std::pair<std::string, at::Tensor>> namedParameters() const;
  std::vector<at::Tensor> parameters() const;
  void setRequiresGrad(bool on);
  // A deep copy of the weights (for the frozen KL reference).
  std::map<std::string, at::Tensor> cloneWeights() const;

  // Hidden states after the final norm. ids [B, T] int64, positions [B, T] int64, keyMask [B, T] bool marking the real
  // (non-padding) tokens among the T new ones, or undefined when all are real. With a cache, the T new keys are written
  // at cache->length.. and attention covers every real cached position; without, attention is causal over the T.
  // `weights` overrides the live weights (the frozen reference).
  at::Tensor hidden(const at::Tensor& ids, const at::Tensor& positions, const at::Tensor& keyMask, KvCache* cache,
                    const std::map<std::string, at::Tensor>* weights = nullptr) const;
  at::Tensor lmHead(const at::Tensor& hidden, const std::map<std::string, at::Tensor>* weights = nullptr) const;
  // Hidden states [1, N, hidden] of sequences packed back to back without padding (ids [N], the sequences' lengths
  // summing to N): linear layers run over all N tokens at once, attention within each sequence. What a packed
  // forward costs is the arithmetic bound bench/rl_step.ts measures an RL step against.
  at::Tensor hiddenPacked(const std::vector<int64_t>& lengths, const at::Tensor& ids) const;

  KvCache newCache(int64_t batch, int64_t capacity) const;

  // Serialises every call that reads or writes the weights (async calls share one model).
  std::mutex& mutex() const { return mutex_; }

 private:
  const at::Tensor& w(const std::map<std::string, at::Tensor>& m, const std::string& name) const;
  // One layer's attention: (layer, q [B, H, T, D], k, v [B, Hkv, T, D], rotated) -> [B, H, T, D].
  using Attend = std::function<at::Tensor(int64_t, const at::Tensor&, at::Tensor, at::Tensor)>;
  // Embedding, the decoder layers (attention as `attend` does it) and the final norm.
  at::Tensor decoderStack(const at::Tensor& ids, const at::Tensor& positions, const Attend& attend,
                          const std::map<std::string, at::Tensor>& W) const;
  Qwen2Config config_;
  at::Device device_;
  at::ScalarType dtype_;
  std::map<std::string, at::Tensor> weights_;
  std::map<std::string, bool> loaded_;
  at::Tensor invFreq_;  // [headDim / 2] float32 on device
  mutable std::mutex mutex_;
};

// log p(ids[b, t] | ids[b, <t]) and the entropy of that predictive distribution, from the logits at t-1, for t >= 1;
// position 0 is 0. logits [B, T, V] (any float dtype, computed in float32); ids [B, T]. Returns {logp, entropy} [B, T]
// float32; entropy is only computed when wantEntropy.
std::pair<at::Tensor, at::Tensor> tokenLogprobs(const at::Tensor& logits, const at::Tensor& ids, bool wantEntropy);

}  // namespace hiexp::model
