// Events, from libvirt's event thread to JS: the Sink a connection's events go through, and the
// callbacks that post into it (domain and network lifecycle, domain device added / removed /
// removal failed, connection close), with their registration. One file per event family, as libvirt-go-module keeps domain_events.go,
// network_events.go and callbacks.go apart from connect.go.
#pragma once
#include <libvirt/libvirt.h>
#include <napi.h>

#include <memory>
#include <mutex>

namespace hostwire {

// Where the event thread sends a connection's events: a thread-safe function that calls the JS
// `emit(message)` given to open(). `alive` turns false, under `mu`, before the TSFN is released,
// so a callback that races with close() drops its message instead of using a dead TSFN.
struct Sink {
  std::mutex mu;
  bool alive = false;
  int subscriptions = 0;
  Napi::ThreadSafeFunction tsfn;
  ~Sink() {
    if (alive) tsfn.Release();  // thread-safe; reached when open() failed
  }
};
using SinkRef = std::shared_ptr<Sink>;

// On the JS thread: a sink calling emit(message). Unreferenced: it keeps Node alive only while a
// subscription exists (SinkSubscribed), like a listening socket.
SinkRef NewSink(Napi::Env env, Napi::Function emit);

// Stops delivery and releases the TSFN. Idempotent, from any thread.
void ShutdownSink(Sink* s);

// On the JS thread, after a subscription was registered or deregistered.
void SinkSubscribed(Napi::Env env, Sink* s);
void SinkUnsubscribed(Napi::Env env, Sink* s);

// On the thread making the libvirt call (a pool thread). Each registration hands libvirt a
// reference to the sink, which libvirt drops when the callback is deregistered or the connection
// closed; when registration fails libvirt never took it, and it is dropped here.

// False (and the libvirt error reset) for drivers without a close callback (test://).
bool RegisterCloseCallback(virConnectPtr conn, const SinkRef& sink);
void UnregisterCloseCallback(virConnectPtr conn);

// The event ids with a callback here: VIR_NETWORK_EVENT_ID_LIFECYCLE, and
// VIR_DOMAIN_EVENT_ID_LIFECYCLE, _DEVICE_ADDED, _DEVICE_REMOVED, _DEVICE_REMOVAL_FAILED. Any
// other id would hand libvirt a callback of the wrong signature: check before registering.
bool EventSupported(bool network, int eventID);

// A supported event id: the callback id, or -1 with the libvirt error set.
int RegisterEvent(virConnectPtr conn, bool network, int eventID, const SinkRef& sink);
int DeregisterEvent(virConnectPtr conn, bool network, int id);

}  // namespace hostwire
