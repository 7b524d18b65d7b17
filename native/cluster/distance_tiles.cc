// The register-tiled kernel behind the distance matrix: a kTileRows x 8 block of pairs per call, each pair summed in
// exactly the order scipy's pdist sums it (one running sum over the coordinates for euclidean, an even and an odd
// lane for cosine), so that every distance is bit-identical to scipy's. The 8 pairs of a row sit in the 8 lanes of
// one vector (GCC vector extensions lower it to one AVX-512 register or two AVX2 ones); a lane's arithmetic is a
// sequence of IEEE operations, the same as scipy's scalar loop. Exact values are what make the linkage equal
// scipy's on tie-prone data (decimal grids): a last-digit error turns an exact tie into a strict order.
#include <cstring>

#include "cluster/cluster.h"

// No fused multiply-add: scipy's pdist is compiled without contraction, and each lane must round as it does.
#pragma GCC optimize("fp-contract=off")

namespace hiexp::cluster {

namespace {
typedef double v8d __attribute__((vector_size(64)));
typedef double v8du __attribute__((vector_size(64), aligned(8)));
static_assert(kPanel == 8, "one v8d holds one panel row");

inline v8d load(const double* p) { return *reinterpret_cast<const v8du*>(p); }
inline v8d splat(double s) { return (v8d){s, s, s, s, s, s, s, s}; }
}  // namespace

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

void squaredDistanceTile(const PackedPoints& P, int64_t r0, int64_t panel, double* out) {
  const int64_t d = P.d;
  const double* a = P.rows.data() + r0 * d;
  const double* b = P.panels.data() + panel * d * kPanel;
  v8d acc[kTileRows];
  for (int r = 0; r < kTileRows; ++r) acc[r] = splat(0.0);
  for (int64_t k = 0; k < d; ++k) {
    const v8d bk = load(b + k * kPanel);
#pragma GCC unroll 8
    for (int r = 0; r < kTileRows; ++r) {
      const v8d t = splat(a[r * d + k]) - bk;  // scipy: diff = x - y; dist += diff * diff
      acc[r] += t * t;
    }
  }
  for (int r = 0; r < kTileRows; ++r) std::memcpy(out + r * kPanel, &acc[r], sizeof(v8d));
}

void dotTwoLanesTile(const PackedPoints& P, int64_t r0, int64_t panel, double* out) {
  const int64_t d = P.d, pairs = d / 2 * 2;
  const double* b = P.panels.data() + panel * d * kPanel;
  // Four rows at a time: two accumulators per row would not fit the register file for a whole tile.
  for (int r4 = 0; r4 < kTileRows; r4 += 4) {
    const int rows = kTileRows - r4 < 4 ? kTileRows - r4 : 4;
    const double* a = P.rows.data() + (r0 + r4) * d;
    v8d even[4], odd[4];
    for (int r = 0; r < 4; ++r) even[r] = odd[r] = splat(0.0);
    for (int64_t k = 0; k < pairs; k += 2) {
      const v8d b0 = load(b + k * kPanel), b1 = load(b + (k + 1) * kPanel);
      for (int r = 0; r < rows; ++r) {
        even[r] += splat(a[r * d + k]) * b0;
        odd[r] += splat(a[r * d + k + 1]) * b1;
      }
    }
    for (int r = 0; r < rows; ++r) {
      v8d s = even[r] + odd[r];
      for (int64_t k = pairs; k < d; ++k) s += splat(a[r * d + k]) * load(b + k * kPanel);
      std::memcpy(out + (r4 + r) * kPanel, &s, sizeof(v8d));
    }
  }
}

}  // namespace hiexp::cluster
