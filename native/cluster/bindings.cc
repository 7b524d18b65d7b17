// JavaScript edge of the clustering core: argument checks (messages name the argument), a copy of the input on the
// calling thread, then the distances and the linkage on the libuv pool, with progress through a thread-safe function.
// Order matters: the options object is read (its getters run JavaScript, which may detach or resize the input's
// buffer) before the input is looked at, and the input is copied with no JavaScript in between, so the worker never
// touches JavaScript memory.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bindings.h"
#include "cluster/cluster.h"
#include "common/napi_args.h"

namespace hiexp {

namespace {

using cluster::Method;
using cluster::Metric;

int64_t positionalInteger(const Napi::Value& v, const char* name, int64_t min) {
  if (!v.IsNumber()) throwType(name, " must be a number, got ", napi::describe(v));
  const double x = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(x) || x != std::floor(x) || x < static_cast<double>(min) || x > 9007199254740991.0) {
    throwRange(name, " must be an integer >= ", min, ", got ", x);
  }
  return static_cast<int64_t>(x);
}

// A zero length is most often an array whose buffer was transferred (detached): say so.
// An element count computed in doubles (n*d and n(n-1)/2 overflow int64 for absurd n), written as an integer.
std::string countText(double x) {
  return x < 9.0e18 ? std::to_string(static_cast<int64_t>(x)) : detail::concat(x);
}

const char* emptyNote(size_t length) { return length == 0 ? " (empty, or its buffer was transferred/detached)" : ""; }

// Float32Array or Float64Array, copied to doubles (exact) so that the worker owns its input.
std::vector<double> copyNumbers(const Napi::Value& v, const char* name, size_t& length) {
  std::vector<double> out;
  if (napi::isTypedArrayOf(v, napi_float64_array)) {
    auto s = napi::typedArray<double>(v, name);
    length = s.size;
    out.assign(s.data, s.data + s.size);
  } else if (napi::isTypedArrayOf(v, napi_float32_array)) {
    auto s = napi::typedArray<float>(v, name);
    length = s.size;
    out.assign(s.data, s.data + s.size);
  } else {
    throwType(name, " must be a Float32Array or Float64Array, got ", napi::describe(v));
  }
  return out;
}

struct ProgressEvent {
  const char* phase;
  double fraction;
};

// Owns the thread-safe function for one call; released when the work is done, whatever happens.
struct ProgressChannel {
  Napi::ThreadSafeFunction tsfn;
  bool active = false;
  ~ProgressChannel() {
    if (active) tsfn.Release();
  }
};

Napi::Value linkageBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t n = positionalInteger(info[1], "n", 2);
  auto opts = napi::object(info.Length() > 3 ? info[3] : env.Undefined(), "options");
  static const Method methods[] = {Method::Single, Method::Complete, Method::Average, Method::Weighted,
                                   Method::Ward,   Method::Centroid, Method::Median};
  const Method method = methods[napi::choice(opts, "method", "options",
                                             {"single", "complete", "average", "weighted", "ward", "centroid",
                                              "median"})];
  const Metric metric = static_cast<Metric>(napi::choice(opts, "metric", "options",
                                                         {"euclidean", "cosine", "precomputed"}, 0));
  const auto gram = static_cast<cluster::GramKernel>(napi::choice(opts, "gram", "options", {"builtin", "torch"}, 0));
  if (metric == Metric::Cosine && (method == Method::Ward || method == Method::Centroid || method == Method::Median)) {
    throwRange("options.method '", cluster::methodName(method),
               "' is defined for euclidean distances only: options.metric must be 'euclidean' (or 'precomputed' "
               "euclidean distances), got 'cosine'");
  }

  size_t length = 0;
  int64_t d = 0;
  std::vector<double> input;
  auto given = std::make_shared<cluster::HugeBuffer>();  // precomputed distances, copied once, straight into place
  if (metric == Metric::Precomputed) {
    const char* name = "distances (points with metric 'precomputed')";
    const Napi::Value v = info[0];
    const bool f64 = napi::isTypedArrayOf(v, napi_float64_array);
    if (!f64 && !napi::isTypedArrayOf(v, napi_float32_array)) {
      throwType(name, " must be a Float32Array or Float64Array, got ", napi::describe(v));
    }
    length = v.As<Napi::TypedArray>().ElementLength();
    const double expected = static_cast<double>(n) * static_cast<double>(n - 1) / 2.0;
    HX_CHECK_RANGE(static_cast<double>(length) == expected, name, " has length ", length, emptyNote(length),
                   ", expected n(n-1)/2 = ", countText(expected), " for n = ", n);
    cluster::checkCondensedFits(n, "n");
    *given = cluster::HugeBuffer(length);
    if (f64) {
      auto s = napi::typedArray<double>(v, name);
      std::memcpy(given->data(), s.data, length * sizeof(double));
    } else {
      auto s = napi::typedArray<float>(v, name);
      std::copy(s.data, s.data + length, given->data());
    }
  } else {
    d = positionalInteger(info[2], "d", 1);
    input = copyNumbers(info[0], "points", length);
    const double expected = static_cast<double>(n) * static_cast<double>(d);
    HX_CHECK_RANGE(static_cast<double>(length) == expected, "points has length ", length, emptyNote(length),
                   ", expected n*d = ", countText(expected), " (n = ", n, ", d = ", d, ")");
    cluster::checkPoints(input.data(), n, d, metric);
  }
  cluster::checkCondensedFits(n, "n");

  auto channel = std::make_shared<ProgressChannel>();
  if (napi::has(opts, "onProgress")) {
    auto fn = opts.Get("onProgress");
    if (!fn.IsFunction()) throwType("options.onProgress must be a function, got ", napi::describe(fn));
    channel->tsfn = Napi::ThreadSafeFunction::New(env, fn.As<Napi::Function>(), "hiexp.linkage.progress", 0, 1);
    channel->active = true;
  }
  auto shared = std::make_shared<std::vector<double>>(std::move(input));

  std::function<std::vector<double>()> work = [shared, given, channel, n, d, method, metric, gram]() mutable {
    auto ch = std::move(channel);  // released (tsfn) when this work ends, on success or error
    cluster::Progress progress;
    if (ch->active) {
      progress = [ch](const char* phase, double fraction) {
        auto* event = new ProgressEvent{phase, fraction};
        auto status = ch->tsfn.NonBlockingCall(event, [](Napi::Env env, Napi::Function fn, ProgressEvent* e) {
          std::unique_ptr<ProgressEvent> owned(e);
          try {
            fn.Call({Napi::Number::New(env, e->fraction), Napi::String::New(env, e->phase)});
          } catch (const Napi::Error&) {
            // A throwing progress callback must not take the process down; the linkage goes on.
          }
        });
        if (status != napi_ok) delete event;
      };
    }
    cluster::HugeBuffer condensed;
    if (metric == Metric::Precomputed) {
      condensed = std::move(*given);
      cluster::checkCondensed(condensed.data(), static_cast<int64_t>(condensed.size()));
    } else {
      condensed = cluster::HugeBuffer(static_cast<size_t>(cluster::condensedSize(n)));
      cluster::pairwiseDistances(shared->data(), n, d, metric, gram, condensed.data(), progress);
      std::vector<double>().swap(*shared);
    }
    return cluster::linkage(condensed.data(), n, method, progress);
  };
  return napi::runAsync<std::vector<double>>(env, std::move(work), [](Napi::Env env, std::vector<double>& Z) -> Napi::Value {
    auto out = Napi::Float64Array::New(env, Z.size());
    if (!Z.empty()) std::memcpy(out.Data(), Z.data(), Z.size() * sizeof(double));
    return out;
  });
}

// Condensed distances alone (for checks against scipy's pdist and for users who want them).
Napi::Value pdistBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t n = positionalInteger(info[1], "n", 2);
  const int64_t d = positionalInteger(info[2], "d", 1);
  auto opts = info.Length() > 3 && !info[3].IsUndefined() ? napi::object(info[3], "options") : Napi::Object::New(env);
  const Metric metric = static_cast<Metric>(napi::choice(opts, "metric", "options", {"euclidean", "cosine"}, 0));
  const auto gram = static_cast<cluster::GramKernel>(napi::choice(opts, "gram", "options", {"builtin", "torch"}, 0));
  size_t length = 0;
  auto input = std::make_shared<std::vector<double>>(copyNumbers(info[0], "points", length));
  HX_CHECK_RANGE(static_cast<double>(length) == static_cast<double>(n) * static_cast<double>(d), "points has length ",
                 length, emptyNote(length), ", expected n*d = ", countText(static_cast<double>(n) * static_cast<double>(d)),
                 " (n = ", n, ", d = ", d, ")");
  cluster::checkPoints(input->data(), n, d, metric);
  cluster::checkCondensedFits(n, "n");
  std::function<std::vector<double>()> work = [input, n, d, metric, gram]() {
    std::vector<double> out(static_cast<size_t>(cluster::condensedSize(n)));
    cluster::pairwiseDistances(input->data(), n, d, metric, gram, out.data(), nullptr);
    return out;
  };
  return napi::runAsync<std::vector<double>>(env, std::move(work), [](Napi::Env env, std::vector<double>& D) -> Napi::Value {
    auto out = Napi::Float64Array::New(env, D.size());
    if (!D.empty()) std::memcpy(out.Data(), D.data(), D.size() * sizeof(double));
    return out;
  });
}

}  // namespace

void registerCluster(Napi::Env env, Napi::Object exports) {
  napi::exportFunction(env, exports, "clusterLinkage", linkageBinding);
  napi::exportFunction(env, exports, "clusterPdist", pdistBinding);
}

}  // namespace hiexp
