// Next-token sampling: temperature, top-k, top-p (nucleus) on the model's device, driven by uniforms from a CPU
// mt19937_64 so that a seed gives the same tokens on every run (and the RNG state fits in a checkpoint as text).
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <random>
#include <string>

namespace hiexp::model {

struct SamplingOptions {
  double temperature = 1.0;  // 0: greedy
  double topP = 1.0;         // (0, 1]
  int64_t topK = 0;          // 0: off
  void check() const;
};

class Rng {
 public:
  explicit Rng(uint64_t seed = 0x5eed) : engine_(seed) {}
  // Uniform in (0, 1]: never 0, so that the inverse-CDF pick never lands on a zero-probability token.
  double uniform() { return (static_cast<double>(engine_() >> 11) + 1.0) * (1.0 / 9007199254740992.0); }
  uint64_t next() { return engine_(); }
  std::string state() const;
  void setState(const std::string& state);

 private:
  std::mt19937_64 engine_;
};

struct Sampled {
  at::Tensor tokens;  // [B] int64, on the CPU
  at::Tensor logp;    // [B] float32, on the CPU: log-prob of the token under the temperature-1 distribution
};

// logits [B, V] (any float dtype, any device).
Sampled sampleNext(const at::Tensor& logits, const SamplingOptions& opts, Rng& rng);

}  // namespace hiexp::model
