// Each concern registers its JavaScript functions in its own bindings.cc; addon.cc only calls these.
#pragma once
#include <napi.h>

namespace hiexp {
void registerCommon(Napi::Env env, Napi::Object exports);
void registerRl(Napi::Env env, Napi::Object exports);
void registerCluster(Napi::Env env, Napi::Object exports);
void registerModel(Napi::Env env, Napi::Object exports);
void registerTrain(Napi::Env env, Napi::Object exports);
void registerDistributed(Napi::Env env, Napi::Object exports);
}  // namespace hiexp
