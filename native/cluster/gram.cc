// The register-tiled Gram kernel behind the distance matrix: a 4 x 8 block of dot products per call, kept in vector
// registers (GCC vector extensions lower it to AVX2 / AVX-512 FMAs under -march=native). This file is the only
// part of the clustering code where floating-point contraction is allowed.
#include <algorithm>
#include <cstring>

#include "cluster/cluster.h"

namespace hiexp::cluster {

typedef double v4d __attribute__((vector_size(32)));
typedef double v4du __attribute__((vector_size(32), aligned(8)));

PackedPoints packPoints(const double* X, int64_t n, int64_t d) {
  PackedPoints P;
  P.n = n;
  P.d = d;
  P.nPadded = (n + kPanel - 1) / kPanel * kPanel;
  P.rows.assign(static_cast<size_t>(P.nPadded * d), 0.0);
  std::memcpy(P.rows.data(), X, sizeof(double) * static_cast<size_t>(n * d));
  P.panels.assign(static_cast<size_t>(P.nPadded * d), 0.0);
  for (int64_t p = 0; p < P.nPadded / kPanel; ++p) {
    double* dst = P.panels.data() + p * d * kPanel;
    for (int c = 0; c < kPanel; ++c) {
      const double* src = P.rows.data() + (p * kPanel + c) * d;
      for (int64_t k = 0; k < d; ++k) dst[k * kPanel + c] = src[k];
    }
  }
  return P;
}

void gramTile(const PackedPoints& P, int64_t r0, int64_t panel, double* out) {
  const int64_t d = P.d;
  const double* a0 = P.rows.data() + r0 * d;
  const double* a1 = a0 + d;
  const double* a2 = a1 + d;
  const double* a3 = a2 + d;
  const double* b = P.panels.data() + panel * d * kPanel;
  v4d c00 = {0, 0, 0, 0}, c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (int64_t k = 0; k < d; ++k) {
    const v4d b0 = *reinterpret_cast<const v4du*>(b + k * kPanel);
    const v4d b1 = *reinterpret_cast<const v4du*>(b + k * kPanel + 4);
    const double s0 = a0[k], s1 = a1[k], s2 = a2[k], s3 = a3[k];
    const v4d x0 = {s0, s0, s0, s0}, x1 = {s1, s1, s1, s1}, x2 = {s2, s2, s2, s2}, x3 = {s3, s3, s3, s3};
    c00 += x0 * b0;
    c01 += x0 * b1;
    c10 += x1 * b0;
    c11 += x1 * b1;
    c20 += x2 * b0;
    c21 += x2 * b1;
    c30 += x3 * b0;
    c31 += x3 * b1;
  }
  const v4d* acc[8] = {&c00, &c01, &c10, &c11, &c20, &c21, &c30, &c31};
  for (int i = 0; i < 8; ++i) std::memcpy(out + i * 4, acc[i], sizeof(v4d));
}

}  // namespace hiexp::cluster
