// One libvirt call = one Napi::AsyncWorker on the libuv pool, settling one Promise. `exec` runs
// on the pool thread and returns false when libvirt failed; the error is read there, on the
// thread that made the call. `done` runs on the JS thread and turns the result into a value.
//
// A call of an inline connection (open(..., inline): OpenOptions.inline) runs `exec` on the JS
// thread instead, and returns its Promise already settled: no hand-off to the pool and back
// (~0.2 ms a call here, and the pool's four threads never started), for processes whose event
// loop serves nobody else while libvirt works, like the CLI.
#pragma once
#include <napi.h>

#include <functional>
#include <utility>

#include "errors.h"

namespace hostwire {

template <typename Out>
class Call : public Napi::AsyncWorker {
 public:
  using Exec = std::function<bool(Out&)>;
  using Done = std::function<Napi::Value(Napi::Env, Out&)>;

  static Napi::Value Queue(Napi::Env env, const char* op, Exec exec, Done done, bool onJsThread = false) {
    if (onJsThread) {
      Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
      Out out{};
      LvError err;
      virResetLastError();
      bool ok = exec(out);
      if (!ok) err = CaptureLastError(op);
      Settle(env, deferred, ok, err, done, out);
      return deferred.Promise();
    }
    auto* w = new Call(env, op, std::move(exec), std::move(done));
    Napi::Promise p = w->deferred_.Promise();
    w->Napi::AsyncWorker::Queue();
    return p;
  }

 protected:
  void Execute() override {
    virResetLastError();
    ok_ = exec_(out_);
    if (!ok_) err_ = CaptureLastError(op_);
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Settle(env, deferred_, ok_, err_, done_, out_);
  }

 private:
  static void Settle(Napi::Env env, Napi::Promise::Deferred& deferred, bool ok, const LvError& err, const Done& done,
                     Out& out) {
    if (!ok) {
      deferred.Reject(LvErrorToJs(env, err).Value());
      return;
    }
    Napi::Value v = done(env, out);
    if (env.IsExceptionPending()) {
      deferred.Reject(env.GetAndClearPendingException().Value());
    } else {
      deferred.Resolve(v);
    }
  }

  Call(Napi::Env env, const char* op, Exec exec, Done done)
      : Napi::AsyncWorker(env, op), deferred_(Napi::Promise::Deferred::New(env)), op_(op),
        exec_(std::move(exec)), done_(std::move(done)) {}

  Napi::Promise::Deferred deferred_;
  const char* op_;
  Exec exec_;
  Done done_;
  Out out_{};
  bool ok_ = false;
  LvError err_;
};

// Reads a C string libvirt allocated for the caller, then frees it.
inline std::string TakeString(char* s) {
  std::string out = s != nullptr ? s : "";
  free(s);
  return out;
}

}  // namespace hostwire
