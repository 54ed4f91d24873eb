// openInNetns(nsPath, path, flags, mode) -> fd: opens a file from a thread that entered the
// network namespace at nsPath, for files whose meaning depends on the opener's namespace
// (/proc/sys/net/...: the sysctl table is picked at open, reads and writes through the fd then
// act on that namespace from any thread). The thread is owned by the addon and dies afterwards
// (RunInNetns): the JS thread and the libuv pool never change namespace. Blocks only for the
// open. Throws an errno error ({code, errno, syscall}); validation lives in TypeScript.
#include <errno.h>
#include <fcntl.h>

#include <functional>
#include <string>

#include "args.h"
#include "errors.h"

namespace hostwire {
namespace {

Napi::Value OpenInNetns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  OPTIONAL_ARGUMENT_STRING(0, nsPath, "");
  REQUIRE_ARGUMENT_STRING(1, path);
  REQUIRE_ARGUMENT_INT32(2, flags);
  OPTIONAL_ARGUMENT_INT32(3, mode, 0);
  flags |= O_CLOEXEC;
  int fd = -1;
  int openErr = 0;
  int nsErr = RunInNetns(nsPath, [&]() {
    fd = open(path.c_str(), flags, mode);
    if (fd < 0) openErr = errno;
  });
  if (nsErr != 0) {
    ErrnoError(env, nsErr, "setns").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (fd < 0) {
    ErrnoError(env, openErr, "open").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

}  // namespace

void InitNsFile(Napi::Env env, Napi::Object exports) {
  exports.Set("openInNetns", Napi::Function::New(env, OpenInNetns, "openInNetns"));
}

}  // namespace hostwire
