// Authentication for open(): libvirt asks for credentials on the pool thread that runs
// virConnectOpenAuth, and they come from open()'s `auth` argument, either fixed
// ({username?, password?}) or from a JS function, called on the JS thread and waited for.
#pragma once
#include <libvirt/libvirt.h>
#include <napi.h>

#include <memory>
#include <string>

namespace hostwire {

struct AuthCtx;  // auth.cc

// On the JS thread: reads open()'s auth argument (empty: no auth, *out stays null). False, with a
// TypeError pending, when a field has the wrong type.
bool ReadAuth(Napi::Env env, Napi::Object auth, std::shared_ptr<AuthCtx>* out);

// True when auth is a JS function: OpenAuth must then run off the JS thread, which answers.
bool AsksJs(const AuthCtx* auth);

// On a pool thread: virConnectOpenAuth, answering credential requests from auth (null: none).
virConnectPtr OpenAuth(const std::string& uri, AuthCtx* auth, unsigned int flags);

}  // namespace hostwire
