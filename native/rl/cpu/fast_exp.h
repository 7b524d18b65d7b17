// exp for float that the compiler can vectorise: glibc's expf is a scalar call unless -ffast-math, which would
// also break the NaN checks the kernels rely on. Cephes' range reduction and degree-6 polynomial, within 2 ulp
// over [-87, 88]; inputs outside are clamped (the kernels clamp log-ratios to ±20 before calling it).
#pragma once
#include <cstdint>
#include <cmath>
#include <cstring>

namespace hiexp {

// always_inline: a call inside the kernel loop would stop its vectorisation.
__attribute__((always_inline)) inline float fastExp(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  // n = round(x / ln 2): nearbyint is one rounding instruction (roundps) with SSE4.1 and later.
  const float fn = std::nearbyint(x * 1.44269504088896341f);
  const float r = (x - fn * 0.693359375f) + fn * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(fn) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

}  // namespace hiexp
