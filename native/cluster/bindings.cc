#include "bindings.h"

namespace hiexp {
// Nothing is exported from native/cluster yet.
void registerCluster(Napi::Env, Napi::Object) {}
}  // namespace hiexp
