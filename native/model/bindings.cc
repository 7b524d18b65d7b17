#include "bindings.h"

namespace hiexp {
// Nothing is exported from native/model yet.
void registerModel(Napi::Env, Napi::Object) {}
}  // namespace hiexp
