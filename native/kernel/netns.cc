// Named network namespaces, the way `ip netns add/del` makes them: a namespace bind-mounted at
// /run/netns/NAME, with /run/netns a shared mount so other mount namespaces see it. The
// unshare happens on a thread the addon owns, which then dies: the JS thread and the libuv
// pool never leave the namespace they were in.
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "args.h"
#include "errors.h"
#include "nlsock.h"

namespace hostwire {
namespace {

// Like iproute2's netns_add: make the directory a shared mount point (bind it onto itself the
// first time), so a namespace mounted here propagates to every mount namespace.
int PrepareDir(const std::string& dir, std::string& syscall) {
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return syscall = "mkdir", errno;
  for (bool bound = false;; bound = true) {
    if (mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr) == 0) return 0;
    if (errno != EINVAL || bound) return syscall = "mount", errno;
    if (mount(dir.c_str(), dir.c_str(), "none", MS_BIND | MS_REC, nullptr) != 0)
      return syscall = "mount", errno;
  }
}

// netnsAdd(dir, file): throws an errno error (EEXIST when the name is taken).
Napi::Value NetnsAdd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGUMENT_STRING(0, dir);
  REQUIRE_ARGUMENT_STRING(1, file);
  std::string syscall;
  int err = PrepareDir(dir, syscall);
  if (err == 0) {
    int fd = open(file.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
    if (fd < 0) {
      err = errno;
      syscall = "open";
    } else {
      close(fd);
      std::thread t([&]() {
        if (unshare(CLONE_NEWNET) != 0) {
          err = errno;
          syscall = "unshare";
        } else if (mount("/proc/thread-self/ns/net", file.c_str(), "none", MS_BIND, nullptr) != 0) {
          err = errno;
          syscall = "mount";
        }
      });
      t.join();
      if (err != 0) unlink(file.c_str());
    }
  }
  if (err != 0) ErrnoError(env, err, syscall).ThrowAsJavaScriptException();
  return env.Undefined();
}

// netnsDel(file): detach the bind mount (the namespace dies with its last user) and remove
// the file. ENOENT when there is no such namespace.
Napi::Value NetnsDel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGUMENT_STRING(0, file);
  struct stat st;
  if (stat(file.c_str(), &st) != 0) {
    ErrnoError(env, errno, "stat").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (umount2(file.c_str(), MNT_DETACH) != 0 && errno != EINVAL) {
    ErrnoError(env, errno, "umount2").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (unlink(file.c_str()) != 0) ErrnoError(env, errno, "unlink").ThrowAsJavaScriptException();
  return env.Undefined();
}

}  // namespace

void InitNetns(Napi::Env env, Napi::Object exports) {
  exports.Set("netnsAdd", Napi::Function::New(env, NetnsAdd, "netnsAdd"));
  exports.Set("netnsDel", Napi::Function::New(env, NetnsDel, "netnsDel"));
}

}  // namespace hostwire
