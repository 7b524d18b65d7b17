// Condensed pairwise distances in blocks of exact tiles (distance_tiles.cc), or, with options.gram 'torch', the same
// formula through libtorch's elementwise kernels. Either way each distance is scipy's pdist value bit for bit.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <new>

#include <algorithm>
#include <cmath>
#include <vector>

#include "cluster/cluster.h"
#include "common/errors.h"

// scipy's pdist is compiled without FMA contraction; every path below must round the same way.
#pragma GCC optimize("fp-contract=off")

namespace hiexp::cluster {

namespace {

constexpr int64_t kRowBlock = kTileRows * 8;  // a multiple of the tile height

// scipy's cosine (and its row norms) accumulate in two lanes, even and odd elements (its SSE2 build), then add the
// odd tail; the same order here gives the same bits.
double dotTwoLanes(const double* u, const double* v, int64_t d) {
  double even = 0.0, odd = 0.0;
  const int64_t pairs = d / 2 * 2;
  for (int64_t k = 0; k < pairs; k += 2) {
    even += u[k] * v[k];
    odd += u[k + 1] * v[k + 1];
  }
  double s = even + odd;
  for (int64_t k = pairs; k < d; ++k) s += u[k] * v[k];
  return s;
}

double cosineFromDot(double dot, double normU, double normV) {
  double c = dot / (normU * normV);
  if (std::fabs(c) > 1.0) c = std::copysign(1.0, c);  // rounding can leave |cos| just above 1
  return 1.0 - c;
}

inline int64_t rowBaseOf(int64_t n, int64_t i) { return n * i - i * (i + 1) / 2 - i - 1; }

}  // namespace

HugeBuffer::HugeBuffer(size_t count) : size_(count) {
  if (count == 0) return;
  constexpr size_t kHuge = size_t(2) << 20;
  const size_t bytes = (count * sizeof(double) + kHuge - 1) / kHuge * kHuge;
  void* p = nullptr;
  if (posix_memalign(&p, kHuge, bytes) != 0 || p == nullptr) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  madvise(p, bytes, MADV_HUGEPAGE);  // advice only: without THP this is a no-op
#endif
  data_ = static_cast<double*>(p);
}

HugeBuffer::~HugeBuffer() { std::free(data_); }

HugeBuffer& HugeBuffer::operator=(HugeBuffer&& other) noexcept {
  if (this != &other) {
    std::free(data_);
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

void checkCondensedFits(int64_t n, const std::string& what) {
  const long pages = sysconf(_SC_PHYS_PAGES), pageSize = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || pageSize <= 0) return;
  // In doubles: condensedSize(n) overflows int64 for n above ~4.3e9.
  const double bytes = static_cast<double>(n) * static_cast<double>(n - 1) / 2.0 * sizeof(double);
  const double physical = static_cast<double>(pages) * static_cast<double>(pageSize);
  HX_CHECK_RANGE(bytes <= 0.85 * physical, what, " = ", n, " needs a condensed matrix of ", bytes / 1073741824.0,
                 " GiB, more than this machine's memory (", physical / 1073741824.0, " GiB) allows");
}

void checkPoints(const double* X, int64_t n, int64_t d, Metric metric) {
  for (int64_t i = 0; i < n; ++i) {
    double sq = 0.0;
    for (int64_t k = 0; k < d; ++k) {
      const double x = X[i * d + k];
      HX_CHECK_RANGE(std::isfinite(x), "points[", i * d + k, "] (row ", i, ", column ", k,
                     ") must be finite, got ", x);
      sq += x * x;
    }
    HX_CHECK_RANGE(metric != Metric::Cosine || sq > 0.0, "points row ", i,
                   " is all zeros: its cosine distance to any point is undefined");
  }
}

void checkCondensed(const double* D, int64_t size) {
  for (int64_t i = 0; i < size; ++i) {
    HX_CHECK_RANGE(std::isfinite(D[i]), "distances[", i, "] must be finite, got ", D[i]);
    HX_CHECK_RANGE(D[i] >= 0.0, "distances[", i, "] must be non-negative, got ", D[i]);
  }
}

namespace {

// Distance of pair (i, j) from its tile entry: the sum of squares (euclidean) or the two-lane dot product (cosine).
inline double fromTile(Metric metric, double s, const std::vector<double>& norms, int64_t i, int64_t j) {
  return metric == Metric::Euclidean ? std::sqrt(s) : cosineFromDot(s, norms[i], norms[j]);
}

// options.gram 'torch': blocks of libtorch elementwise operations, each a separate rounding step in scipy's order
// (sub, mul, add per coordinate; two lanes for cosine). Memory-bound, so much slower than the tiles: it exists so
// that the tiles can be checked against code that shares none of theirs.
void torchDistances(const double* X, int64_t n, int64_t d, Metric metric, const std::vector<double>& norms,
                    double* out, const Progress& progress) {
  const at::Tensor A = at::from_blob(const_cast<double*>(X), {n, d}, at::TensorOptions().dtype(at::kDouble)).t().contiguous();
  constexpr int64_t kRows = 128, kCols = 2048;
  const double totalWork = static_cast<double>(n) * static_cast<double>(n) / 2.0;
  for (int64_t i0 = 0; i0 < n - 1; i0 += kRows) {
    const int64_t i1 = std::min(n, i0 + kRows);
    for (int64_t j0 = i0; j0 < n; j0 += kCols) {
      const int64_t j1 = std::min(n, j0 + kCols);
      auto rowsOf = [&](int64_t k) { return A[k].slice(0, i0, i1).unsqueeze(1); };
      auto colsOf = [&](int64_t k) { return A[k].slice(0, j0, j1).unsqueeze(0); };
      at::Tensor s = at::zeros({i1 - i0, j1 - j0}, at::TensorOptions().dtype(at::kDouble));
      if (metric == Metric::Euclidean) {
        for (int64_t k = 0; k < d; ++k) {
          at::Tensor t = at::sub(rowsOf(k), colsOf(k));
          s.add_(t.mul_(t));
        }
      } else {
        at::Tensor odd = at::zeros_like(s);
        const int64_t pairs = d / 2 * 2;
        for (int64_t k = 0; k < pairs; k += 2) {
          s.add_(at::mul(rowsOf(k), colsOf(k)));
          odd.add_(at::mul(rowsOf(k + 1), colsOf(k + 1)));
        }
        s.add_(odd);
        for (int64_t k = pairs; k < d; ++k) s.add_(at::mul(rowsOf(k), colsOf(k)));
      }
      const double* g = s.data_ptr<double>();
      const int64_t ld = j1 - j0;
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t base = rowBaseOf(n, i);
        for (int64_t j = std::max(j0, i + 1); j < j1; ++j) out[base + j] = fromTile(metric, g[(i - i0) * ld + (j - j0)], norms, i, j);
      }
    }
    if (progress) progress("distances", std::min(1.0, (static_cast<double>(i1) * n - i1 * 0.5 * i1) / totalWork));
  }
}

}  // namespace

void pairwiseDistances(const double* X, int64_t n, int64_t d, Metric metric, GramKernel kernel, double* out,
                       const Progress& progress) {
  std::vector<double> norms;
  if (metric == Metric::Cosine) {
    norms.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) norms[i] = std::sqrt(dotTwoLanes(X + i * d, X + i * d, d));
  }
  if (kernel == GramKernel::Torch) return torchDistances(X, n, d, metric, norms, out, progress);

  const PackedPoints P = packPoints(X, n, d);
  const auto tileOf = metric == Metric::Euclidean ? squaredDistanceTile : dotTwoLanesTile;
  const double totalWork = static_cast<double>(n) * static_cast<double>(n) / 2.0;
  const int64_t blocks = (n + kRowBlock - 1) / kRowBlock;
  // Row blocks in the order first, last, second, second-to-last, …: neighbours in this order carry about the same
  // triangular work, so a static split of any even run of them between threads is balanced.
  std::vector<int64_t> order;
  for (int64_t lo = 0, hi = blocks - 1; lo <= hi; ++lo, --hi) {
    order.push_back(lo);
    if (hi != lo) order.push_back(hi);
  }
  const int64_t round = std::max<int64_t>(2, 4 * at::get_num_threads());
  double done = 0.0;
  for (int64_t r0 = 0; r0 < static_cast<int64_t>(order.size()); r0 += round) {
    const int64_t r1 = std::min<int64_t>(order.size(), r0 + round);
    at::parallel_for(r0, r1, 1, [&](int64_t b, int64_t e) {
      double tile[kTileRows * kPanel];
      for (int64_t o = b; o < e; ++o) {
        const int64_t i0 = order[o] * kRowBlock, i1 = std::min(n, i0 + kRowBlock);
        for (int64_t p = i0 / kPanel; p < P.nPadded / kPanel; ++p) {
          const int64_t j0 = p * kPanel;
          for (int64_t t = i0; t < i1; t += kTileRows) {
            if (j0 + kPanel - 1 <= t) continue;  // the whole tile is on or below the diagonal
            tileOf(P, t, p, tile);
            for (int r = 0; r < kTileRows; ++r) {
              const int64_t i = t + r;
              if (i >= i1) break;
              const int64_t base = rowBaseOf(n, i);
              for (int c = 0; c < kPanel; ++c) {
                const int64_t j = j0 + c;
                if (j <= i || j >= n) continue;
                out[base + j] = fromTile(metric, tile[r * kPanel + c], norms, i, j);
              }
            }
          }
        }
      }
    });
    for (int64_t o = r0; o < r1; ++o) {
      const double i0 = static_cast<double>(order[o] * kRowBlock);
      const double rows = std::min<double>(kRowBlock, static_cast<double>(n) - i0);
      done += rows * (static_cast<double>(n) - i0 - rows / 2.0);
    }
    if (progress) progress("distances", std::min(1.0, done / totalWork));
  }
}

}  // namespace hiexp::cluster
