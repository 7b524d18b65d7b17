// The three linkage algorithms scipy.cluster.hierarchy.linkage uses (after Müllner, "Modern hierarchical,
// agglomerative clustering algorithms", arXiv:1109.2378, as implemented in scipy's _hierarchy.pyx):
//   single                             -> Prim's minimum spanning tree, then a stable sort by height and relabelling
//   complete, average, weighted, ward  -> nearest-neighbour chain, then the same sort and relabelling
//   centroid, median                   -> the generic algorithm (lower-bound neighbour list in a binary heap)
// Ties are broken exactly as there (strict '<' scans in index order, the previous chain element preferred), and the
// Lance–Williams updates use the same expressions in the same order, so the output compares row by row.
// Differences from scipy that do not change the result: scans visit only live clusters (a sorted list instead of a
// size check over all n), and long scans and updates are split across libtorch's intra-op threads.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

#include "cluster/cluster.h"
#include "common/errors.h"

// The update formulas must round like scipy's (compiled without FMA contraction).
#pragma GCC optimize("fp-contract=off")

namespace hiexp::cluster {

const char* methodName(Method m) {
  switch (m) {
    case Method::Single: return "single";
    case Method::Complete: return "complete";
    case Method::Average: return "average";
    case Method::Centroid: return "centroid";
    case Method::Median: return "median";
    case Method::Ward: return "ward";
    case Method::Weighted: return "weighted";
  }
  return "?";
}

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
// Below this many live clusters a scan is not worth a parallel region.
constexpr int64_t kParallelScan = 3072;

// Lance–Williams update: distance from cluster i to the union of x and y (scipy's _hierarchy_distance_update.pxi).
inline double update(Method m, double dxi, double dyi, double dxy, int64_t sx, int64_t sy, int64_t si) {
  switch (m) {
    case Method::Single: return dxi < dyi ? dxi : dyi;
    case Method::Complete: return dxi > dyi ? dxi : dyi;
    case Method::Average: return (sx * dxi + sy * dyi) / static_cast<double>(sx + sy);
    case Method::Centroid:
      return std::sqrt((((sx * dxi * dxi) + (sy * dyi * dyi)) - (static_cast<double>(sx * sy) * dxy * dxy) /
                                                                     static_cast<double>(sx + sy)) /
                       static_cast<double>(sx + sy));
    case Method::Median: return std::sqrt(0.5 * (dxi * dxi + dyi * dyi) - 0.25 * dxy * dxy);
    case Method::Ward: {
      const double t = 1.0 / static_cast<double>(sx + sy + si);
      return std::sqrt(static_cast<double>(si + sx) * t * dxi * dxi + static_cast<double>(si + sy) * t * dyi * dyi -
                       static_cast<double>(si) * t * dxy * dxy);
    }
    case Method::Weighted: return 0.5 * (dxi + dyi);
  }
  return 0.0;
}

// Condensed-matrix addressing: entry (i, j), i < j, lives at base[i] + j.
struct Condensed {
  double* D;
  int64_t n;
  std::vector<int64_t> base;
  Condensed(double* d, int64_t count) : D(d), n(count), base(static_cast<size_t>(count)) {
    for (int64_t i = 0; i < n; ++i) base[i] = n * i - i * (i + 1) / 2 - i - 1;
  }
  inline double& at(int64_t i, int64_t j) const { return i < j ? D[base[i] + j] : D[base[j] + i]; }
  // Column-wise reads (one row apart) defeat the hardware prefetcher; the scans ask for them a few steps ahead.
  inline void prefetch(int64_t i, int64_t j) const { __builtin_prefetch(i < j ? D + base[i] + j : D + base[j] + i); }
};
constexpr int64_t kAhead = 12;

struct Best {
  double value;
  int64_t index;
};
// Smaller value wins; on a tie the smaller index, which is what a sequential strict-'<' scan in index order finds.
inline Best better(const Best& a, const Best& b) {
  if (b.value < a.value || (b.value == a.value && b.index < a.index && b.index >= 0)) return b;
  if (a.index < 0) return b;
  return a;
}

// First live cluster (in index order) at the minimum distance from x, over live[0..m) minus x.
Best nearest(const Condensed& C, const std::vector<int64_t>& live, int64_t x) {
  const int64_t m = static_cast<int64_t>(live.size());
  auto scan = [&](int64_t b, int64_t e, Best acc) {
    for (int64_t p = b; p < e; ++p) {
      if (p + kAhead < e) C.prefetch(live[p + kAhead], x);
      const int64_t i = live[p];
      if (i == x) continue;
      const double dist = i < x ? C.D[C.base[i] + x] : C.D[C.base[x] + i];
      if (dist < acc.value) acc = {dist, i};
    }
    return acc;
  };
  const Best none{kInf, -1};
  if (m < kParallelScan) return scan(0, m, none);
  return at::parallel_reduce(0, m, kParallelScan / 4, none, scan, better);
}

class Heap {  // binary heap keyed 0..size-1, same sift rules as scipy's _structures.pxi
 public:
  explicit Heap(const std::vector<double>& values)
      : size_(static_cast<int64_t>(values.size())), values_(values), indexByKey_(values.size()),
        keyByIndex_(values.size()) {
    std::iota(indexByKey_.begin(), indexByKey_.end(), 0);
    std::iota(keyByIndex_.begin(), keyByIndex_.end(), 0);
    for (int64_t i = size_ / 2 - 1; i >= 0; --i) siftDown(i);
  }
  std::pair<int64_t, double> min() const { return {keyByIndex_[0], values_[0]}; }
  void removeMin() {
    swap(0, size_ - 1);
    --size_;
    siftDown(0);
  }
  void change(int64_t key, double value) {
    const int64_t index = indexByKey_[key];
    const double old = values_[index];
    values_[index] = value;
    if (value < old) siftUp(index);
    else siftDown(index);
  }

 private:
  void siftUp(int64_t index) {
    int64_t parent = (index - 1) >> 1;
    while (index > 0 && values_[parent] > values_[index]) {
      swap(index, parent);
      index = parent;
      parent = (index - 1) >> 1;
    }
  }
  void siftDown(int64_t index) {
    int64_t child = 2 * index + 1;
    while (child < size_) {
      if (child + 1 < size_ && values_[child + 1] < values_[child]) ++child;
      if (values_[index] > values_[child]) {
        swap(index, child);
        index = child;
        child = 2 * index + 1;
      } else {
        break;
      }
    }
  }
  void swap(int64_t i, int64_t j) {
    std::swap(values_[i], values_[j]);
    const int64_t ki = keyByIndex_[i], kj = keyByIndex_[j];
    keyByIndex_[i] = kj;
    keyByIndex_[j] = ki;
    indexByKey_[ki] = j;
    indexByKey_[kj] = i;
  }
  int64_t size_;
  std::vector<double> values_;
  std::vector<int64_t> indexByKey_, keyByIndex_;
};

void eraseSorted(std::vector<int64_t>& live, int64_t x) {
  auto it = std::lower_bound(live.begin(), live.end(), x);
  if (it != live.end() && *it == x) live.erase(it);
}

// Reports at most ~200 times over n - 1 merges.
struct Ticker {
  const Progress& progress;
  int64_t total, step, next;
  Ticker(const Progress& p, int64_t t) : progress(p), total(t), step(std::max<int64_t>(1, t / 200)), next(0) {}
  inline void at(int64_t k) {
    if (progress && k >= next) {
      progress("linkage", static_cast<double>(k) / static_cast<double>(total));
      next = k + step;
    }
  }
};

// Stable sort of the rows by height, then the union-find relabelling of scipy's label(): clusters are numbered
// n, n+1, … in merge order, each row lists the smaller id first, and column 3 holds the merged size.
std::vector<double> sortAndLabel(const std::vector<double>& Z, int64_t n) {
  const int64_t rows = n - 1;
  std::vector<int64_t> order(static_cast<size_t>(rows));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return Z[a * 4 + 2] < Z[b * 4 + 2]; });
  std::vector<int64_t> parent(static_cast<size_t>(2 * n - 1)), size(static_cast<size_t>(2 * n - 1), 1);
  std::iota(parent.begin(), parent.end(), 0);
  auto find = [&](int64_t x) {
    int64_t root = x;
    while (parent[root] != root) root = parent[root];
    while (parent[x] != root) {
      const int64_t next = parent[x];
      parent[x] = root;
      x = next;
    }
    return root;
  };
  std::vector<double> out(static_cast<size_t>(rows * 4));
  int64_t nextLabel = n;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t src = order[r];
    const int64_t a = find(static_cast<int64_t>(Z[src * 4])), b = find(static_cast<int64_t>(Z[src * 4 + 1]));
    out[r * 4] = static_cast<double>(std::min(a, b));
    out[r * 4 + 1] = static_cast<double>(std::max(a, b));
    out[r * 4 + 2] = Z[src * 4 + 2];
    parent[a] = parent[b] = nextLabel;
    size[nextLabel] = size[a] + size[b];
    out[r * 4 + 3] = static_cast<double>(size[nextLabel]);
    ++nextLabel;
  }
  return out;
}

std::vector<double> mstSingle(const Condensed& C, const Progress& progress) {
  const int64_t n = C.n;
  std::vector<double> Z(static_cast<size_t>((n - 1) * 4));
  std::vector<double> reach(static_cast<size_t>(n), kInf);  // distance from the tree to each outside point
  std::vector<int64_t> outside(static_cast<size_t>(n));
  std::iota(outside.begin(), outside.end(), 0);
  Ticker tick(progress, n - 1);
  int64_t x = 0, y = 0;
  for (int64_t k = 0; k < n - 1; ++k) {
    tick.at(k);
    eraseSorted(outside, x);
    const int64_t m = static_cast<int64_t>(outside.size());
    auto scan = [&](int64_t b, int64_t e, Best acc) {
      for (int64_t p = b; p < e; ++p) {
        if (p + kAhead < e) C.prefetch(outside[p + kAhead], x);
        const int64_t i = outside[p];
        const double dist = i < x ? C.D[C.base[i] + x] : C.D[C.base[x] + i];
        if (reach[i] > dist) reach[i] = dist;
        if (reach[i] < acc.value) acc = {reach[i], i};
      }
      return acc;
    };
    const Best none{kInf, -1};
    const Best best = m < kParallelScan ? scan(0, m, none) : at::parallel_reduce(0, m, kParallelScan / 4, none, scan, better);
    y = best.index >= 0 ? best.index : outside[0];
    Z[k * 4] = static_cast<double>(x);
    Z[k * 4 + 1] = static_cast<double>(y);
    Z[k * 4 + 2] = best.index >= 0 ? best.value : reach[y];
    x = y;
  }
  return sortAndLabel(Z, n);
}

std::vector<double> nnChain(const Condensed& C, Method method, const Progress& progress) {
  const int64_t n = C.n;
  std::vector<double> Z(static_cast<size_t>((n - 1) * 4));
  std::vector<int64_t> size(static_cast<size_t>(n), 1), live(static_cast<size_t>(n)), chain;
  std::iota(live.begin(), live.end(), 0);
  chain.reserve(static_cast<size_t>(n));
  Ticker tick(progress, n - 1);
  for (int64_t k = 0; k < n - 1; ++k) {
    tick.at(k);
    if (chain.empty()) chain.push_back(live.front());
    int64_t x, y;
    double current;
    for (;;) {
      x = chain.back();
      // The previous chain element is preferred on ties, which keeps the chain from cycling.
      const bool hasPrev = chain.size() > 1;
      y = hasPrev ? chain[chain.size() - 2] : -1;
      current = hasPrev ? C.at(x, y) : kInf;
      const Best best = nearest(C, live, x);
      if (best.index >= 0 && best.value < current) {
        current = best.value;
        y = best.index;
      }
      if (y < 0) {  // every distance from x is NaN (non-euclidean input to ward): take the first live cluster
        y = live.front() == x ? live[1] : live.front();
        current = C.at(x, y);
      }
      if (hasPrev && y == chain[chain.size() - 2]) break;
      chain.push_back(y);
    }
    chain.pop_back();
    chain.pop_back();
    if (x > y) std::swap(x, y);
    const int64_t nx = size[x], ny = size[y];
    Z[k * 4] = static_cast<double>(x);
    Z[k * 4 + 1] = static_cast<double>(y);
    Z[k * 4 + 2] = current;
    Z[k * 4 + 3] = static_cast<double>(nx + ny);
    size[x] = 0;
    size[y] = nx + ny;
    eraseSorted(live, x);
    const int64_t m = static_cast<int64_t>(live.size());
    auto apply = [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) {
        if (p + kAhead < e) {
          C.prefetch(live[p + kAhead], x);
          C.prefetch(live[p + kAhead], y);
        }
        const int64_t i = live[p];
        if (i == y) continue;
        double& diy = C.at(i, y);
        diy = update(method, C.at(i, x), diy, current, nx, ny, size[i]);
      }
    };
    if (m < kParallelScan) apply(0, m);
    else at::parallel_for(0, m, kParallelScan / 4, apply);
  }
  return sortAndLabel(Z, n);
}

// scipy's find_min_dist: nearest live cluster with a larger index.
std::pair<int64_t, double> nearestAbove(const Condensed& C, const std::vector<int64_t>& size, int64_t x) {
  double best = kInf;
  int64_t y = -1;
  for (int64_t i = x + 1; i < C.n; ++i) {
    if (size[i] == 0) continue;
    const double dist = C.D[C.base[x] + i];
    if (dist < best) {
      best = dist;
      y = i;
    }
  }
  return {y, best};
}

[[noreturn]] void nonEuclidean(Method method) {
  throwRange("linkage: method '", methodName(method),
             "' met a distance that is not a finite number (NaN or infinity from its Lance-Williams update): the "
             "distances are not euclidean; use metric 'euclidean' on raw points or give euclidean distances");
}

std::vector<double> generic(const Condensed& C, Method method, const Progress& progress) {
  const int64_t n = C.n;
  std::vector<double> Z(static_cast<size_t>((n - 1) * 4));
  std::vector<int64_t> size(static_cast<size_t>(n), 1), clusterId(static_cast<size_t>(n)),
      neighbor(static_cast<size_t>(n - 1));
  std::iota(clusterId.begin(), clusterId.end(), 0);
  std::vector<double> minDist(static_cast<size_t>(n - 1));
  for (int64_t x = 0; x < n - 1; ++x) {
    auto [y, dist] = nearestAbove(C, size, x);
    if (y < 0) nonEuclidean(method);
    neighbor[x] = y;
    minDist[x] = dist;
  }
  Heap heap(minDist);
  Ticker tick(progress, n - 1);
  int64_t x = 0, y = 0;
  double dist = 0.0;
  for (int64_t k = 0; k < n - 1; ++k) {
    tick.at(k);
    for (int64_t i = 0; i < n - k; ++i) {
      std::tie(x, dist) = heap.min();
      y = neighbor[x];
      if (dist == C.D[C.base[x] + y]) break;
      auto found = nearestAbove(C, size, x);
      if (found.first < 0) nonEuclidean(method);
      y = found.first;
      dist = found.second;
      neighbor[x] = y;
      minDist[x] = dist;
      heap.change(x, dist);
    }
    heap.removeMin();
    int64_t idX = clusterId[x], idY = clusterId[y];
    const int64_t nx = size[x], ny = size[y];
    if (idX > idY) std::swap(idX, idY);
    Z[k * 4] = static_cast<double>(idX);
    Z[k * 4 + 1] = static_cast<double>(idY);
    Z[k * 4 + 2] = dist;
    Z[k * 4 + 3] = static_cast<double>(nx + ny);
    size[x] = 0;
    size[y] = nx + ny;
    clusterId[y] = n + k;
    for (int64_t z = 0; z < n; ++z) {
      if (size[z] == 0 || z == y) continue;
      double& dzy = C.at(z, y);
      dzy = update(method, C.at(z, x), dzy, dist, nx, ny, size[z]);
    }
    for (int64_t z = 0; z < x; ++z)
      if (size[z] > 0 && neighbor[z] == x) neighbor[z] = y;
    for (int64_t z = 0; z < y; ++z) {
      if (size[z] == 0) continue;
      const double d = C.D[C.base[z] + y];
      if (d < minDist[z]) {
        neighbor[z] = y;
        minDist[z] = d;
        heap.change(z, d);
      }
    }
    if (y < n - 1) {
      auto [z, d] = nearestAbove(C, size, y);
      if (z != -1) {
        neighbor[y] = z;
        minDist[y] = d;
        heap.change(y, d);
      }
    }
  }
  return Z;
}

}  // namespace

std::vector<double> linkage(double* D, int64_t n, Method method, const Progress& progress) {
  HX_CHECK_RANGE(n >= 2, "n must be at least 2, got ", n);
  const Condensed C(D, n);
  std::vector<double> Z;
  switch (method) {
    case Method::Single: Z = mstSingle(C, progress); break;
    case Method::Complete:
    case Method::Average:
    case Method::Weighted:
    case Method::Ward: Z = nnChain(C, method, progress); break;
    case Method::Centroid:
    case Method::Median: Z = generic(C, method, progress); break;
  }
  for (int64_t r = 0; r < n - 1; ++r)
    if (!std::isfinite(Z[r * 4 + 2])) nonEuclidean(method);
  if (progress) progress("linkage", 1.0);
  return Z;
}

}  // namespace hiexp::cluster
