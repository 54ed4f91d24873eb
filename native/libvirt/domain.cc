// NativeDomain: one virDomainPtr. Methods mirror virDomain* without the prefix, flags last.
#include <libvirt/libvirt.h>

#include "args.h"
#include "objects.h"
#include "worker.h"

namespace hostwire {
namespace {

struct StateOut {
  int state = 0;
  int reason = 0;
};

class NativeDomain : public Napi::ObjectWrap<NativeDomain> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeDomain",
                       {
                           InstanceMethod<&NativeDomain::Create>("create"),
                           InstanceMethod<&NativeDomain::Shutdown>("shutdown"),
                           InstanceMethod<&NativeDomain::Destroy>("destroy"),
                           InstanceMethod<&NativeDomain::Undefine>("undefine"),
                           InstanceMethod<&NativeDomain::IsActive>("isActive"),
                           InstanceMethod<&NativeDomain::IsPersistent>("isPersistent"),
                           InstanceMethod<&NativeDomain::GetID>("getID"),
                           InstanceMethod<&NativeDomain::GetState>("getState"),
                           InstanceMethod<&NativeDomain::GetXMLDesc>("getXMLDesc"),
                           InstanceMethod<&NativeDomain::AttachDevice>("attachDevice"),
                           InstanceMethod<&NativeDomain::DetachDevice>("detachDevice"),
                           InstanceMethod<&NativeDomain::Free>("free"),
                       });
  }

  explicit NativeDomain(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeDomain>(info) {
    if (info.Length() < 1 || !info[0].IsExternal()) {
      ThrowType(info.Env(), "NativeDomain is made by lookups, not by new");
      return;
    }
    dom_ = *info[0].As<Napi::External<DomRef>>().Data();
    inline_ = info.Length() > 1 && info[1].IsBoolean() && info[1].As<Napi::Boolean>().Value();
  }

 private:
  template <typename Fn>
  Napi::Value IntCall(const Napi::CallbackInfo& info, const char* op, bool asBool, Fn fn) {
    if (!dom_) return ThrowType(info.Env(), "domain handle was freed");
    DomRef d = dom_;
    return Call<int>::Queue(
        info.Env(), op, [d, fn](int& out) { out = fn(d.get()); return out >= 0; },
        [asBool](Napi::Env env, int& out) -> Napi::Value {
          return asBool ? Napi::Value(Napi::Boolean::New(env, out == 1)) : env.Undefined();
        },
        inline_);
  }

  // For calls whose only argument is flags.
  template <typename Fn>
  Napi::Value FlagsCall(const Napi::CallbackInfo& info, const char* op, Fn fn) {
    REQUIRE_ARGUMENT_UINT32(0, flags);
    return IntCall(info, op, false, [fn, flags](virDomainPtr d) { return fn(d, flags); });
  }

  Napi::Value Create(const Napi::CallbackInfo& info) {
    return FlagsCall(info, "virDomainCreateWithFlags", [](virDomainPtr d, uint32_t f) { return virDomainCreateWithFlags(d, f); });
  }
  Napi::Value Shutdown(const Napi::CallbackInfo& info) {
    return FlagsCall(info, "virDomainShutdownFlags", [](virDomainPtr d, uint32_t f) { return virDomainShutdownFlags(d, f); });
  }
  Napi::Value Destroy(const Napi::CallbackInfo& info) {
    return FlagsCall(info, "virDomainDestroyFlags", [](virDomainPtr d, uint32_t f) { return virDomainDestroyFlags(d, f); });
  }
  Napi::Value Undefine(const Napi::CallbackInfo& info) {
    return FlagsCall(info, "virDomainUndefineFlags", [](virDomainPtr d, uint32_t f) { return virDomainUndefineFlags(d, f); });
  }
  Napi::Value IsActive(const Napi::CallbackInfo& info) {
    return IntCall(info, "virDomainIsActive", true, [](virDomainPtr d) { return virDomainIsActive(d); });
  }
  Napi::Value IsPersistent(const Napi::CallbackInfo& info) {
    return IntCall(info, "virDomainIsPersistent", true, [](virDomainPtr d) { return virDomainIsPersistent(d); });
  }

  // Resolves the hypervisor id, or -1 for an inactive domain.
  Napi::Value GetID(const Napi::CallbackInfo& info) {
    if (!dom_) return ThrowType(info.Env(), "domain handle was freed");
    DomRef d = dom_;
    return Call<int64_t>::Queue(
        info.Env(), "virDomainGetID",
        [d](int64_t& out) {
          unsigned int id = virDomainGetID(d.get());
          out = id == static_cast<unsigned int>(-1) ? -1 : static_cast<int64_t>(id);
          return true;
        },
        [](Napi::Env env, int64_t& out) -> Napi::Value { return Napi::Number::New(env, static_cast<double>(out)); },
        inline_);
  }

  // Resolves [state, reason] (virDomainState, and the reason enum of that state).
  Napi::Value GetState(const Napi::CallbackInfo& info) {
    if (!dom_) return ThrowType(info.Env(), "domain handle was freed");
    DomRef d = dom_;
    return Call<StateOut>::Queue(
        info.Env(), "virDomainGetState",
        [d](StateOut& out) { return virDomainGetState(d.get(), &out.state, &out.reason, 0) == 0; },
        [](Napi::Env env, StateOut& out) -> Napi::Value {
          Napi::Array a = Napi::Array::New(env, 2);
          a.Set(0u, Napi::Number::New(env, out.state));
          a.Set(1u, Napi::Number::New(env, out.reason));
          return a;
        },
        inline_);
  }

  Napi::Value GetXMLDesc(const Napi::CallbackInfo& info) {
    REQUIRE_ARGUMENT_UINT32(0, flags);
    if (!dom_) return ThrowType(info.Env(), "domain handle was freed");
    DomRef d = dom_;
    return Call<std::string>::Queue(
        info.Env(), "virDomainGetXMLDesc",
        [d, flags](std::string& out) {
          char* xml = virDomainGetXMLDesc(d.get(), flags);
          if (xml == nullptr) return false;
          out = TakeString(xml);
          return true;
        },
        [](Napi::Env env, std::string& out) -> Napi::Value { return Napi::String::New(env, out); }, inline_);
  }

  Napi::Value AttachDevice(const Napi::CallbackInfo& info) {
    REQUIRE_ARGUMENT_STRING(0, xml);
    REQUIRE_ARGUMENT_UINT32(1, flags);
    return IntCall(info, "virDomainAttachDeviceFlags", false,
                   [xml, flags](virDomainPtr d) { return virDomainAttachDeviceFlags(d, xml.c_str(), flags); });
  }
  Napi::Value DetachDevice(const Napi::CallbackInfo& info) {
    REQUIRE_ARGUMENT_STRING(0, xml);
    REQUIRE_ARGUMENT_UINT32(1, flags);
    return IntCall(info, "virDomainDetachDeviceFlags", false,
                   [xml, flags](virDomainPtr d) { return virDomainDetachDeviceFlags(d, xml.c_str(), flags); });
  }

  // Drops this object's reference now (virDomainFree on the reaper thread once no call in
  // flight holds it) instead of at garbage collection.
  Napi::Value Free(const Napi::CallbackInfo& info) {
    dom_.reset();
    return info.Env().Undefined();
  }

  DomRef dom_;
  bool inline_ = false;  // calls on the JS thread (worker.h): its connection's
};

}  // namespace

Napi::Object NewDomainObject(Napi::Env env, DomRef dom, const std::string& name, const std::string& uuid,
                              bool inlineCalls) {
  AddonData* data = env.GetInstanceData<AddonData>();
  Napi::Object obj = data->domCtor.New({Napi::External<DomRef>::New(env, &dom), Napi::Boolean::New(env, inlineCalls)});
  obj.Set("name", name);
  obj.Set("uuid", uuid);
  return obj;
}

void InitDomain(Napi::Env env, Napi::Object exports, AddonData* data) {
  Napi::Function ctor = NativeDomain::Define(env);
  data->domCtor = Napi::Persistent(ctor);
  exports.Set("NativeDomain", ctor);
}

}  // namespace hostwire
