// Agglomerative clustering core: condensed distances and the linkage algorithms that scipy.cluster.hierarchy uses
// (fastcluster's MST, nearest-neighbour chain and generic algorithm). No N-API here: the binding layer and the
// trainer call the same functions.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace hiexp::cluster {

// Same order as scipy's linkage_methods table, so that a method code means the same thing in both.
enum class Method { Single = 0, Complete, Average, Centroid, Median, Ward, Weighted };
enum class Metric { Euclidean = 0, Cosine, Precomputed };
// Which code computes the distance blocks (options.gram, named after the Gram kernels it once chose between): hiexp's
// register-tiled kernel, or libtorch's elementwise kernels applying the same formula (much slower; an independent
// cross-check). Both give scipy's pdist bit for bit.
enum class GramKernel { Builtin = 0, Torch };

const char* methodName(Method m);

// Progress: phase ("distances" | "linkage") and the fraction of it done, in [0, 1]. Called from worker threads'
// caller only (never from inside a parallel region), at most about 200 times per phase.
using Progress = std::function<void(const char* phase, double fraction)>;

// A large array of doubles on 2 MiB-aligned memory that the kernel is asked to back with transparent huge pages:
// the linkage scans read the condensed matrix column-wise (one entry per row), and with 4 KiB pages nearly every
// such read is a TLB miss. (numpy asks the same for its large arrays, so scipy has this too.)
class HugeBuffer {
 public:
  HugeBuffer() = default;
  explicit HugeBuffer(size_t count);
  ~HugeBuffer();
  HugeBuffer(HugeBuffer&& other) noexcept : data_(other.data_), size_(other.size_) {
    other.data_ = nullptr;
    other.size_ = 0;
  }
  HugeBuffer& operator=(HugeBuffer&& other) noexcept;
  HugeBuffer(const HugeBuffer&) = delete;
  HugeBuffer& operator=(const HugeBuffer&) = delete;
  double* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  double* data_ = nullptr;
  size_t size_ = 0;
};

// Number of entries of a condensed matrix of n observations, n(n-1)/2.
inline int64_t condensedSize(int64_t n) { return n * (n - 1) / 2; }

// Throws RangeError naming `what` when n(n-1)/2 doubles would not fit in this machine's memory.
void checkCondensedFits(int64_t n, const std::string& what);

// Checks that the n x d row-major points are finite (and, for cosine, not all-zero rows).
void checkPoints(const double* X, int64_t n, int64_t d, Metric metric);
// Checks that a condensed vector is finite and non-negative.
void checkCondensed(const double* D, int64_t size);

// Condensed pairwise distances of the n x d row-major points X into `out` (n(n-1)/2 entries), in scipy's pdist
// order and formulas (euclidean: sqrt(sum (u-v)^2); cosine: 1 - u.v / (|u| |v|), clipped to [0, 2]).
void pairwiseDistances(const double* X, int64_t n, int64_t d, Metric metric, GramKernel kernel, double* out,
                       const Progress& progress);

// Linkage of the condensed distances D (overwritten: it becomes the inter-cluster distances). Returns the
// (n-1) x 4 row-major matrix in scipy's format and merge order.
std::vector<double> linkage(double* D, int64_t n, Method method, const Progress& progress);

// Points packed for the distance tiles (distance_tiles.cc): rows for the broadcast operand, k-major panels of kPanel
// points for the vector operand.
struct PackedPoints {
  int64_t n = 0, d = 0, nPadded = 0;
  std::vector<double> rows;    // (nPadded + kTileRows) x d, row-major, zero rows past n
  std::vector<double> panels;  // nPadded / kPanel panels, each d x kPanel (k-major)
};
// Rows per register tile: 8 x 8 needs 8 accumulators of 8 lanes plus operands, which fits AVX-512's 32 vector
// registers; with 16 registers (AVX2, two per accumulator) 6 rows keep everything in registers.
#if defined(__AVX512F__)
constexpr int kTileRows = 8;
#else
constexpr int kTileRows = 6;
#endif
constexpr int kPanel = 8;
PackedPoints packPoints(const double* X, int64_t n, int64_t d);
// Rows [r0, r0 + kTileRows) against panel p (points [p*kPanel, (p+1)*kPanel)) into out[kTileRows][kPanel]:
// scipy's sequential sum of squared differences (euclidean, before the square root) ...
void squaredDistanceTile(const PackedPoints& P, int64_t r0, int64_t panel, double* out);
// ... or scipy's two-lane dot product (cosine: even and odd coordinates summed apart, then added, then the odd tail).
void dotTwoLanesTile(const PackedPoints& P, int64_t r0, int64_t panel, double* out);

}  // namespace hiexp::cluster
