// hostwire_libvirt: libvirt bindings (filled in by the libvirt work).
#include <napi.h>
namespace {
Napi::Object Init(Napi::Env env, Napi::Object exports) { return exports; }
}  // namespace
NODE_API_MODULE(hostwire_libvirt, Init)
