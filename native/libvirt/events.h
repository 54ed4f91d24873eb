// Events, from libvirt's event thread to JS: the Sink a connection's events go through, and the
// callbacks that post into it (domain and network lifecycle, domain device added / removed /
// removal failed, connection close), with their registration. One file per event family, as libvirt-go-module keeps domain_events.go,
// network_events.go and callbacks.go apart from connect.go.
#pragma once
#include <libvirt/libvirt.h>
#include <napi.h>

#include <atomic>
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
  Sink() { live.fetch_add(1); }
  ~Sink() {
    if (alive) tsfn.Release();  // thread-safe; reached when open() failed
    live.fetch_sub(1);
  }
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;
  // How many sinks exist, for leak tests (stats()).
  static std::atomic<long> live;
};
using SinkRef = std::shared_ptr<Sink>;

// For leak tests: the sinks alive, and the sink references libvirt holds (one per registered
// event callback or close callback, given back through its free callback).
struct EventStats {
  long sinks;
  long libvirtRefs;
};
EventStats GetEventStats();

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

// False (and the libvirt error reset) for drivers without a close callback (test://), which
// accept the registration without storing it: nothing is handed to those (events.cc says how
// they are told apart), so nothing can leak.
bool RegisterCloseCallback(virConnectPtr conn, const SinkRef& sink);
// Gives the close callback's sink reference back (libvirt frees it here). Idempotent.
void UnregisterCloseCallback(virConnectPtr conn);

// The event ids with a callback here: VIR_NETWORK_EVENT_ID_LIFECYCLE, and
// VIR_DOMAIN_EVENT_ID_LIFECYCLE, _DEVICE_ADDED, _DEVICE_REMOVED, _DEVICE_REMOVAL_FAILED. Any
// other id would hand libvirt a callback of the wrong signature: check before registering.
bool EventSupported(bool network, int eventID);

// A supported event id: the callback id, or -1 with the libvirt error set.
int RegisterEvent(virConnectPtr conn, bool network, int eventID, const SinkRef& sink);
int DeregisterEvent(virConnectPtr conn, bool network, int id);

}  // namespace hostwire
