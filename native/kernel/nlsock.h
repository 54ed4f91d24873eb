#pragma once
#include <napi.h>
namespace hostwire {
void InitNlSocket(Napi::Env env, Napi::Object exports);
void InitTun(Napi::Env env, Napi::Object exports);
void InitNetns(Napi::Env env, Napi::Object exports);
}  // namespace hostwire
