// libvirt errors as JS errors. libvirt keeps its last error per thread, so the worker that made
// the failing call captures it (CaptureLastError) before returning to the JS thread, which turns
// it into an Error with {code: 'VIR_ERR_NO_DOMAIN', number, domain, domainName, level}.
#pragma once
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <napi.h>

#include <string>

namespace hostwire {

// virErrorNumber / virErrorDomain enumerator names (errnames.cc); nullptr when unknown.
const char* ErrorCodeName(int code);
const char* ErrorDomainName(int domain);

// A copy of a virError, safe to carry from a worker thread to the JS thread.
struct LvError {
  int code = VIR_ERR_INTERNAL_ERROR;
  int domain = VIR_FROM_NONE;
  int level = VIR_ERR_ERROR;
  std::string message;
};

// Reads virGetLastError() of the calling thread, then resets it. `op` names the call, for the
// rare failure that leaves no libvirt error behind.
LvError CaptureLastError(const char* op);

// Builds the JS error object for e (not thrown).
Napi::Error LvErrorToJs(Napi::Env env, const LvError& e);

}  // namespace hostwire
