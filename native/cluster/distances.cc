// Condensed pairwise distances in blocks: Gram tiles from the register-tiled kernel (gram.cc) or libtorch's at::mm,
// turned into distances in the same pass. Pairs that are close (where the Gram identity |u|^2 + |v|^2 - 2 u.v loses
// digits, and where exact ties such as duplicated points live) are recomputed with scipy's own sequential formula,
// so that they equal scipy's pdist bit for bit.
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

// scipy's pdist is compiled without FMA contraction; the exact paths below must round the same way.
#pragma GCC optimize("fp-contract=off")

namespace hiexp::cluster {

namespace {

// A Gram-identity distance is trusted when d^2 > kCloseEuclidean * (|u|^2 + |v|^2) (then its relative error is
// below ~1e-13); closer pairs are recomputed exactly. Same idea for cosine with 1 - cos < kCloseCosine.
constexpr double kCloseEuclidean = 1e-2;
constexpr double kCloseCosine = 1e-2;
constexpr int64_t kRowBlock = kTileRows * 8;  // a multiple of the tile height

double exactSquaredDistance(const double* u, const double* v, int64_t d) {
  double s = 0.0;
  for (int64_t k = 0; k < d; ++k) {
    const double t = u[k] - v[k];
    s += t * t;
  }
  return s;
}

double exactDot(const double* u, const double* v, int64_t d) {
  double s = 0.0;
  for (int64_t k = 0; k < d; ++k) s += u[k] * v[k];
  return s;
}

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

// Shift each column by its mean rounded to a coarse binary grid: distances are translation invariant, the Gram
// identity loses far fewer digits on centred data, and small integer or dyadic data stay exact.
std::vector<double> centredCopy(const double* X, int64_t n, int64_t d) {
  std::vector<double> shift(static_cast<size_t>(d), 0.0);
  for (int64_t k = 0; k < d; ++k) {
    double sum = 0.0, maxAbs = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      sum += X[i * d + k];
      maxAbs = std::max(maxAbs, std::fabs(X[i * d + k]));
    }
    if (maxAbs == 0.0) continue;
    const int e = std::ilogb(maxAbs) - 10;
    shift[k] = std::ldexp(std::nearbyint(std::ldexp(sum / static_cast<double>(n), -e)), e);
  }
  std::vector<double> Y(static_cast<size_t>(n * d));
  at::parallel_for(0, n, 256, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      for (int64_t k = 0; k < d; ++k) Y[i * d + k] = X[i * d + k] - shift[k];
  });
  return Y;
}

struct Epilogue {
  const double* X;       // original points (exact recomputation)
  const double* norms;   // euclidean: squared norms of the centred points; cosine: norms of the points
  int64_t n, d;
  Metric metric;
  double* out;

  // Distance of pair (i, j), i < j, from their Gram entry g.
  inline void store(int64_t i, int64_t j, int64_t rowBase, double g) const {
    double value;
    if (metric == Metric::Euclidean) {
      const double ss = norms[i] + norms[j];
      double d2 = ss - 2.0 * g;
      if (!(d2 > kCloseEuclidean * ss)) d2 = exactSquaredDistance(X + i * d, X + j * d, d);
      value = std::sqrt(std::max(d2, 0.0));
    } else {
      value = cosineFromDot(g, norms[i], norms[j]);
      if (!(value > kCloseCosine)) value = cosineFromDot(dotTwoLanes(X + i * d, X + j * d, d), norms[i], norms[j]);
    }
    out[rowBase + j] = value;
  }
};

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
  const double bytes = static_cast<double>(condensedSize(n)) * sizeof(double);
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

void pairwiseDistances(const double* X, int64_t n, int64_t d, Metric metric, GramKernel kernel, double* out,
                       const Progress& progress) {
  // Euclidean Gram blocks come from the centred points, cosine ones from the points themselves.
  std::vector<double> centred;
  const double* G = X;
  if (metric == Metric::Euclidean) {
    centred = centredCopy(X, n, d);
    G = centred.data();
  }
  std::vector<double> norms(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    norms[i] = metric == Metric::Cosine ? std::sqrt(dotTwoLanes(G + i * d, G + i * d, d)) : exactDot(G + i * d, G + i * d, d);
  }
  const Epilogue epi{X, norms.data(), n, d, metric, out};
  const double totalWork = static_cast<double>(n) * static_cast<double>(n) / 2.0;

  if (kernel == GramKernel::Torch) {
    auto A = at::from_blob(const_cast<double*>(G), {n, d}, at::TensorOptions().dtype(at::kDouble));
    const int64_t block = 256;
    for (int64_t i0 = 0; i0 < n - 1; i0 += block) {
      const int64_t i1 = std::min(n, i0 + block);
      at::Tensor gram = at::mm(A.slice(0, i0, i1), A.slice(0, i0, n).t()).contiguous();
      const double* g = gram.data_ptr<double>();
      const int64_t ld = n - i0;
      at::parallel_for(i0, i1, 8, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          const int64_t base = rowBaseOf(n, i);
          for (int64_t j = i + 1; j < n; ++j) epi.store(i, j, base, g[(i - i0) * ld + (j - i0)]);
        }
      });
      if (progress) progress("distances", std::min(1.0, (static_cast<double>(i1) * n - i1 * 0.5 * i1) / totalWork));
    }
    return;
  }

  const PackedPoints P = packPoints(G, n, d);
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
            gramTile(P, t, p, tile);
            for (int r = 0; r < kTileRows; ++r) {
              const int64_t i = t + r;
              if (i >= i1) break;
              const int64_t base = rowBaseOf(n, i);
              for (int c = 0; c < kPanel; ++c) {
                const int64_t j = j0 + c;
                if (j <= i || j >= n) continue;
                epi.store(i, j, base, tile[r * kPanel + c]);
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
