#include "bindings.h"

namespace hiexp {
// Nothing is exported from native/train yet.
void registerTrain(Napi::Env, Napi::Object) {}
}  // namespace hiexp
