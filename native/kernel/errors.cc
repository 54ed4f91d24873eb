#include "errors.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <functional>
#include <thread>

namespace hostwire {

std::string ErrnoCode(int err) {
  if (err == EOPNOTSUPP) return "EOPNOTSUPP";  // libuv says ENOTSUP; the kernel says EOPNOTSUPP
  const char* name = uv_err_name(-err);
  if (name == nullptr || strncmp(name, "Unknown", 7) == 0) return "E" + std::to_string(err);
  return name;
}

Napi::Error ErrnoError(Napi::Env env, int err, const std::string& syscall) {
  std::string code = ErrnoCode(err);
  Napi::Error e = Napi::Error::New(env, code + ": " + strerror(err) + ", " + syscall);
  e.Set("code", Napi::String::New(env, code));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

void SetErrnoFields(Napi::Object obj, int err, const std::string& syscall) {
  Napi::Env env = obj.Env();
  obj.Set("code", Napi::String::New(env, ErrnoCode(err)));
  obj.Set("errno", Napi::Number::New(env, err));
  obj.Set("syscall", Napi::String::New(env, syscall));
  obj.Set("message", Napi::String::New(env, strerror(err)));
}

int RunInNetns(const std::string& nsPath, const std::function<void()>& fn) {
  if (nsPath.empty()) {
    fn();
    return 0;
  }
  int result = 0;
  std::thread t([&]() {
    int nsfd = open(nsPath.c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) {
      result = errno;
      return;
    }
    if (setns(nsfd, CLONE_NEWNET) != 0) {
      result = errno;
      close(nsfd);
      return;
    }
    close(nsfd);
    fn();
  });
  t.join();
  return result;
}

}  // namespace hostwire
