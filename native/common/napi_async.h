// Promise-returning work on the libuv thread pool (included by napi_args.h).
#pragma once
#include <exception>
#include <functional>
#include <string>
#include <utility>

namespace hiexp::napi {

enum class ErrorKind { Type, Range, Generic };

// Classifies the exception in flight; the message is cleaned of libtorch's C++ backtrace.
std::pair<ErrorKind, std::string> classifyCurrentException();
Napi::Error makeError(Napi::Env env, ErrorKind kind, const std::string& message);

template <typename Result>
class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, std::function<Result()> work, std::function<Napi::Value(Napi::Env, Result&)> toJs)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), work_(std::move(work)),
        toJs_(std::move(toJs)) {}

  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      result_ = work_();
    } catch (...) {
      auto [kind, message] = classifyCurrentException();
      kind_ = kind;
      SetError(message);
    }
  }
  void OnOK() override {
    Napi::HandleScope scope(Env());
    try {
      deferred_.Resolve(toJs_(Env(), result_));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& e) override {
    Napi::HandleScope scope(Env());
    deferred_.Reject(makeError(Env(), kind_, e.Message()).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::function<Result()> work_;
  std::function<Napi::Value(Napi::Env, Result&)> toJs_;
  Result result_{};
  ErrorKind kind_ = ErrorKind::Generic;
};

template <typename Result>
Napi::Value runAsync(Napi::Env env, std::function<Result()> work, std::function<Napi::Value(Napi::Env, Result&)> toJs) {
  auto* worker = new PromiseWorker<Result>(env, std::move(work), std::move(toJs));
  auto promise = worker->promise();
  worker->Queue();
  return promise;
}

}  // namespace hiexp::napi
