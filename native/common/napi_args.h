// Argument reading at the JavaScript edge: typed-array views, option fields, and the translation of native errors
// into JavaScript errors whose message names the argument.
#pragma once
#include <napi.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "common/errors.h"

namespace hiexp::napi {

// A non-owning view of a typed array's memory; valid while the JavaScript value is alive (the call's duration).
template <typename T>
struct Span {
  T* data = nullptr;
  size_t size = 0;
};

template <typename T>
struct TypedArrayTraits;
template <>
struct TypedArrayTraits<float> {
  static constexpr napi_typedarray_type type = napi_float32_array;
  static constexpr const char* name = "Float32Array";
};
template <>
struct TypedArrayTraits<double> {
  static constexpr napi_typedarray_type type = napi_float64_array;
  static constexpr const char* name = "Float64Array";
};
template <>
struct TypedArrayTraits<int32_t> {
  static constexpr napi_typedarray_type type = napi_int32_array;
  static constexpr const char* name = "Int32Array";
};
template <>
struct TypedArrayTraits<uint8_t> {
  static constexpr napi_typedarray_type type = napi_uint8_array;
  static constexpr const char* name = "Uint8Array";
};

// Name of the JavaScript type of a value, for messages ("got Float64Array", "got string").
std::string describe(const Napi::Value& value);

bool isTypedArrayOf(const Napi::Value& value, napi_typedarray_type type);

// Throws a TypeError naming `name` when the typed array's ArrayBuffer is detached (transferred, or structuredClone'd
// with transfer): its length reads as 0 and its data pointer as null.
void checkNotDetached(const Napi::TypedArray& array, const std::string& name);

// Pins a typed array: its data pointer and its length as they are now. JavaScript that runs afterwards can detach,
// transfer or shrink (resizable ArrayBuffer) the memory, so a binding pins only after it has read every argument and
// option (napi::field and the *Value readers below run getters), and runs no JavaScript until it is done with the
// pointer. Work that outlives the call (an AsyncWorker) copies instead.
template <typename T>
Span<T> typedArray(const Napi::Value& value, const std::string& name) {
  if (!isTypedArrayOf(value, TypedArrayTraits<T>::type)) {
    throwType(name, " must be a ", TypedArrayTraits<T>::name, ", got ", describe(value));
  }
  auto array = value.As<Napi::TypedArrayOf<T>>();
  checkNotDetached(array, name);
  return Span<T>{array.Data(), array.ElementLength()};
}

Napi::Object object(const Napi::Value& value, const std::string& name);

// Required / optional fields of an options object. Missing and undefined are the same.
bool has(const Napi::Object& obj, const char* key);
double number(const Napi::Object& obj, const char* key, const std::string& owner);
std::optional<double> optionalNumber(const Napi::Object& obj, const char* key, const std::string& owner);
bool optionalBool(const Napi::Object& obj, const char* key, bool fallback, const std::string& owner);
int64_t integer(const Napi::Object& obj, const char* key, const std::string& owner, int64_t min, int64_t max);
// A string that must be one of `allowed`; returns its index.
size_t choice(const Napi::Object& obj, const char* key, const std::string& owner,
              std::initializer_list<const char*> allowed, std::optional<size_t> fallback = std::nullopt);

// Readers of one value already read: the two-phase bindings read each field once with field() (getters run there,
// once), then check the values with these, which run no JavaScript. `name` is the full name ("options.eps").
// Undefined means absent.
Napi::Value field(const Napi::Object& obj, const char* key);
std::optional<double> optionalNumberValue(const Napi::Value& value, const std::string& name);
int64_t integerValue(const Napi::Value& value, const std::string& name, int64_t min, int64_t max);
bool optionalBoolValue(const Napi::Value& value, const std::string& name, bool fallback);
size_t choiceValue(const Napi::Value& value, const std::string& name, std::initializer_list<const char*> allowed,
                   std::optional<size_t> fallback = std::nullopt);

// Throws a TypeError naming the first key of `obj` that is not in `allowed` (catches misspelt options).
void rejectUnknownKeys(const Napi::Object& obj, const std::string& owner, std::initializer_list<const char*> allowed);

// Runs `body`, turning hiexp::TypeError / RangeError, c10::Error and std::exception into JavaScript exceptions.
Napi::Value guard(const Napi::CallbackInfo& info, const std::function<Napi::Value()>& body);

// Registers `fn` under `name`, wrapped by guard().
void exportFunction(Napi::Env env, Napi::Object exports, const char* name,
                    std::function<Napi::Value(const Napi::CallbackInfo&)> fn);

// Runs `work` on the libuv pool and settles a Promise with `toJs(result)`; errors reject it with the same
// TypeError / RangeError / Error a synchronous call would throw.
template <typename Result>
Napi::Value runAsync(Napi::Env env, std::function<Result()> work, std::function<Napi::Value(Napi::Env, Result&)> toJs);

}  // namespace hiexp::napi

#include "common/napi_async.h"
