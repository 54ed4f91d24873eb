// hostwire_libvirt: libvirt bindings. Every call that can block runs on the libuv pool
// (worker.h); libvirt's event loop runs on a thread this addon owns (runtime.h), started and
// registered before any connection is opened.
#include <napi.h>

#include "objects.h"

namespace hostwire {

Napi::Value ThrowType(Napi::Env env, const std::string& msg) {
  Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
  return env.Undefined();
}

bool ArgString(const Napi::CallbackInfo& info, size_t i, std::string* out) {
  if (info.Length() <= i || !info[i].IsString()) {
    ThrowType(info.Env(), "argument " + std::to_string(i) + " must be a string");
    return false;
  }
  *out = info[i].As<Napi::String>().Utf8Value();
  if (out->find('\0') != std::string::npos) {
    ThrowType(info.Env(), "argument " + std::to_string(i) + " must not contain NUL");
    return false;
  }
  return true;
}

bool ArgUint(const Napi::CallbackInfo& info, size_t i, uint32_t* out) {
  if (info.Length() <= i || !info[i].IsNumber()) {
    ThrowType(info.Env(), "argument " + std::to_string(i) + " must be a number");
    return false;
  }
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 4294967295.0) || d != static_cast<double>(static_cast<uint32_t>(d))) {
    ThrowType(info.Env(), "argument " + std::to_string(i) + " must be an unsigned 32-bit integer");
    return false;
  }
  *out = static_cast<uint32_t>(d);
  return true;
}

bool ArgBool(const Napi::CallbackInfo& info, size_t i, bool* out) {
  if (info.Length() <= i || !info[i].IsBoolean()) {
    ThrowType(info.Env(), "argument " + std::to_string(i) + " must be a boolean");
    return false;
  }
  *out = info[i].As<Napi::Boolean>().Value();
  return true;
}

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  if (!StartRuntime()) {
    Napi::Error::New(env, "virEventRegisterDefaultImpl failed").ThrowAsJavaScriptException();
    return exports;
  }
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);
  InitConnection(env, exports, data);
  InitNetwork(env, exports, data);
  InitDomain(env, exports, data);
  return exports;
}

}  // namespace
}  // namespace hostwire

static Napi::Object InitHostwireLibvirt(Napi::Env env, Napi::Object exports) { return hostwire::Init(env, exports); }
NODE_API_MODULE(hostwire_libvirt, InitHostwireLibvirt)
