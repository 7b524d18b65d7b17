#include "bindings.h"

namespace hiexp {
void registerRl(Napi::Env, Napi::Object) {}
}  // namespace hiexp
