// The event sink and the lifecycle, device and close callbacks (events.h). The callbacks run on
// the event thread (runtime.h), copy what they need out of libvirt's objects there, and post it
// to the JS thread, where emit() receives {kind, name, uuid, event, detail} (lifecycle),
// {kind, name, uuid, alias} (devices) or {kind, reason} (close).
#include "events.h"

#include <libvirt/virterror.h>

#include <string>

namespace hostwire {
namespace {

struct EventMsg {
  std::string kind;  // 'domain-lifecycle', 'network-lifecycle', 'domain-device-*', 'close'
  std::string name;
  std::string uuid;
  int event = 0;  // lifecycle event, or the close reason
  int detail = 0;
  std::string alias;  // device events: the device's alias (<alias name='net1'/>)
};

void EmitToJs(Napi::Env env, Napi::Function emit, EventMsg* m) {
  if (env != nullptr && emit != nullptr) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("kind", m->kind);
    if (m->kind == "close") {
      o.Set("reason", m->event);
    } else if (m->kind.rfind("domain-device-", 0) == 0) {
      o.Set("name", m->name);
      o.Set("uuid", m->uuid);
      o.Set("alias", m->alias);
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

// Sink references handed to libvirt and not yet given back (FreeSinkRef, or deleted here when
// libvirt never took them).
std::atomic<long> libvirtRefs{0};

SinkRef* RefForLibvirt(const SinkRef& sink) {
  libvirtRefs.fetch_add(1);
  return new SinkRef(sink);
}

void FreeSinkRef(void* opaque) {
  delete static_cast<SinkRef*>(opaque);
  libvirtRefs.fetch_sub(1);
}

void Post(void* opaque, EventMsg* m) {
  Sink* s = static_cast<SinkRef*>(opaque)->get();
  std::lock_guard<std::mutex> lock(s->mu);
  if (!s->alive || s->tsfn.NonBlockingCall(m, EmitToJs) != napi_ok) delete m;
}

// A message about `dom`: its name and UUID copied on the event thread.
EventMsg* DomainMsg(const char* kind, virDomainPtr dom) {
  auto* m = new EventMsg{kind, "", "", 0, 0, ""};
  const char* name = virDomainGetName(dom);
  if (name != nullptr) m->name = name;
  char uuid[VIR_UUID_STRING_BUFLEN];
  if (virDomainGetUUIDString(dom, uuid) == 0) m->uuid = uuid;
  return m;
}

int DomainLifecycleCb(virConnectPtr, virDomainPtr dom, int event, int detail, void* opaque) {
  EventMsg* m = DomainMsg("domain-lifecycle", dom);
  m->event = event;
  m->detail = detail;
  Post(opaque, m);
  return 0;
}

// virConnectDomainEventDeviceAddedCallback, ...RemovedCallback and ...RemovalFailedCallback
// share one signature; the kind is the template argument.
template <const char* Kind>
void DomainDeviceCb(virConnectPtr, virDomainPtr dom, const char* devAlias, void* opaque) {
  EventMsg* m = DomainMsg(Kind, dom);
  if (devAlias != nullptr) m->alias = devAlias;
  Post(opaque, m);
}
constexpr char kDeviceAdded[] = "domain-device-added";
constexpr char kDeviceRemoved[] = "domain-device-removed";
constexpr char kDeviceRemovalFailed[] = "domain-device-removal-failed";

void NetworkLifecycleCb(virConnectPtr, virNetworkPtr net, int event, int detail, void* opaque) {
  auto* m = new EventMsg{"network-lifecycle", "", "", event, detail};
  const char* name = virNetworkGetName(net);
  if (name != nullptr) m->name = name;
  char uuid[VIR_UUID_STRING_BUFLEN];
  if (virNetworkGetUUIDString(net, uuid) == 0) m->uuid = uuid;
  Post(opaque, m);
}

void CloseCb(virConnectPtr, int reason, void* opaque) { Post(opaque, new EventMsg{"close", "", "", reason, 0}); }

}  // namespace

std::atomic<long> Sink::live{0};

EventStats GetEventStats() { return EventStats{Sink::live.load(), libvirtRefs.load()}; }

SinkRef NewSink(Napi::Env env, Napi::Function emit) {
  auto sink = std::make_shared<Sink>();
  sink->tsfn = Napi::ThreadSafeFunction::New(env, emit, "hostwire-libvirt-events", 0, 1);
  sink->tsfn.Unref(env);
  sink->alive = true;
  return sink;
}

void ShutdownSink(Sink* s) {
  std::lock_guard<std::mutex> lock(s->mu);
  if (s->alive) {
    s->alive = false;
    s->tsfn.Release();  // thread-safe
  }
}

void SinkSubscribed(Napi::Env env, Sink* s) {
  std::lock_guard<std::mutex> lock(s->mu);
  if (s->alive && ++s->subscriptions == 1) s->tsfn.Ref(env);
}

void SinkUnsubscribed(Napi::Env env, Sink* s) {
  std::lock_guard<std::mutex> lock(s->mu);
  if (s->alive && --s->subscriptions == 0) s->tsfn.Unref(env);
}

namespace {

// The probe of DriverKeepsCloseCallback(): set by its free callback, on the registering thread.
thread_local bool probeFreed = false;
void ProbeCloseCb(virConnectPtr, int, void*) {}
void ProbeFree(void*) { probeFreed = true; }

// Whether this connection's driver stores a close callback. virConnectRegisterCloseCallback
// (libvirt-host.c) returns 0 without storing anything when the driver has no
// connectRegisterCloseCallback; in libvirt 9.0 the remote driver has one (qemu:///system,
// qemu+tcp:// ...; vz too, not built on Debian), test:// and the in-process qemu driver
// (qemu:///embed) do not. A reference handed to such a driver would never be given back. A driver that stores one frees it inside virConnectUnregisterCloseCallback
// (remoteConnectUnregisterCloseCallback -> virConnectCloseCallbackDataUnregister -> ...Reset ->
// freecb), synchronously, so registering and unregistering a probe tells them apart.
bool DriverKeepsCloseCallback(virConnectPtr conn) {
  probeFreed = false;
  if (virConnectRegisterCloseCallback(conn, ProbeCloseCb, nullptr, ProbeFree) < 0) {
    virResetLastError();
    return false;
  }
  virConnectUnregisterCloseCallback(conn, ProbeCloseCb);
  virResetLastError();
  return probeFreed;
}

}  // namespace

bool RegisterCloseCallback(virConnectPtr conn, const SinkRef& sink) {
  if (!DriverKeepsCloseCallback(conn)) return false;  // it would never call it, nor free it
  auto* ref = RefForLibvirt(sink);
  if (virConnectRegisterCloseCallback(conn, CloseCb, ref, FreeSinkRef) == 0) return true;
  FreeSinkRef(ref);  // never libvirt's: it takes the reference only when registration succeeds
  virResetLastError();
  return false;
}

void UnregisterCloseCallback(virConnectPtr conn) {
  // Fails harmlessly ("A different callback was requested") when none is registered.
  virConnectUnregisterCloseCallback(conn, CloseCb);
  virResetLastError();
}

bool EventSupported(bool network, int eventID) {
  if (network) return eventID == VIR_NETWORK_EVENT_ID_LIFECYCLE;
  return eventID == VIR_DOMAIN_EVENT_ID_LIFECYCLE || eventID == VIR_DOMAIN_EVENT_ID_DEVICE_ADDED ||
         eventID == VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED || eventID == VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED;
}

int RegisterEvent(virConnectPtr conn, bool network, int eventID, const SinkRef& sink) {
  virConnectDomainEventGenericCallback cb = nullptr;
  if (!network) {
    switch (eventID) {
      case VIR_DOMAIN_EVENT_ID_LIFECYCLE: cb = VIR_DOMAIN_EVENT_CALLBACK(DomainLifecycleCb); break;
      case VIR_DOMAIN_EVENT_ID_DEVICE_ADDED: cb = VIR_DOMAIN_EVENT_CALLBACK(DomainDeviceCb<kDeviceAdded>); break;
      case VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED: cb = VIR_DOMAIN_EVENT_CALLBACK(DomainDeviceCb<kDeviceRemoved>); break;
      case VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED: cb = VIR_DOMAIN_EVENT_CALLBACK(DomainDeviceCb<kDeviceRemovalFailed>); break;
      default: return -1;  // unreachable: the caller checked EventSupported()
    }
  } else if (eventID != VIR_NETWORK_EVENT_ID_LIFECYCLE) {
    return -1;  // likewise
  }
  auto* ref = RefForLibvirt(sink);
  int id = network ? virConnectNetworkEventRegisterAny(conn, nullptr, VIR_NETWORK_EVENT_ID_LIFECYCLE,
                                                       VIR_NETWORK_EVENT_CALLBACK(NetworkLifecycleCb), ref, FreeSinkRef)
                   : virConnectDomainEventRegisterAny(conn, nullptr, eventID, cb, ref, FreeSinkRef);
  if (id < 0) FreeSinkRef(ref);  // likewise
  return id;
}

int DeregisterEvent(virConnectPtr conn, bool network, int id) {
  return network ? virConnectNetworkEventDeregisterAny(conn, id) : virConnectDomainEventDeregisterAny(conn, id);
}

}  // namespace hostwire
