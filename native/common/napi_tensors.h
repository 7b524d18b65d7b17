// Tensors from typed arrays at the JavaScript edge (shared by the model and train bindings).
#pragma once
#include <ATen/ATen.h>
#include <napi.h>

#include <cstdint>
#include <string>

namespace hiexp::napi {

// Copies a right-padded [B, T] batch of token ids (Int32Array) into an int64 tensor, checking every id against the
// vocabulary so that no embedding lookup can read out of bounds.
at::Tensor tokenBatch(const Napi::Value& v, int64_t B, int64_t T, int64_t vocab, const std::string& name);

}  // namespace hiexp::napi
