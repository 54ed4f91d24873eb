// hostwire_libvirt: libvirt bindings. Every call that can block runs on the libuv pool, or on
// the JS thread for an inline connection (worker.h); libvirt's event loop runs on a thread this
// addon owns (runtime.h), started and registered before any connection is opened.
#include <napi.h>

#include "objects.h"

namespace hostwire {

Napi::Value ThrowType(Napi::Env env, const std::string& msg) {
  Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
  return env.Undefined();
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
