#include "common/napi_args.h"

#include <c10/util/Exception.h>

#include <cmath>

namespace hiexp::napi {

std::string describe(const Napi::Value& value) {
  if (value.IsUndefined()) return "undefined";
  if (value.IsNull()) return "null";
  if (value.IsTypedArray()) {
    switch (value.As<Napi::TypedArray>().TypedArrayType()) {
      case napi_int8_array: return "Int8Array";
      case napi_uint8_array: return "Uint8Array";
      case napi_uint8_clamped_array: return "Uint8ClampedArray";
      case napi_int16_array: return "Int16Array";
      case napi_uint16_array: return "Uint16Array";
      case napi_int32_array: return "Int32Array";
      case napi_uint32_array: return "Uint32Array";
      case napi_float32_array: return "Float32Array";
      case napi_float64_array: return "Float64Array";
      case napi_bigint64_array: return "BigInt64Array";
      case napi_biguint64_array: return "BigUint64Array";
      default: return "a typed array";
    }
  }
  if (value.IsArray()) return "Array";
  if (value.IsString()) return "string";
  if (value.IsNumber()) return "number";
  if (value.IsBoolean()) return "boolean";
  if (value.IsFunction()) return "function";
  return "object";
}

bool isTypedArrayOf(const Napi::Value& value, napi_typedarray_type type) {
  return value.IsTypedArray() && value.As<Napi::TypedArray>().TypedArrayType() == type;
}

Napi::Object object(const Napi::Value& value, const std::string& name) {
  if (!value.IsObject() || value.IsArray() || value.IsTypedArray()) throwType(name, " must be an object, got ", describe(value));
  return value.As<Napi::Object>();
}

void checkNotDetached(const Napi::TypedArray& array, const std::string& name) {
  bool detached = false;
  if (napi_is_detached_arraybuffer(array.Env(), array.ArrayBuffer(), &detached) == napi_ok && detached) {
    throwType(name, " is a view of a detached ArrayBuffer (transferred away); pass an array that owns its memory");
  }
}

bool has(const Napi::Object& obj, const char* key) {
  return obj.Has(key) && !obj.Get(key).IsUndefined();
}

Napi::Value field(const Napi::Object& obj, const char* key) { return obj.Get(key); }

std::optional<double> optionalNumberValue(const Napi::Value& value, const std::string& name) {
  if (value.IsUndefined()) return std::nullopt;
  if (!value.IsNumber()) throwType(name, " must be a number, got ", describe(value));
  const double x = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(x)) throwRange(name, " must be a finite number, got ", x);
  return x;
}

int64_t integerValue(const Napi::Value& value, const std::string& name, int64_t min, int64_t max) {
  const auto x = optionalNumberValue(value, name);
  if (!x) throwType(name, " is required (a number)");
  if (*x != std::floor(*x) || *x < static_cast<double>(min) || *x > static_cast<double>(max)) {
    // An integral value prints as one (2 ** 40, not 1.09951e+12): the user should recognise what they passed.
    if (*x == std::floor(*x) && std::fabs(*x) < 9.0e15) {
      throwRange(name, " must be an integer in [", min, ", ", max, "], got ", static_cast<int64_t>(*x));
    }
    throwRange(name, " must be an integer in [", min, ", ", max, "], got ", *x);
  }
  return static_cast<int64_t>(*x);
}

bool optionalBoolValue(const Napi::Value& value, const std::string& name, bool fallback) {
  if (value.IsUndefined()) return fallback;
  if (!value.IsBoolean()) throwType(name, " must be a boolean, got ", describe(value));
  return value.As<Napi::Boolean>().Value();
}

size_t choiceValue(const Napi::Value& value, const std::string& name, std::initializer_list<const char*> allowed,
                   std::optional<size_t> fallback) {
  std::string expected;
  for (const char* a : allowed) expected += (expected.empty() ? "'" : ", '") + std::string(a) + "'";
  if (value.IsUndefined()) {
    if (fallback) return *fallback;
    throwType(name, " is required (one of ", expected, ")");
  }
  if (!value.IsString()) throwType(name, " must be one of ", expected, ", got ", describe(value));
  const std::string s = value.As<Napi::String>().Utf8Value();
  size_t i = 0;
  for (const char* a : allowed) {
    if (s == a) return i;
    ++i;
  }
  throwRange(name, " must be one of ", expected, ", got '", s, "'");
}

// The object forms read each field once (one getter call) and check it with the value forms.
std::optional<double> optionalNumber(const Napi::Object& obj, const char* key, const std::string& owner) {
  return optionalNumberValue(obj.Get(key), owner + "." + key);
}

double number(const Napi::Object& obj, const char* key, const std::string& owner) {
  auto x = optionalNumber(obj, key, owner);
  if (!x) throwType(owner, ".", key, " is required (a number)");
  return *x;
}

bool optionalBool(const Napi::Object& obj, const char* key, bool fallback, const std::string& owner) {
  return optionalBoolValue(obj.Get(key), owner + "." + key, fallback);
}

int64_t integer(const Napi::Object& obj, const char* key, const std::string& owner, int64_t min, int64_t max) {
  return integerValue(obj.Get(key), owner + "." + key, min, max);
}

size_t choice(const Napi::Object& obj, const char* key, const std::string& owner,
              std::initializer_list<const char*> allowed, std::optional<size_t> fallback) {
  return choiceValue(obj.Get(key), owner + "." + key, allowed, fallback);
}

void rejectUnknownKeys(const Napi::Object& obj, const std::string& owner, std::initializer_list<const char*> allowed) {
  const Napi::Array keys = obj.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    const std::string key = keys.Get(i).ToString().Utf8Value();
    bool known = false;
    for (const char* a : allowed) known = known || key == a;
    if (!known) {
      std::string expected;
      for (const char* a : allowed) expected += (expected.empty() ? "" : ", ") + std::string(a);
      throwType(owner, " has an unknown option '", key, "' (known: ", expected, ")");
    }
  }
}

std::pair<ErrorKind, std::string> classifyCurrentException() {
  try {
    throw;
  } catch (const TypeError& e) {
    return {ErrorKind::Type, e.what()};
  } catch (const RangeError& e) {
    return {ErrorKind::Range, e.what()};
  } catch (const c10::Error& e) {
    return {ErrorKind::Generic, std::string("hiexp (libtorch): ") + e.what_without_backtrace()};
  } catch (const std::bad_alloc&) {
    return {ErrorKind::Range, "hiexp: out of memory"};
  } catch (const std::exception& e) {
    return {ErrorKind::Generic, std::string("hiexp: ") + e.what()};
  } catch (...) {
    return {ErrorKind::Generic, "hiexp: unknown native error"};
  }
}

Napi::Error makeError(Napi::Env env, ErrorKind kind, const std::string& message) {
  switch (kind) {
    case ErrorKind::Type: return Napi::TypeError::New(env, message);
    case ErrorKind::Range: return Napi::RangeError::New(env, message);
    default: return Napi::Error::New(env, message);
  }
}

Napi::Value guard(const Napi::CallbackInfo& info, const std::function<Napi::Value()>& body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    auto [kind, message] = classifyCurrentException();
    throw makeError(info.Env(), kind, message);
  }
}

void exportFunction(Napi::Env env, Napi::Object exports, const char* name,
                    std::function<Napi::Value(const Napi::CallbackInfo&)> fn) {
  exports.Set(name, Napi::Function::New(
                        env, [fn](const Napi::CallbackInfo& info) { return guard(info, [&] { return fn(info); }); },
                        name));
}

}  // namespace hiexp::napi
