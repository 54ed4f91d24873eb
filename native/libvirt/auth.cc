// The authentication bridge (auth.h). With a JS function, the pool thread blocks in AuthCb while
// the JS thread calls the function (AskJs) and waits for its answer: an array, or a Promise of
// one, with one string or undefined per credential. Undefined takes libvirt's default, if any.
#include "auth.h"

#include <cstring>
#include <future>
#include <utility>
#include <vector>

#include "args.h"

namespace hostwire {

struct AuthCtx {
  bool hasUser = false, hasPass = false, hasFn = false;
  std::string username, password;
  Napi::ThreadSafeFunction tsfn;
  ~AuthCtx() {
    if (hasFn) tsfn.Release();
  }
};

namespace {

struct CredReq {
  int type;
  std::string prompt, challenge, defresult;
};
struct AuthAnswer {
  bool ok = false;
  std::vector<std::pair<bool, std::string>> values;  // (present, value) per credential
};
struct AuthCall {
  std::vector<CredReq> creds;
  std::promise<AuthAnswer> answer;
  bool settled = false;
};

void SettleAuth(AuthCall* call, Napi::Value v) {
  if (call->settled) return;
  call->settled = true;
  AuthAnswer a;
  if (v.IsArray()) {
    Napi::Array arr = v.As<Napi::Array>();
    a.ok = arr.Length() == call->creds.size();
    for (uint32_t i = 0; a.ok && i < arr.Length(); i++) {
      Napi::Value e = arr.Get(i);
      if (e.IsString()) {
        a.values.emplace_back(true, e.As<Napi::String>().Utf8Value());
      } else {
        a.values.emplace_back(false, std::string());
      }
    }
  }
  call->answer.set_value(std::move(a));
}

// On the JS thread: calls the user's callback with the credential requests; it may answer with
// an array or a Promise of one (one string or undefined per request).
void AskJs(Napi::Env env, Napi::Function fn, AuthCall* call) {
  if (env == nullptr || fn == nullptr) {
    SettleAuth(call, Napi::Value());
    return;
  }
  Napi::Array creds = Napi::Array::New(env, call->creds.size());
  for (size_t i = 0; i < call->creds.size(); i++) {
    Napi::Object c = Napi::Object::New(env);
    c.Set("type", call->creds[i].type);
    c.Set("prompt", call->creds[i].prompt);
    c.Set("challenge", call->creds[i].challenge);
    c.Set("defresult", call->creds[i].defresult);
    creds.Set(static_cast<uint32_t>(i), c);
  }
  Napi::Value r = fn.Call({creds});
  if (env.IsExceptionPending()) {
    env.GetAndClearPendingException();
    SettleAuth(call, Napi::Value());
    return;
  }
  if (r.IsObject() && r.As<Napi::Object>().Get("then").IsFunction()) {
    Napi::Function onOk = Napi::Function::New(env, [call](const Napi::CallbackInfo& info) {
      SettleAuth(call, info.Length() > 0 ? info[0] : info.Env().Undefined());
    });
    Napi::Function onErr = Napi::Function::New(env, [call](const Napi::CallbackInfo& info) {
      SettleAuth(call, info.Env().Undefined());
    });
    r.As<Napi::Object>().Get("then").As<Napi::Function>().Call(r, {onOk, onErr});
    if (env.IsExceptionPending()) {
      env.GetAndClearPendingException();
      SettleAuth(call, Napi::Value());
    }
    return;
  }
  SettleAuth(call, r);
}

int AuthCb(virConnectCredentialPtr cred, unsigned int ncred, void* cbdata) {
  auto* ctx = static_cast<AuthCtx*>(cbdata);
  std::vector<std::pair<bool, std::string>> values(ncred);
  if (ctx->hasFn) {
    AuthCall call;
    for (unsigned int i = 0; i < ncred; i++) {
      call.creds.push_back(CredReq{cred[i].type, cred[i].prompt ? cred[i].prompt : "",
                                   cred[i].challenge ? cred[i].challenge : "",
                                   cred[i].defresult ? cred[i].defresult : ""});
    }
    std::future<AuthAnswer> f = call.answer.get_future();
    if (ctx->tsfn.BlockingCall(&call, AskJs) != napi_ok) return -1;
    AuthAnswer a = f.get();
    if (!a.ok) return -1;
    values = std::move(a.values);
  } else {
    for (unsigned int i = 0; i < ncred; i++) {
      int t = cred[i].type;
      if ((t == VIR_CRED_AUTHNAME || t == VIR_CRED_USERNAME) && ctx->hasUser) {
        values[i] = {true, ctx->username};
      } else if (t == VIR_CRED_PASSPHRASE && ctx->hasPass) {
        values[i] = {true, ctx->password};
      }
    }
  }
  for (unsigned int i = 0; i < ncred; i++) {
    if (!values[i].first && cred[i].defresult != nullptr) values[i] = {true, cred[i].defresult};
    if (!values[i].first) return -1;
    cred[i].result = strdup(values[i].second.c_str());
    if (cred[i].result == nullptr) return -1;
    cred[i].resultlen = static_cast<unsigned int>(values[i].second.size());
  }
  return 0;
}

}  // namespace

bool ReadAuth(Napi::Env env, Napi::Object auth, std::shared_ptr<AuthCtx>* out) {
  if (auth.IsEmpty()) return true;
  auto ctx = std::make_shared<AuthCtx>();
  if (!auth.IsFunction()) {
    auto take = [&](const char* key, bool* has, std::string* value) {
      Napi::Value v = auth.Get(key);
      *has = !args::IsAbsent(v);
      return !*has || args::Get(v, value);
    };
    if (!take("username", &ctx->hasUser, &ctx->username))
      return args::ThrowTypeError(env, "auth.username", "a string without NUL characters"), false;
    if (!take("password", &ctx->hasPass, &ctx->password))
      return args::ThrowTypeError(env, "auth.password", "a string without NUL characters"), false;
  } else {
    ctx->tsfn = Napi::ThreadSafeFunction::New(env, auth.As<Napi::Function>(), "hostwire-libvirt-auth", 0, 1);
    ctx->hasFn = true;
  }
  *out = std::move(ctx);
  return true;
}

bool AsksJs(const AuthCtx* auth) { return auth != nullptr && auth->hasFn; }

virConnectPtr OpenAuth(const std::string& uri, AuthCtx* auth, unsigned int flags) {
  int credtype[] = {VIR_CRED_AUTHNAME, VIR_CRED_USERNAME, VIR_CRED_PASSPHRASE, VIR_CRED_ECHOPROMPT,
                    VIR_CRED_NOECHOPROMPT, VIR_CRED_REALM};
  if (auth == nullptr) return virConnectOpenAuth(uri.c_str(), nullptr, flags);
  virConnectAuth va = {credtype, auth->hasFn ? 6u : 3u, AuthCb, auth};
  return virConnectOpenAuth(uri.c_str(), &va, flags);
}

}  // namespace hostwire
