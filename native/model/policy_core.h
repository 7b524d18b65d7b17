// What one JavaScript Policy owns natively: the model and the RNG that unseeded generate() calls draw from (saved in
// checkpoints). Shared by the model bindings (generation, scoring) and the train bindings (steps, checkpoints).
#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "model/qwen2.h"
#include "model/sampler.h"

namespace hiexp::model {

struct PolicyCore {
  std::shared_ptr<Qwen2> model;
  Rng rng;
  std::mutex rngMutex;  // guards rng alone, so that drawing a seed never waits for a running step
  // Text piece of each token id (set by the tokenizer's owner): what native stop-string matching reads.
  std::shared_ptr<const std::vector<std::string>> pieces;
  std::mutex piecesMutex;
};

}  // namespace hiexp::model
