#include "runtime.h"

#include <libvirt/virterror.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace hostwire {
namespace {

// Never destroyed: the detached threads may still wait on these while the process exits.
struct Runtime {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> queue;
  bool started = false;
  bool eventReady = false;
  bool eventOk = false;
};
Runtime* rt = new Runtime;

// libvirt's default handler prints every error to stderr; errors reach JS as LibvirtError.
void Quiet(void*, virErrorPtr) {}

void EventThread() {
  virSetErrorFunc(nullptr, Quiet);
  int rc = virInitialize();
  if (rc == 0) rc = virEventRegisterDefaultImpl();
  {
    std::lock_guard<std::mutex> lock(rt->mu);
    rt->eventReady = true;
    rt->eventOk = rc == 0;
  }
  rt->cv.notify_all();
  if (rc != 0) return;
  for (;;) {
    if (virEventRunDefaultImpl() < 0) virResetLastError();
  }
}

void ReaperThread() {
  for (;;) {
    std::function<void()> fn;
    {
      std::unique_lock<std::mutex> lock(rt->mu);
      rt->cv.wait(lock, [] { return !rt->queue.empty(); });
      fn = std::move(rt->queue.front());
      rt->queue.pop_front();
    }
    fn();
    virResetLastError();
  }
}

}  // namespace

bool StartRuntime() {
  std::unique_lock<std::mutex> lock(rt->mu);
  if (!rt->started) {
    rt->started = true;
    std::thread(EventThread).detach();
    std::thread(ReaperThread).detach();
  }
  rt->cv.wait(lock, [] { return rt->eventReady; });
  return rt->eventOk;
}

void Defer(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(rt->mu);
    rt->queue.push_back(std::move(fn));
  }
  rt->cv.notify_all();
}

DomRef AdoptDomain(virDomainPtr d) {
  return DomRef(d, [](virDomainPtr p) { Defer([p] { virDomainFree(p); }); });
}
NetRef AdoptNetwork(virNetworkPtr n) {
  return NetRef(n, [](virNetworkPtr p) { Defer([p] { virNetworkFree(p); }); });
}

}  // namespace hostwire
