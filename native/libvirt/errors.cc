#include "errors.h"

namespace hostwire {

LvError CaptureLastError(const char* op) {
  LvError e;
  virErrorPtr err = virGetLastError();
  if (err != nullptr && err->code != VIR_ERR_OK) {
    e.code = err->code;
    e.domain = err->domain;
    e.level = err->level;
    e.message = err->message != nullptr ? err->message : std::string(op) + " failed";
  } else {
    e.message = std::string(op) + " failed without a libvirt error";
  }
  virResetLastError();
  return e;
}

Napi::Error LvErrorToJs(Napi::Env env, const LvError& e) {
  Napi::Error err = Napi::Error::New(env, e.message);
  const char* codeName = ErrorCodeName(e.code);
  const char* domainName = ErrorDomainName(e.domain);
  err.Set("code", codeName != nullptr ? std::string(codeName) : "VIR_ERR_" + std::to_string(e.code));
  err.Set("number", Napi::Number::New(env, e.code));
  err.Set("domain", Napi::Number::New(env, e.domain));
  err.Set("domainName", domainName != nullptr ? Napi::Value(Napi::String::New(env, domainName)) : env.Null());
  err.Set("level", Napi::Number::New(env, e.level));
  err.Set("libvirt", Napi::Boolean::New(env, true));
  return err;
}

}  // namespace hostwire
