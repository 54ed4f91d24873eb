// NativeConnection: one virConnectPtr, its close callback and its event subscriptions, plus
// open(), which authenticates through credentials or a JS callback (virConnectOpenAuth).
#include <libvirt/libvirt.h>

#include <cstring>
#include <future>
#include <vector>

#include "args.h"
#include "objects.h"
#include "worker.h"

namespace hostwire {
namespace {

// ---- events: from the event thread to JS -------------------------------------------------

struct EventMsg {
  std::string kind;  // 'domain-lifecycle', 'network-lifecycle', 'close'
  std::string name;
  std::string uuid;
  int event = 0;  // lifecycle event, or the close reason
  int detail = 0;
};

using SinkRef = std::shared_ptr<Sink>;

void ShutdownSink(Sink* s) {
  std::lock_guard<std::mutex> lock(s->mu);
  if (s->alive) {
    s->alive = false;
    s->tsfn.Release();  // thread-safe
  }
}

void EmitToJs(Napi::Env env, Napi::Function emit, EventMsg* m) {
  if (env != nullptr && emit != nullptr) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("kind", m->kind);
    if (m->kind == "close") {
      o.Set("reason", m->event);
    } else {
      o.Set("name", m->name);
      o.Set("uuid", m->uuid);
      o.Set("event", m->event);
      o.Set("detail", m->detail);
    }
    emit.Call({o});
  }
  delete m;
}

void Post(void* opaque, EventMsg* m) {
  Sink* s = static_cast<SinkRef*>(opaque)->get();
  std::lock_guard<std::mutex> lock(s->mu);
  if (!s->alive || s->tsfn.NonBlockingCall(m, EmitToJs) != napi_ok) delete m;
}

void FreeSinkRef(void* opaque) { delete static_cast<SinkRef*>(opaque); }

int DomainLifecycleCb(virConnectPtr, virDomainPtr dom, int event, int detail, void* opaque) {
  auto* m = new EventMsg{"domain-lifecycle", "", "", event, detail};
  const char* name = virDomainGetName(dom);
  if (name != nullptr) m->name = name;
  char uuid[VIR_UUID_STRING_BUFLEN];
  if (virDomainGetUUIDString(dom, uuid) == 0) m->uuid = uuid;
  Post(opaque, m);
  return 0;
}

void NetworkLifecycleCb(virConnectPtr, virNetworkPtr net, int event, int detail, void* opaque) {
  auto* m = new EventMsg{"network-lifecycle", "", "", event, detail};
  const char* name = virNetworkGetName(net);
  if (name != nullptr) m->name = name;
  char uuid[VIR_UUID_STRING_BUFLEN];
  if (virNetworkGetUUIDString(net, uuid) == 0) m->uuid = uuid;
  Post(opaque, m);
}

void CloseCb(virConnectPtr, int reason, void* opaque) { Post(opaque, new EventMsg{"close", "", "", reason, 0}); }

// ---- authentication: libvirt asks on the worker thread, JS answers -----------------------

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

struct AuthCtx {
  bool hasUser = false, hasPass = false, hasFn = false;
  std::string username, password;
  Napi::ThreadSafeFunction tsfn;
  ~AuthCtx() {
    if (hasFn) tsfn.Release();
  }
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

// ---- the connection object ---------------------------------------------------------------

struct LookupOut {
  void* ptr = nullptr;
  std::string name, uuid;
};

struct NetInfo {
  std::string name, uuid, bridge;
  bool active = false, autostart = false, persistent = false, hasBridge = false;
};
struct DomInfo {
  std::string name, uuid;
  int64_t id = -1;
  int state = 0, reason = 0;
  bool active = false, persistent = false;
};

class NativeConnection : public Napi::ObjectWrap<NativeConnection> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeConnection",
                       {
                           InstanceMethod<&NativeConnection::Close>("close"),
                           InstanceMethod<&NativeConnection::Release>("release"),
                           InstanceMethod<&NativeConnection::IsAlive>("isAlive"),
                           InstanceMethod<&NativeConnection::SetKeepAlive>("setKeepAlive"),
                           InstanceMethod<&NativeConnection::GetHostname>("getHostname"),
                           InstanceMethod<&NativeConnection::GetURI>("getURI"),
                           InstanceMethod<&NativeConnection::GetType>("getType"),
                           InstanceMethod<&NativeConnection::GetLibVersion>("getLibVersion"),
                           InstanceMethod<&NativeConnection::GetVersion>("getVersion"),
                           InstanceMethod<&NativeConnection::ListAllNetworks>("listAllNetworks"),
                           InstanceMethod<&NativeConnection::ListAllDomains>("listAllDomains"),
                           InstanceMethod<&NativeConnection::NetworkLookupByName>("networkLookupByName"),
                           InstanceMethod<&NativeConnection::NetworkLookupByUUIDString>("networkLookupByUUIDString"),
                           InstanceMethod<&NativeConnection::NetworkDefineXML>("networkDefineXML"),
                           InstanceMethod<&NativeConnection::DomainLookupByName>("domainLookupByName"),
                           InstanceMethod<&NativeConnection::DomainLookupByUUIDString>("domainLookupByUUIDString"),
                           InstanceMethod<&NativeConnection::DomainLookupByID>("domainLookupByID"),
                           InstanceMethod<&NativeConnection::DomainDefineXML>("domainDefineXML"),
                           InstanceMethod<&NativeConnection::Subscribe>("subscribe"),
                           InstanceMethod<&NativeConnection::Unsubscribe>("unsubscribe"),
                       });
  }

  explicit NativeConnection(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeConnection>(info) {
    if (info.Length() < 2 || !info[0].IsExternal() || !info[1].IsExternal()) {
      ThrowType(info.Env(), "NativeConnection is made by open(), not by new");
      return;
    }
    conn_ = *info[0].As<Napi::External<ConnRef>>().Data();
    sink_ = *info[1].As<Napi::External<SinkRef>>().Data();
  }

  ~NativeConnection() override {
    if (sink_) ShutdownSink(sink_.get());
  }

 private:
  bool Check(Napi::Env env) {
    if (conn_) return true;
    ThrowType(env, "connection is closed");
    return false;
  }

  template <typename Fn>
  Napi::Value IntCall(const Napi::CallbackInfo& info, const char* op, Fn fn) {
    if (!Check(info.Env())) return info.Env().Undefined();
    ConnRef c = conn_;
    return Call<int64_t>::Queue(
        info.Env(), op, [c, fn](int64_t& out) { out = fn(c.get()); return out >= 0; },
        [](Napi::Env env, int64_t& out) -> Napi::Value { return Napi::Number::New(env, static_cast<double>(out)); });
  }

  template <typename Fn>
  Napi::Value StringCall(const Napi::CallbackInfo& info, const char* op, bool owned, Fn fn) {
    if (!Check(info.Env())) return info.Env().Undefined();
    ConnRef c = conn_;
    return Call<std::string>::Queue(
        info.Env(), op,
        [c, fn, owned](std::string& out) {
          const char* s = fn(c.get());
          if (s == nullptr) return false;
          out = s;
          if (owned) free(const_cast<char*>(s));
          return true;
        },
        [](Napi::Env env, std::string& out) -> Napi::Value { return Napi::String::New(env, out); });
  }

  // A lookup or define returning a new virNetworkPtr (net=true) or virDomainPtr.
  template <bool Net, typename Fn>
  Napi::Value ObjectCall(const Napi::CallbackInfo& info, const char* op, Fn fn) {
    if (!Check(info.Env())) return info.Env().Undefined();
    ConnRef c = conn_;
    return Call<LookupOut>::Queue(
        info.Env(), op,
        [c, fn](LookupOut& out) {
          char uuid[VIR_UUID_STRING_BUFLEN] = "";
          if constexpr (Net) {
            virNetworkPtr n = fn(c.get());
            if (n == nullptr) return false;
            out.ptr = n;
            const char* name = virNetworkGetName(n);
            out.name = name ? name : "";
            virNetworkGetUUIDString(n, uuid);
          } else {
            virDomainPtr d = fn(c.get());
            if (d == nullptr) return false;
            out.ptr = d;
            const char* name = virDomainGetName(d);
            out.name = name ? name : "";
            virDomainGetUUIDString(d, uuid);
          }
          out.uuid = uuid;
          virResetLastError();
          return true;
        },
        [](Napi::Env env, LookupOut& out) -> Napi::Value {
          void* p = out.ptr;
          out.ptr = nullptr;
          if constexpr (Net) return NewNetworkObject(env, AdoptNetwork(static_cast<virNetworkPtr>(p)), out.name, out.uuid);
          else return NewDomainObject(env, AdoptDomain(static_cast<virDomainPtr>(p)), out.name, out.uuid);
        });
  }

  // Unregisters the close callback and every event subscription, then lets go of the
  // connection; virConnectClose runs on the reaper once no call in flight still holds it.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (!Check(info.Env())) return info.Env().Undefined();
    ConnRef c = std::move(conn_);
    conn_.reset();
    SinkRef sink = sink_;
    auto subs = subs_;
    subs_.clear();
    return Call<int>::Queue(
        info.Env(), "virConnectClose",
        [c, subs](int&) {
          virConnectUnregisterCloseCallback(c.get(), CloseCb);
          for (const auto& s : subs) {
            if (s.first) {
              virConnectNetworkEventDeregisterAny(c.get(), s.second);
            } else {
              virConnectDomainEventDeregisterAny(c.get(), s.second);
            }
          }
          virResetLastError();
          return true;
        },
        [sink](Napi::Env env, int&) -> Napi::Value {
          ShutdownSink(sink.get());
          return env.Undefined();
        });
  }

  // For a connection the daemon dropped: forget it without asking libvirt anything on this
  // thread, so nothing of it keeps Node alive.
  Napi::Value Release(const Napi::CallbackInfo& info) {
    conn_.reset();
    subs_.clear();
    if (sink_) ShutdownSink(sink_.get());
    return info.Env().Undefined();
  }

  Napi::Value IsAlive(const Napi::CallbackInfo& info) {
    if (!conn_) return MakeResolved(info.Env(), Napi::Boolean::New(info.Env(), false));
    ConnRef c = conn_;
    return Call<int>::Queue(
        info.Env(), "virConnectIsAlive", [c](int& out) { out = virConnectIsAlive(c.get()); return out >= 0; },
        [](Napi::Env env, int& out) -> Napi::Value { return Napi::Boolean::New(env, out == 1); });
  }

  static Napi::Value MakeResolved(Napi::Env env, Napi::Value v) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Resolve(v);
    return d.Promise();
  }

  Napi::Value SetKeepAlive(const Napi::CallbackInfo& info) {
    REQUIRE_ARGUMENT_UINT32(0, interval);
    REQUIRE_ARGUMENT_UINT32(1, count);
    return IntCall(info, "virConnectSetKeepAlive", [interval, count](virConnectPtr c) {
      return static_cast<int64_t>(virConnectSetKeepAlive(c, static_cast<int>(interval), count));
    });
  }

  Napi::Value GetHostname(const Napi::CallbackInfo& info) {
    return StringCall(info, "virConnectGetHostname", true, [](virConnectPtr c) { return virConnectGetHostname(c); });
  }
  Napi::Value GetURI(const Napi::CallbackInfo& info) {
    return StringCall(info, "virConnectGetURI", true, [](virConnectPtr c) { return virConnectGetURI(c); });
  }
  Napi::Value GetType(const Napi::CallbackInfo& info) {
    return StringCall(info, "virConnectGetType", false, [](virConnectPtr c) { return virConnectGetType(c); });
  }
  Napi::Value GetLibVersion(const Napi::CallbackInfo& info) {
    return IntCall(info, "virConnectGetLibVersion", [](virConnectPtr c) -> int64_t {
      unsigned long v = 0;
      return virConnectGetLibVersion(c, &v) < 0 ? -1 : static_cast<int64_t>(v);
    });
  }
  Napi::Value GetVersion(const Napi::CallbackInfo& info) {
    return IntCall(info, "virConnectGetVersion", [](virConnectPtr c) -> int64_t {
      unsigned long v = 0;
      return virConnectGetVersion(c, &v) < 0 ? -1 : static_cast<int64_t>(v);
    });
  }

  Napi::Value ListAllNetworks(const Napi::CallbackInfo& info) {
    REQUIRE_ARGUMENT_UINT32(0, flags);
    if (!Check(info.Env())) return info.Env().Undefined();
    ConnRef c = conn_;
    return Call<std::vector<NetInfo>>::Queue(
        info.Env(), "virConnectListAllNetworks",
        [c, flags](std::vector<NetInfo>& out) {
          virNetworkPtr* nets = nullptr;
          int n = virConnectListAllNetworks(c.get(), &nets, flags);
          if (n < 0) return false;
          for (int i = 0; i < n; i++) {
            NetInfo ni;
            const char* name = virNetworkGetName(nets[i]);
            ni.name = name ? name : "";
            char uuid[VIR_UUID_STRING_BUFLEN] = "";
            virNetworkGetUUIDString(nets[i], uuid);
            ni.uuid = uuid;
            ni.active = virNetworkIsActive(nets[i]) == 1;
            ni.persistent = virNetworkIsPersistent(nets[i]) == 1;
            int autostart = 0;
            ni.autostart = virNetworkGetAutostart(nets[i], &autostart) == 0 && autostart;
            char* br = virNetworkGetBridgeName(nets[i]);
            ni.hasBridge = br != nullptr;
            ni.bridge = TakeString(br);
            virNetworkFree(nets[i]);
            out.push_back(std::move(ni));
          }
          free(nets);
          virResetLastError();
          return true;
        },
        [](Napi::Env env, std::vector<NetInfo>& out) -> Napi::Value {
          Napi::Array a = Napi::Array::New(env, out.size());
          for (size_t i = 0; i < out.size(); i++) {
            Napi::Object o = Napi::Object::New(env);
            o.Set("name", out[i].name);
            o.Set("uuid", out[i].uuid);
            o.Set("active", out[i].active);
            o.Set("autostart", out[i].autostart);
            o.Set("persistent", out[i].persistent);
            o.Set("bridge", out[i].hasBridge ? Napi::Value(Napi::String::New(env, out[i].bridge)) : env.Null());
            a.Set(static_cast<uint32_t>(i), o);
          }
          return a;
        });
  }

  Napi::Value ListAllDomains(const Napi::CallbackInfo& info) {
    REQUIRE_ARGUMENT_UINT32(0, flags);
    if (!Check(info.Env())) return info.Env().Undefined();
    ConnRef c = conn_;
    return Call<std::vector<DomInfo>>::Queue(
        info.Env(), "virConnectListAllDomains",
        [c, flags](std::vector<DomInfo>& out) {
          virDomainPtr* doms = nullptr;
          int n = virConnectListAllDomains(c.get(), &doms, flags);
          if (n < 0) return false;
          for (int i = 0; i < n; i++) {
            DomInfo di;
            const char* name = virDomainGetName(doms[i]);
            di.name = name ? name : "";
            char uuid[VIR_UUID_STRING_BUFLEN] = "";
            virDomainGetUUIDString(doms[i], uuid);
            di.uuid = uuid;
            unsigned int id = virDomainGetID(doms[i]);
            di.id = id == static_cast<unsigned int>(-1) ? -1 : static_cast<int64_t>(id);
            if (virDomainGetState(doms[i], &di.state, &di.reason, 0) < 0) di.state = di.reason = 0;
            di.active = virDomainIsActive(doms[i]) == 1;
            di.persistent = virDomainIsPersistent(doms[i]) == 1;
            virDomainFree(doms[i]);
            out.push_back(std::move(di));
          }
          free(doms);
          virResetLastError();
          return true;
        },
        [](Napi::Env env, std::vector<DomInfo>& out) -> Napi::Value {
          Napi::Array a = Napi::Array::New(env, out.size());
          for (size_t i = 0; i < out.size(); i++) {
            Napi::Object o = Napi::Object::New(env);
            o.Set("name", out[i].name);
            o.Set("uuid", out[i].uuid);
            o.Set("id", Napi::Number::New(env, static_cast<double>(out[i].id)));
            o.Set("state", out[i].state);
            o.Set("reason", out[i].reason);
            o.Set("active", out[i].active);
            o.Set("persistent", out[i].persistent);
            a.Set(static_cast<uint32_t>(i), o);
          }
          return a;
        });
  }

  Napi::Value NetworkLookupByName(const Napi::CallbackInfo& info) {
    REQUIRE_ARGUMENT_STRING(0, name);
    return ObjectCall<true>(info, "virNetworkLookupByName",
                      [name](virConnectPtr c) { return virNetworkLookupByName(c, name.c_str()); });
  }
  Napi::Value NetworkLookupByUUIDString(const Napi::CallbackInfo& info) {
    REQUIRE_ARGUMENT_STRING(0, uuid);
    return ObjectCall<true>(info, "virNetworkLookupByUUIDString",
                      [uuid](virConnectPtr c) { return virNetworkLookupByUUIDString(c, uuid.c_str()); });
  }
  Napi::Value NetworkDefineXML(const Napi::CallbackInfo& info) {
    REQUIRE_ARGUMENT_STRING(0, xml);
    return ObjectCall<true>(info, "virNetworkDefineXML",
                      [xml](virConnectPtr c) { return virNetworkDefineXML(c, xml.c_str()); });
  }
  Napi::Value DomainLookupByName(const Napi::CallbackInfo& info) {
    REQUIRE_ARGUMENT_STRING(0, name);
    return ObjectCall<false>(info, "virDomainLookupByName",
                      [name](virConnectPtr c) { return virDomainLookupByName(c, name.c_str()); });
  }
  Napi::Value DomainLookupByUUIDString(const Napi::CallbackInfo& info) {
    REQUIRE_ARGUMENT_STRING(0, uuid);
    return ObjectCall<false>(info, "virDomainLookupByUUIDString",
                      [uuid](virConnectPtr c) { return virDomainLookupByUUIDString(c, uuid.c_str()); });
  }
  Napi::Value DomainLookupByID(const Napi::CallbackInfo& info) {
    REQUIRE_ARGUMENT_UINT32(0, id);
    return ObjectCall<false>(info, "virDomainLookupByID",
                      [id](virConnectPtr c) { return virDomainLookupByID(c, static_cast<int>(id)); });
  }
  Napi::Value DomainDefineXML(const Napi::CallbackInfo& info) {
    REQUIRE_ARGUMENT_STRING(0, xml);
    REQUIRE_ARGUMENT_UINT32(1, flags);
    return ObjectCall<false>(info, "virDomainDefineXMLFlags", [xml, flags](virConnectPtr c) {
      return virDomainDefineXMLFlags(c, xml.c_str(), flags);
    });
  }

  // subscribe('domain' | 'network'): a lifecycle subscription; resolves its callback id. While
  // any subscription exists, the event TSFN is referenced and keeps Node alive, like a listener.
  Napi::Value Subscribe(const Napi::CallbackInfo& info) {
    REQUIRE_ARGUMENT_STRING(0, kind);
    if (!Check(info.Env())) return info.Env().Undefined();
    if (kind != "domain" && kind != "network") return ThrowType(info.Env(), "kind must be 'domain' or 'network'");
    bool net = kind == "network";
    ConnRef c = conn_;
    SinkRef sink = sink_;
    Napi::Object self = Value();
    auto ref = std::make_shared<Napi::ObjectReference>(Napi::Persistent(self));
    return Call<int>::Queue(
        info.Env(), net ? "virConnectNetworkEventRegisterAny" : "virConnectDomainEventRegisterAny",
        [c, sink, net](int& out) {
          if (net) {
            out = virConnectNetworkEventRegisterAny(c.get(), nullptr, VIR_NETWORK_EVENT_ID_LIFECYCLE,
                                                    VIR_NETWORK_EVENT_CALLBACK(NetworkLifecycleCb),
                                                    new SinkRef(sink), FreeSinkRef);
          } else {
            out = virConnectDomainEventRegisterAny(c.get(), nullptr, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                   VIR_DOMAIN_EVENT_CALLBACK(DomainLifecycleCb),
                                                   new SinkRef(sink), FreeSinkRef);
          }
          return out >= 0;
        },
        [this, ref, sink, net](Napi::Env env, int& out) -> Napi::Value {
          subs_.emplace_back(net, out);
          std::lock_guard<std::mutex> lock(sink->mu);
          if (sink->alive && ++sink->subscriptions == 1) sink->tsfn.Ref(env);
          return Napi::Number::New(env, out);
        });
  }

  Napi::Value Unsubscribe(const Napi::CallbackInfo& info) {
    REQUIRE_ARGUMENT_UINT32(0, id);
    if (!Check(info.Env())) return info.Env().Undefined();
    bool found = false, net = false;
    for (auto it = subs_.begin(); it != subs_.end(); ++it) {
      if (it->second == static_cast<int>(id)) {
        found = true;
        net = it->first;
        subs_.erase(it);
        break;
      }
    }
    if (!found) return ThrowType(info.Env(), "no such subscription");
    ConnRef c = conn_;
    SinkRef sink = sink_;
    return Call<int>::Queue(
        info.Env(), net ? "virConnectNetworkEventDeregisterAny" : "virConnectDomainEventDeregisterAny",
        [c, net, id](int& out) {
          out = net ? virConnectNetworkEventDeregisterAny(c.get(), static_cast<int>(id))
                    : virConnectDomainEventDeregisterAny(c.get(), static_cast<int>(id));
          return out >= 0;
        },
        [sink](Napi::Env env, int&) -> Napi::Value {
          std::lock_guard<std::mutex> lock(sink->mu);
          if (sink->alive && --sink->subscriptions == 0) sink->tsfn.Unref(env);
          return env.Undefined();
        });
  }

  ConnRef conn_;
  SinkRef sink_;
  std::vector<std::pair<bool, int>> subs_;  // (network?, callback id)
};

struct OpenOut {
  virConnectPtr conn = nullptr;
};

// open(uri, readonly, emit, auth): auth is null, {username?, password?} or a function.
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGUMENT_STRING(0, uri);
  REQUIRE_ARGUMENT_BOOLEAN(1, readonly);
  REQUIRE_ARGUMENT_FUNCTION(2, emit);
  OPTIONAL_ARGUMENT_OBJECT(3, auth);  // a function is an object too

  auto ctx = std::make_shared<AuthCtx>();
  bool useAuth = !auth.IsEmpty();
  ctx->hasFn = auth.IsFunction();
  if (useAuth && !ctx->hasFn) {
    auto take = [&](const char* key, bool* has, std::string* value) {
      Napi::Value v = auth.Get(key);
      *has = !args::IsAbsent(v);
      return !*has || args::Get(v, value);
    };
    if (!take("username", &ctx->hasUser, &ctx->username))
      return args::ThrowTypeError(env, "auth.username", "a string without NUL characters");
    if (!take("password", &ctx->hasPass, &ctx->password))
      return args::ThrowTypeError(env, "auth.password", "a string without NUL characters");
  }
  // Only now that nothing can throw: a TSFN made before a TypeError would hold the loop open.
  if (ctx->hasFn) ctx->tsfn = Napi::ThreadSafeFunction::New(env, auth.As<Napi::Function>(), "hostwire-libvirt-auth", 0, 1);
  auto sink = std::make_shared<Sink>();
  sink->tsfn = Napi::ThreadSafeFunction::New(env, emit, "hostwire-libvirt-events", 0, 1);
  sink->tsfn.Unref(env);
  sink->alive = true;

  return Call<OpenOut>::Queue(
      env, "virConnectOpenAuth",
      [uri, readonly, sink, ctx, useAuth](OpenOut& out) {
        int credtype[] = {VIR_CRED_AUTHNAME, VIR_CRED_USERNAME, VIR_CRED_PASSPHRASE, VIR_CRED_ECHOPROMPT,
                          VIR_CRED_NOECHOPROMPT, VIR_CRED_REALM};
        virConnectAuth va = {credtype, ctx->hasFn ? 6u : 3u, AuthCb, ctx.get()};
        unsigned int flags = readonly ? VIR_CONNECT_RO : 0;
        out.conn = virConnectOpenAuth(uri.c_str(), useAuth ? &va : nullptr, flags);
        if (out.conn == nullptr) return false;
        if (virConnectRegisterCloseCallback(out.conn, CloseCb, new SinkRef(sink), FreeSinkRef) < 0) {
          virResetLastError();  // drivers without a close callback (test://) simply never close
        }
        return true;
      },
      [sink](Napi::Env env, OpenOut& out) -> Napi::Value {
        ConnRef c = AdoptConn(out.conn);
        SinkRef s = sink;
        AddonData* data = env.GetInstanceData<AddonData>();
        return data->connCtor.New({Napi::External<ConnRef>::New(env, &c), Napi::External<SinkRef>::New(env, &s)});
      });
}

}  // namespace

void InitConnection(Napi::Env env, Napi::Object exports, AddonData* data) {
  Napi::Function ctor = NativeConnection::Define(env);
  data->connCtor = Napi::Persistent(ctor);
  exports.Set("NativeConnection", ctor);
  exports.Set("open", Napi::Function::New(env, Open, "open"));
}

}  // namespace hostwire
