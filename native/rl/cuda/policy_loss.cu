// CUDA twin of cpu/policy_loss.cc: a block per row. Pass 1 sums each row's mask (and GSPO log-ratio), pass 2 reduces the
// batch totals the aggregation needs, pass 3 writes the gradient and per-row sums, pass 4 reduces them.
#include <cuda_runtime.h>

#include <cstdio>
#include <stdexcept>
#include <string>

#include "rl/cuda/policy_loss.h"
#include "rl/policy_loss_math.h"

namespace hiexp::rl::cuda {

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float deviceExp(float x) { return expf(x); }
__device__ __forceinline__ bool finiteF(float x) { return fabsf(x) <= 3.402823466e38f; }

template <int N>
__device__ void blockSum(double (&v)[N], double (*shared)[kThreads]) {
  for (int k = 0; k < N; ++k) shared[k][threadIdx.x] = v[k];
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
    if (threadIdx.x < stride) {
      for (int k = 0; k < N; ++k) shared[k][threadIdx.x] += shared[k][threadIdx.x + stride];
    }
    __syncthreads();
  }
  for (int k = 0; k < N; ++k) v[k] = shared[k][0];
}

__device__ __forceinline__ float maskAt(const PolicyLossBatch& x, int64_t i) {
  return x.maskU8 ? static_cast<float>(x.maskU8[i]) : x.maskF32[i];
}

// rowStats layout per row: [mask, logRatio, scale, pg, kl, clipped] then negKl, bad go to totals directly.
__global__ void rowMaskKernel(PolicyLossBatch x, double* rowStats) {
  __shared__ double shared[2][kThreads];
  const int64_t b = blockIdx.x, row = b * x.T;
  double v[2] = {0.0, 0.0};
  for (int64_t t = threadIdx.x; t < x.T; t += blockDim.x) {
    const float m = maskAt(x, row + t);
    v[0] += m;
    if (m > 0.0f) v[1] += m * (x.logp[row + t] - x.oldLogp[row + t]);
  }
  blockSum(v, shared);
  if (threadIdx.x == 0) {
    rowStats[b * 6 + 0] = v[0];
    rowStats[b * 6 + 1] = v[1];
  }
}

__global__ void batchMaskKernel(int64_t B, const double* rowStats, double* totals) {
  __shared__ double shared[2][kThreads];
  double v[2] = {0.0, 0.0};
  for (int64_t b = threadIdx.x; b < B; b += blockDim.x) {
    v[0] += rowStats[b * 6];
    v[1] += rowStats[b * 6] > 0 ? 1.0 : 0.0;
  }
  blockSum(v, shared);
  if (threadIdx.x == 0) {
    totals[kMask] = v[0];
    totals[kTotalCount] = v[1];  // non-empty rows, in the spare slot after the named totals
  }
}

__global__ void lossKernel(PolicyLossBatch x, PolicyLossOptions o, int kl, float* grad, double* rowStats,
                           double* totals) {
  __shared__ double shared[5][kThreads];
  const int64_t b = blockIdx.x, row = b * x.T;
  const double rowMask = rowStats[b * 6], M = totals[kMask], nonEmpty = totals[kTotalCount];
  const double scale = math::aggregationScale(o.aggregation, rowMask, M, nonEmpty, x.T, o.normLength);
  const bool gspo = o.algorithm == Algorithm::Gspo;
  const double seqMean = rowStats[b * 6 + 1] / fmax(1.0, rowMask);
  const float seqRatio = static_cast<float>(exp(fmin(seqMean, double(math::kSeqLogRatioMax))));
  const bool seqInRange = seqMean <= math::kSeqLogRatioMax;
  const float lowBound = float(1.0 - o.clipLow), highBound = float(1.0 + o.clipHigh);
  const float dualClip = o.dualClip ? float(*o.dualClip) : 3.402823466e38f, klCoef = float(o.klCoef);
  double v[5] = {0, 0, 0, 0, 0};  // pg, kl, clipped, negKl, bad
  for (int64_t t = threadIdx.x; t < x.T; t += blockDim.x) {
    const int64_t i = row + t;
    const float m = maskAt(x, i);
    if (!(m > 0.0f)) {
      grad[i] = 0.0f;
      continue;
    }
    const float lp = x.logp[i], old = x.oldLogp[i];
    const float A = x.tokenAdvantages ? x.advantages[i] : x.advantages[b];
    const float ref = kl ? x.refLogp[i] : 0.0f;
    if (!(finiteF(lp) && finiteF(old) && finiteF(A) && (kl == 0 || finiteF(ref)))) v[4] += 1.0;
    const float d = lp - old;
    float ratio, gradRatio;
    if (gspo) {
      ratio = seqRatio;
      gradRatio = seqInRange ? seqRatio : 0.0f;
      v[3] += m * -d;
    } else {
      const float dc = math::clampf(d, -math::kLogRatioClamp, math::kLogRatioClamp);
      ratio = deviceExp(dc);
      gradRatio = d == dc ? ratio : 0.0f;
      v[3] += m * -dc;
    }
    const math::TokenTerms term =
        math::clippedSurrogate(A, ratio, math::clampf(ratio, lowBound, highBound), gradRatio, dualClip);
    float g = term.grad;
    if (kl) {
      const math::KlTerms k = math::klPenalty(kl, lp, ref, [](float z) { return deviceExp(z); });
      v[1] += m * k.value;
      g += klCoef * k.grad;
    }
    grad[i] = static_cast<float>(m * scale) * g;
    v[0] += m * term.loss;
    v[2] += m * term.clipped;
  }
  blockSum(v, shared);
  if (threadIdx.x == 0) {
    rowStats[b * 6 + 2] = scale;
    rowStats[b * 6 + 3] = v[0];
    rowStats[b * 6 + 4] = v[1];
    rowStats[b * 6 + 5] = v[2];
    atomicAdd(&totals[kNegKl], v[3]);
    atomicAdd(&totals[kBad], v[4]);
  }
}

__global__ void totalsKernel(int64_t B, const double* rowStats, double* totals) {
  __shared__ double shared[3][kThreads];
  double v[3] = {0, 0, 0};
  for (int64_t b = threadIdx.x; b < B; b += blockDim.x) {
    const double scale = rowStats[b * 6 + 2];
    v[0] += scale * rowStats[b * 6 + 3];
    v[1] += scale * rowStats[b * 6 + 4];
    v[2] += rowStats[b * 6 + 5];
  }
  blockSum(v, shared);
  if (threadIdx.x == 0) {
    totals[kPg] = v[0];
    totals[kKl] = v[1];
    totals[kClipped] = v[2];
  }
}

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw std::runtime_error(std::string("CUDA ") + what + ": " + cudaGetErrorString(status));
}

}  // namespace

void policyLoss(const PolicyLossBatch& x, const PolicyLossOptions& o, float* grad, double* rowStats, double* totals,
                void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  const int kl = (o.klCoef > 0 && x.refLogp) ? static_cast<int>(o.klEstimator) + 1 : 0;
  // totals holds kTotalCount named slots plus one for the count of non-empty rows.
  check(cudaMemsetAsync(totals, 0, (kTotalCount + 1) * sizeof(double), s), "memset");
  const auto blocks = static_cast<unsigned>(x.B);
  rowMaskKernel<<<blocks, kThreads, 0, s>>>(x, rowStats);
  batchMaskKernel<<<1, kThreads, 0, s>>>(x.B, rowStats, totals);
  lossKernel<<<blocks, kThreads, 0, s>>>(x, o, kl, grad, rowStats, totals);
  totalsKernel<<<1, kThreads, 0, s>>>(x.B, rowStats, totals);
  check(cudaGetLastError(), "policy loss launch");
}

}  // namespace hiexp::rl::cuda
