#include "common/napi_tensors.h"

#include "common/napi_args.h"

namespace hiexp::napi {

at::Tensor tokenBatch(const Napi::Value& v, int64_t B, int64_t T, int64_t vocab, const std::string& name) {
  auto span = typedArray<int32_t>(v, name);
  HX_CHECK_RANGE(static_cast<int64_t>(span.size) == B * T, name, " must hold B*T = ", B * T, " ids, got ", span.size);
  for (size_t i = 0; i < span.size; ++i) {
    HX_CHECK_RANGE(span.data[i] >= 0 && span.data[i] < vocab, name, "[", i, "] = ", span.data[i],
                   " is outside the vocabulary [0, ", vocab, ")");
  }
  return at::from_blob(span.data, {B, T}, at::kInt).to(at::kLong);
}

}  // namespace hiexp::napi
