#include "common/napi_tensors.h"

#include "common/napi_args.h"

namespace hiexp::napi {

at::Tensor tokenBatch(const Napi::Value& v, int64_t B, int64_t T, int64_t vocab, const std::string& name) {
  auto span = typedArray<int32_t>(v, name);
  HX_CHECK_RANGE(static_cast<int64_t>(span.size) == B * T, name, " must hold B*T = ", B * T, " ids, got ", span.size);
  // Copy first, then check the copy: a SharedArrayBuffer's contents can change under us (another thread), and the
  // ids index the embedding table, so the values checked must be the values used.
  at::Tensor ids = at::from_blob(span.data, {B, T}, at::kInt).to(at::kLong);
  const int64_t* data = ids.data_ptr<int64_t>();
  for (int64_t i = 0; i < B * T; ++i) {
    HX_CHECK_RANGE(data[i] >= 0 && data[i] < vocab, name, "[", i, "] = ", data[i], " is outside the vocabulary [0, ",
                   vocab, ")");
  }
  return ids;
}

}  // namespace hiexp::napi
