#include <napi.h>

#include "bindings.h"

static Napi::Object init(Napi::Env env, Napi::Object exports) {
  hiexp::registerCommon(env, exports);
  hiexp::registerRl(env, exports);
  hiexp::registerCluster(env, exports);
  hiexp::registerModel(env, exports);
  hiexp::registerTrain(env, exports);
  hiexp::registerDistributed(env, exports);
  return exports;
}

NODE_API_MODULE(hiexp, init)
