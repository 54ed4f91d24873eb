// NativeNetwork: one virNetworkPtr. Methods mirror virNetwork* without the prefix, flags last.
#include <libvirt/libvirt.h>

#include "args.h"
#include "objects.h"
#include "worker.h"

namespace hostwire {
namespace {

class NativeNetwork : public Napi::ObjectWrap<NativeNetwork> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeNetwork",
                       {
                           InstanceMethod<&NativeNetwork::Create>("create"),
                           InstanceMethod<&NativeNetwork::Destroy>("destroy"),
                           InstanceMethod<&NativeNetwork::Undefine>("undefine"),
                           InstanceMethod<&NativeNetwork::GetAutostart>("getAutostart"),
                           InstanceMethod<&NativeNetwork::SetAutostart>("setAutostart"),
                           InstanceMethod<&NativeNetwork::GetXMLDesc>("getXMLDesc"),
                           InstanceMethod<&NativeNetwork::IsActive>("isActive"),
                           InstanceMethod<&NativeNetwork::IsPersistent>("isPersistent"),
                           InstanceMethod<&NativeNetwork::GetBridgeName>("getBridgeName"),
                           InstanceMethod<&NativeNetwork::Free>("free"),
                       });
  }

  explicit NativeNetwork(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeNetwork>(info) {
    if (info.Length() < 1 || !info[0].IsExternal()) {
      ThrowType(info.Env(), "NativeNetwork is made by lookups, not by new");
      return;
    }
    net_ = *info[0].As<Napi::External<NetRef>>().Data();
    inline_ = info.Length() > 1 && info[1].IsBoolean() && info[1].As<Napi::Boolean>().Value();
  }

 private:
  // Runs fn(net) -> int on the pool; resolves undefined (ret >= 0) or a boolean (ret 0/1).
  template <typename Fn>
  Napi::Value IntCall(const Napi::CallbackInfo& info, const char* op, bool asBool, Fn fn) {
    if (!net_) return ThrowType(info.Env(), "network handle was freed");
    NetRef n = net_;
    return Call<int>::Queue(
        info.Env(), op, [n, fn](int& out) { out = fn(n.get()); return out >= 0; },
        [asBool](Napi::Env env, int& out) -> Napi::Value {
          return asBool ? Napi::Value(Napi::Boolean::New(env, out == 1)) : env.Undefined();
        },
        inline_);
  }

  Napi::Value Create(const Napi::CallbackInfo& info) {
    return IntCall(info, "virNetworkCreate", false, [](virNetworkPtr n) { return virNetworkCreate(n); });
  }
  Napi::Value Destroy(const Napi::CallbackInfo& info) {
    return IntCall(info, "virNetworkDestroy", false, [](virNetworkPtr n) { return virNetworkDestroy(n); });
  }
  Napi::Value Undefine(const Napi::CallbackInfo& info) {
    return IntCall(info, "virNetworkUndefine", false, [](virNetworkPtr n) { return virNetworkUndefine(n); });
  }
  Napi::Value IsActive(const Napi::CallbackInfo& info) {
    return IntCall(info, "virNetworkIsActive", true, [](virNetworkPtr n) { return virNetworkIsActive(n); });
  }
  Napi::Value IsPersistent(const Napi::CallbackInfo& info) {
    return IntCall(info, "virNetworkIsPersistent", true, [](virNetworkPtr n) { return virNetworkIsPersistent(n); });
  }
  Napi::Value GetAutostart(const Napi::CallbackInfo& info) {
    return IntCall(info, "virNetworkGetAutostart", true, [](virNetworkPtr n) {
      int on = 0;
      return virNetworkGetAutostart(n, &on) < 0 ? -1 : (on ? 1 : 0);
    });
  }
  Napi::Value SetAutostart(const Napi::CallbackInfo& info) {
    REQUIRE_ARGUMENT_BOOLEAN(0, on);
    return IntCall(info, "virNetworkSetAutostart", false,
                   [on](virNetworkPtr n) { return virNetworkSetAutostart(n, on ? 1 : 0); });
  }

  Napi::Value GetXMLDesc(const Napi::CallbackInfo& info) {
    REQUIRE_ARGUMENT_UINT32(0, flags);
    if (!net_) return ThrowType(info.Env(), "network handle was freed");
    NetRef n = net_;
    return Call<std::string>::Queue(
        info.Env(), "virNetworkGetXMLDesc",
        [n, flags](std::string& out) {
          char* xml = virNetworkGetXMLDesc(n.get(), flags);
          if (xml == nullptr) return false;
          out = TakeString(xml);
          return true;
        },
        [](Napi::Env env, std::string& out) -> Napi::Value { return Napi::String::New(env, out); }, inline_);
  }

  Napi::Value GetBridgeName(const Napi::CallbackInfo& info) {
    if (!net_) return ThrowType(info.Env(), "network handle was freed");
    NetRef n = net_;
    return Call<std::string>::Queue(
        info.Env(), "virNetworkGetBridgeName",
        [n](std::string& out) {
          char* br = virNetworkGetBridgeName(n.get());
          if (br == nullptr) return false;
          out = TakeString(br);
          return true;
        },
        [](Napi::Env env, std::string& out) -> Napi::Value { return Napi::String::New(env, out); }, inline_);
  }

  // Drops this object's reference now instead of at garbage collection (virNetworkFree, on the
  // reaper thread, once no call in flight still holds it).
  Napi::Value Free(const Napi::CallbackInfo& info) {
    net_.reset();
    return info.Env().Undefined();
  }

  NetRef net_;
  bool inline_ = false;  // calls on the JS thread (worker.h): its connection's
};

}  // namespace

Napi::Object NewNetworkObject(Napi::Env env, NetRef net, const std::string& name, const std::string& uuid,
                              bool inlineCalls) {
  AddonData* data = env.GetInstanceData<AddonData>();
  Napi::Object obj = data->netCtor.New({Napi::External<NetRef>::New(env, &net), Napi::Boolean::New(env, inlineCalls)});
  obj.Set("name", name);
  obj.Set("uuid", uuid);
  return obj;
}

void InitNetwork(Napi::Env env, Napi::Object exports, AddonData* data) {
  Napi::Function ctor = NativeNetwork::Define(env);
  data->netCtor = Napi::Persistent(ctor);
  exports.Set("NativeNetwork", ctor);
}

}  // namespace hostwire
