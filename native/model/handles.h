// JavaScript handles to native objects: type-tagged Externals owning a shared_ptr, so that a handle of another kind
// (or a forged object) is refused with a TypeError instead of being dereferenced.
#pragma once
#include <napi.h>

#include <memory>
#include <string>

#include "common/errors.h"
#include "common/napi_args.h"
#include "model/generation.h"
#include "model/policy_core.h"

namespace hiexp::napi {

template <typename T>
struct HandleTag;

template <typename T>
Napi::Value wrapHandle(Napi::Env env, std::shared_ptr<T> ptr) {
  auto* owned = new std::shared_ptr<T>(std::move(ptr));
  auto ext = Napi::External<std::shared_ptr<T>>::New(env, owned, [](Napi::Env, std::shared_ptr<T>* p) { delete p; });
  ext.TypeTag(&HandleTag<T>::tag);
  return ext;
}

template <typename T>
std::shared_ptr<T> unwrapHandle(const Napi::Value& value, const std::string& name) {
  if (!value.IsExternal()) throwType(name, " must be a ", HandleTag<T>::name, " handle, got ", describe(value));
  auto ext = value.As<Napi::External<std::shared_ptr<T>>>();
  if (!ext.CheckTypeTag(&HandleTag<T>::tag)) throwType(name, " is not a ", HandleTag<T>::name, " handle");
  return *ext.Data();
}

template <>
struct HandleTag<model::PolicyCore> {
  static constexpr napi_type_tag tag{0x6869657870506f6cULL, 0x696379436f726531ULL};
  static constexpr const char* name = "policy";
};
template <>
struct HandleTag<model::GenerationSession> {
  static constexpr napi_type_tag tag{0x6869657870476e53ULL, 0x657373696f6e3031ULL};
  static constexpr const char* name = "generation session";
};

}  // namespace hiexp::napi
