// Syscall failures as JS errors shaped like Node's own: message "CODE: text, syscall",
// with `code` (e.g. 'EPERM'), a positive `errno` and `syscall`.
#pragma once
#include <napi.h>
#include <string>

namespace hostwire {

std::string ErrnoCode(int err);
Napi::Error ErrnoError(Napi::Env env, int err, const std::string& syscall);

// Put an errno result into a plain object ({errno, code, syscall}) for batch results, where one
// failure must not throw away the others.
void SetErrnoFields(Napi::Object obj, int err, const std::string& syscall);

// Runs fn on a fresh thread that is moved into the network namespace at nsPath (when nsPath is
// not empty) and then dies, so no other thread, least of all the JS thread or a libuv pool
// thread, ever changes namespace. Returns 0, or the errno of entering the namespace.
int RunInNetns(const std::string& nsPath, const std::function<void()>& fn);

}  // namespace hostwire
