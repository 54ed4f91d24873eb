// NativeConnection: one virConnectPtr, its close callback and its event subscriptions, plus
// open(), which authenticates through credentials or a JS callback (virConnectOpenAuth). The
// events themselves are in events.cc, the authentication bridge in auth.cc.
#include <libvirt/libvirt.h>

#include <vector>

#include "args.h"
#include "auth.h"
#include "events.h"
#include "objects.h"
#include "worker.h"

namespace hostwire {
namespace {

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
    inline_ = info.Length() > 2 && info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
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
        [](Napi::Env env, int64_t& out) -> Napi::Value { return Napi::Number::New(env, static_cast<double>(out)); },
        inline_);
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
        [](Napi::Env env, std::string& out) -> Napi::Value { return Napi::String::New(env, out); }, inline_);
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
        [inlineCalls = inline_](Napi::Env env, LookupOut& out) -> Napi::Value {
          void* p = out.ptr;
          out.ptr = nullptr;
          if constexpr (Net)
            return NewNetworkObject(env, AdoptNetwork(static_cast<virNetworkPtr>(p)), out.name, out.uuid, inlineCalls);
          else
            return NewDomainObject(env, AdoptDomain(static_cast<virDomainPtr>(p)), out.name, out.uuid, inlineCalls);
        },
        inline_);
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
          UnregisterCloseCallback(c.get());
          for (const auto& s : subs) DeregisterEvent(c.get(), s.first, s.second);
          virResetLastError();
          return true;
        },
        [sink](Napi::Env env, int&) -> Napi::Value {
          ShutdownSink(sink.get());
          return env.Undefined();
        },
        inline_);
  }

  // For a connection the daemon dropped: forget it without asking libvirt anything on this
  // thread, so nothing of it keeps Node alive. Its event callbacks are still registered in
  // libvirt, each holding a sink reference and a reference to the virConnect (a cycle that keeps
  // both forever): they are deregistered on the reaper thread (locally: the RPC to the dead
  // daemon fails, the callback is gone all the same), then the connection is closed.
  Napi::Value Release(const Napi::CallbackInfo& info) {
    if (conn_) {
      ConnRef c = std::move(conn_);
      conn_.reset();
      auto subs = std::move(subs_);
      Defer([c, subs] {
        UnregisterCloseCallback(c.get());
        for (const auto& s : subs) DeregisterEvent(c.get(), s.first, s.second);
      });
    }
    subs_.clear();
    if (sink_) ShutdownSink(sink_.get());
    return info.Env().Undefined();
  }

  Napi::Value IsAlive(const Napi::CallbackInfo& info) {
    if (!conn_) return MakeResolved(info.Env(), Napi::Boolean::New(info.Env(), false));
    ConnRef c = conn_;
    return Call<int>::Queue(
        info.Env(), "virConnectIsAlive", [c](int& out) { out = virConnectIsAlive(c.get()); return out >= 0; },
        [](Napi::Env env, int& out) -> Napi::Value { return Napi::Boolean::New(env, out == 1); }, inline_);
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
        },
        inline_);
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
        },
        inline_);
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

  // subscribe('domain' | 'network', eventID): a subscription to one event id (events.h says
  // which); resolves its callback id. While any subscription exists, the event TSFN is referenced
  // and keeps Node alive, like a listener.
  Napi::Value Subscribe(const Napi::CallbackInfo& info) {
    REQUIRE_ARGUMENT_STRING(0, kind);
    REQUIRE_ARGUMENT_UINT32(1, eventID);
    if (!Check(info.Env())) return info.Env().Undefined();
    if (kind != "domain" && kind != "network") return ThrowType(info.Env(), "kind must be 'domain' or 'network'");
    bool net = kind == "network";
    int ev = static_cast<int>(eventID);
    if (!EventSupported(net, ev))
      return args::ThrowTypeError(info.Env(), args::ArgumentName(1, "eventID"),
                                  net ? "VIR_NETWORK_EVENT_ID_LIFECYCLE"
                                      : "VIR_DOMAIN_EVENT_ID_LIFECYCLE, _DEVICE_ADDED, _DEVICE_REMOVED or _DEVICE_REMOVAL_FAILED");
    ConnRef c = conn_;
    SinkRef sink = sink_;
    Napi::Object self = Value();
    auto ref = std::make_shared<Napi::ObjectReference>(Napi::Persistent(self));
    return Call<int>::Queue(
        info.Env(), net ? "virConnectNetworkEventRegisterAny" : "virConnectDomainEventRegisterAny",
        [c, sink, net, ev](int& out) {
          out = RegisterEvent(c.get(), net, ev, sink);
          return out >= 0;
        },
        [this, ref, sink, net](Napi::Env env, int& out) -> Napi::Value {
          subs_.emplace_back(net, out);
          SinkSubscribed(env, sink.get());
          return Napi::Number::New(env, out);
        },
        inline_);
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
          out = DeregisterEvent(c.get(), net, static_cast<int>(id));
          return out >= 0;
        },
        [sink](Napi::Env env, int&) -> Napi::Value {
          SinkUnsubscribed(env, sink.get());
          return env.Undefined();
        },
        inline_);
  }

  ConnRef conn_;
  SinkRef sink_;
  bool inline_ = false;  // calls on the JS thread (worker.h)
  std::vector<std::pair<bool, int>> subs_;  // (network?, callback id)
};

struct OpenOut {
  virConnectPtr conn = nullptr;
};

// open(uri, readonly, emit, auth, inline): auth is null, {username?, password?} or a function;
// inline (optional, default false): the connection's calls run on the JS thread (worker.h). The
// open itself still goes to the pool when auth is a function: libvirt asks for credentials on
// the thread that opens, and that thread waits while the JS thread answers.
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  REQUIRE_ARGUMENT_STRING(0, uri);
  REQUIRE_ARGUMENT_BOOLEAN(1, readonly);
  REQUIRE_ARGUMENT_FUNCTION(2, emit);
  OPTIONAL_ARGUMENT_OBJECT(3, auth);  // a function is an object too
  OPTIONAL_ARGUMENT_BOOLEAN(4, inlineCalls, false);

  std::shared_ptr<AuthCtx> ctx;
  if (!ReadAuth(env, auth, &ctx)) return Napi::Value();
  SinkRef sink = NewSink(env, emit);  // only now that nothing can throw: it would hold the loop open

  return Call<OpenOut>::Queue(
      env, "virConnectOpenAuth",
      [uri, readonly, sink, ctx](OpenOut& out) {
        out.conn = OpenAuth(uri, ctx.get(), readonly ? VIR_CONNECT_RO : 0);
        if (out.conn == nullptr) return false;
        RegisterCloseCallback(out.conn, sink);  // false: drivers without one (test://) never close
        return true;
      },
      [sink, inlineCalls](Napi::Env env, OpenOut& out) -> Napi::Value {
        // The last reference (after close(), release(), or a collected object) gives the close
        // callback back before closing: a registered one holds a reference to the virConnect
        // (virConnectCloseCallbackDataRegister), which would otherwise never be disposed.
        ConnRef c(out.conn, [](virConnectPtr p) {
          Defer([p] {
            UnregisterCloseCallback(p);
            virConnectClose(p);
          });
        });
        SinkRef s = sink;
        AddonData* data = env.GetInstanceData<AddonData>();
        return data->connCtor.New({Napi::External<ConnRef>::New(env, &c), Napi::External<SinkRef>::New(env, &s),
                                   Napi::Boolean::New(env, inlineCalls)});
      },
      inlineCalls && !AsksJs(ctx.get()));
}

// stats(): {sinks, libvirtRefs} (events.h EventStats), for leak tests.
Napi::Value Stats(const Napi::CallbackInfo& info) {
  EventStats st = GetEventStats();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("sinks", Napi::Number::New(info.Env(), static_cast<double>(st.sinks)));
  o.Set("libvirtRefs", Napi::Number::New(info.Env(), static_cast<double>(st.libvirtRefs)));
  return o;
}

}  // namespace

void InitConnection(Napi::Env env, Napi::Object exports, AddonData* data) {
  Napi::Function ctor = NativeConnection::Define(env);
  data->connCtor = Napi::Persistent(ctor);
  exports.Set("NativeConnection", ctor);
  exports.Set("open", Napi::Function::New(env, Open, "open"));
  exports.Set("stats", Napi::Function::New(env, Stats, "stats"));
}

}  // namespace hostwire
