// The start and the end of a short-lived process (the CLI): work that node would otherwise do
// on the JS thread, done elsewhere or skipped.
//
// preload(path): dlopen()s a shared object on a thread of its own, ahead of need, and returns at
// once. process.dlopen runs the dynamic linker on the JS thread; for hostwire_libvirt that is
// ~10 ms of mapping and relocating libvirt.so.0 and its ~55 libraries before the addon's init.
// Begun on another thread as soon as a command is known to need libvirt (src/native.ts
// preloadLibvirt), that work overlaps the command's own start; the later process.dlopen of the
// same file finds it loaded (the linker serialises the two) and runs only the addon's init on
// the JS thread. Nothing else happens here: node-API addons register through an exported
// symbol that only process.dlopen calls, and a failure is left for process.dlopen to report
// (dlerror() is per thread). The reference taken is never dropped, as node never unloads an
// addon either.
//
// exitNow(code): _exit(code). For a command that has written all it had to write (synchronous
// writes to fd 1 and 2): node's own exit joins its threads, tears down V8 and runs every
// loaded library's destructors (libvirt's ~55 with it), ~1 ms of every command and all of it
// after the work is done.
#include <dlfcn.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "args.h"

namespace hostwire {
namespace {

Napi::Value Preload(const Napi::CallbackInfo& info) {
  REQUIRE_ARGUMENT_STRING(0, path);
  std::thread([path]() { dlopen(path.c_str(), RTLD_LAZY); }).detach();  // RTLD_LAZY: process.dlopen's default
  return info.Env().Undefined();
}

Napi::Value ExitNow(const Napi::CallbackInfo& info) {
  REQUIRE_ARGUMENT_INT32(0, code);
  _exit(code);
}

}  // namespace

void InitPreload(Napi::Env env, Napi::Object exports) {
  exports.Set("preload", Napi::Function::New(env, Preload, "preload"));
  exports.Set("exitNow", Napi::Function::New(env, ExitNow, "exitNow"));
}

}  // namespace hostwire
