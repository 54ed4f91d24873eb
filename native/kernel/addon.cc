// hostwire_kernel: the kernel side of the addon (netlink socket, tun/tap, namespaces). It does
// not link libvirt, so the link verbs load fast; libvirt lives in hostwire_libvirt.
#include <napi.h>

#include "nlsock.h"

namespace hostwire {
void InitNsFile(Napi::Env env, Napi::Object exports);   // nsfile.cc
void InitPreload(Napi::Env env, Napi::Object exports);  // preload.cc
}  // namespace hostwire

namespace {
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  hostwire::InitNlSocket(env, exports);
  hostwire::InitTun(env, exports);
  hostwire::InitNetns(env, exports);
  hostwire::InitNsFile(env, exports);
  hostwire::InitPreload(env, exports);
  return exports;
}
}  // namespace

NODE_API_MODULE(hostwire_kernel, Init)
