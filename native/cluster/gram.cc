// The register-tiled Gram kernel behind the distance matrix: a kTileRows x 8 block of dot products per call, kept in vector
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
  P.rows.assign(static_cast<size_t>((P.nPadded + kTileRows) * d), 0.0);
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
  const double* a = P.rows.data() + r0 * d;
  const double* b = P.panels.data() + panel * d * kPanel;
  v4d c0[kTileRows], c1[kTileRows];
  for (int r = 0; r < kTileRows; ++r) c0[r] = c1[r] = (v4d){0, 0, 0, 0};
  for (int64_t k = 0; k < d; ++k) {
    const v4d b0 = *reinterpret_cast<const v4du*>(b + k * kPanel);
    const v4d b1 = *reinterpret_cast<const v4du*>(b + k * kPanel + 4);
#pragma GCC unroll 8
    for (int r = 0; r < kTileRows; ++r) {
      const double s = a[r * d + k];
      const v4d x = {s, s, s, s};
      c0[r] += x * b0;
      c1[r] += x * b1;
    }
  }
  for (int r = 0; r < kTileRows; ++r) {
    std::memcpy(out + r * kPanel, &c0[r], sizeof(v4d));
    std::memcpy(out + r * kPanel + 4, &c1[r], sizeof(v4d));
  }
}

}  // namespace hiexp::cluster
