// Errors thrown by the native core. The core never includes napi.h, so that the libtorch trainer can call it too;
// the binding layer (napi_args.h) turns these into JavaScript TypeError / RangeError with the same message.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace hiexp {

// Wrong kind of value (a Float64Array where a Float32Array was expected, a string that names no option).
struct TypeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Right kind, wrong value (a length that does not match, a NaN, a clip range below zero).
struct RangeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}
}  // namespace detail

template <typename... Parts>
[[noreturn]] void throwType(const Parts&... parts) {
  throw TypeError(detail::concat(parts...));
}
template <typename... Parts>
[[noreturn]] void throwRange(const Parts&... parts) {
  throw RangeError(detail::concat(parts...));
}

}  // namespace hiexp

// Checks first, as ATen does: the message names the argument and the expected value.
#define HX_CHECK_RANGE(cond, ...) \
  do {                            \
    if (!(cond)) ::hiexp::throwRange(__VA_ARGS__); \
  } while (0)
#define HX_CHECK_TYPE(cond, ...) \
  do {                           \
    if (!(cond)) ::hiexp::throwType(__VA_ARGS__); \
  } while (0)
