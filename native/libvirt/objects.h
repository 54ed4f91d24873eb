// The JS classes of the addon: NativeConnection, NativeNetwork, NativeDomain. Each wraps a
// reference-counted libvirt handle (runtime.h); every method but free() returns a Promise whose
// libvirt call runs on the libuv pool (on the JS thread for an inline connection: worker.h).
// Validation and names live in src/libvirt (TypeScript).
#pragma once
#include <napi.h>

#include <string>

#include "runtime.h"

namespace hostwire {

struct AddonData {
  Napi::FunctionReference connCtor;
  Napi::FunctionReference netCtor;
  Napi::FunctionReference domCtor;
};

// inlineCalls: the object's calls run on the JS thread, as its connection's do (worker.h).
Napi::Object NewNetworkObject(Napi::Env env, NetRef net, const std::string& name, const std::string& uuid,
                              bool inlineCalls);
Napi::Object NewDomainObject(Napi::Env env, DomRef dom, const std::string& name, const std::string& uuid,
                             bool inlineCalls);

void InitConnection(Napi::Env env, Napi::Object exports, AddonData* data);
void InitNetwork(Napi::Env env, Napi::Object exports, AddonData* data);
void InitDomain(Napi::Env env, Napi::Object exports, AddonData* data);

// Throws a TypeError for a misuse that is not an argument's type ("connection is closed").
// Argument types are checked by the macros of common/args.h.
Napi::Value ThrowType(Napi::Env env, const std::string& msg);

}  // namespace hostwire
