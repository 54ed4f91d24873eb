// The threads this addon owns, and the reference-counted handles that keep libvirt objects
// alive while a call is in flight.
//
// - The event thread registers libvirt's default event implementation (once, before any
//   connection is opened) and then runs virEventRunDefaultImpl() forever. Keepalive timers and
//   event callbacks run there; callbacks reach JS through a Napi::ThreadSafeFunction.
// - The reaper thread frees libvirt objects (virDomainFree, virNetworkFree, virConnectClose),
//   so a finalizer or an explicit free() on the JS thread never calls into libvirt: the last
//   unref of a connection may talk to the daemon.
// Both threads are detached and never hold a libuv handle, so they never keep Node alive.
#pragma once
#include <libvirt/libvirt.h>

#include <functional>
#include <memory>

namespace hostwire {

// Starts both threads and waits until virEventRegisterDefaultImpl() has run. Idempotent.
// Returns false when the event implementation could not be registered.
bool StartRuntime();

// Runs fn on the reaper thread.
void Defer(std::function<void()> fn);

using ConnRef = std::shared_ptr<virConnect>;
using DomRef = std::shared_ptr<virDomain>;
using NetRef = std::shared_ptr<virNetwork>;

// Take ownership of one libvirt reference; the last holder's release is deferred to the reaper.
// (A connection's is made in connection.cc: it gives its close callback back first.)
DomRef AdoptDomain(virDomainPtr d);
NetRef AdoptNetwork(virNetworkPtr n);

}  // namespace hostwire
