// Tun/tap devices through /dev/net/tun, the only way the kernel creates them (RTM_NEWLINK with
// kind "tun" answers EOPNOTSUPP). Thin on purpose: flags, names and defaults come from
// TypeScript (src/rtnl/kinds/tun.ts); this file only makes the ioctls, on a thread that is in
// the target namespace (a tun device is created in the namespace of whoever opened
// /dev/net/tun), and off the JS thread.
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "errors.h"
#include "nlsock.h"

namespace hostwire {
namespace {

struct TunSpec {
  std::string name;
  int flags = 0;  // IFF_TUN/IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE
  long owner = -1, group = -1;
  int queues = 1;
  bool keepFds = false;
  bool persist = true;
  bool hasMac = false;
  unsigned char mac[6] = {};
  int mtu = 0;
};

struct TunResult {
  int err = 0;
  std::string syscall;
  int ifindex = 0;
  std::vector<int> fds;
};

// Creates one device. Everything is configured before TUNSETPERSIST, so a failure at any step
// closes the queue fds and the kernel removes the half-made device: nothing is left behind.
TunResult CreateOne(const TunSpec& s, int ctl) {
  TunResult r;
  auto fail = [&](const char* syscall) {
    r.err = errno;
    r.syscall = syscall;
    for (int fd : r.fds) close(fd);
    r.fds.clear();
    r.ifindex = 0;
    return r;
  };
  for (int q = 0; q < s.queues; q++) {
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) return fail("open");
    r.fds.push_back(fd);
    ifreq ifr{};
    strncpy(ifr.ifr_name, s.name.c_str(), IFNAMSIZ - 1);
    // IFF_TUN_EXCL on the first queue: an existing device of that name is an error (EBUSY),
    // never silently re-attached and so modified.
    ifr.ifr_flags = static_cast<short>(s.flags | (q == 0 ? IFF_TUN_EXCL : 0));
    if (ioctl(fd, TUNSETIFF, &ifr) != 0) return fail("ioctl(TUNSETIFF)");
  }
  int fd0 = r.fds[0];
  if (s.owner >= 0 && ioctl(fd0, TUNSETOWNER, s.owner) != 0) return fail("ioctl(TUNSETOWNER)");
  if (s.group >= 0 && ioctl(fd0, TUNSETGROUP, s.group) != 0) return fail("ioctl(TUNSETGROUP)");
  ifreq ifr{};
  strncpy(ifr.ifr_name, s.name.c_str(), IFNAMSIZ - 1);
  if (s.hasMac) {
    // Set through the device itself: addr_assign_type becomes NET_ADDR_SET, so udev's
    // MACAddressPolicy leaves it alone.
    ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
    memcpy(ifr.ifr_hwaddr.sa_data, s.mac, 6);
    if (ioctl(fd0, SIOCSIFHWADDR, &ifr) != 0) return fail("ioctl(SIOCSIFHWADDR)");
  }
  if (s.mtu > 0) {
    ifr.ifr_mtu = s.mtu;
    if (ioctl(ctl, SIOCSIFMTU, &ifr) != 0) return fail("ioctl(SIOCSIFMTU)");
  }
  if (ioctl(ctl, SIOCGIFINDEX, &ifr) != 0) return fail("ioctl(SIOCGIFINDEX)");
  r.ifindex = ifr.ifr_ifindex;
  if (s.persist && ioctl(fd0, TUNSETPERSIST, 1) != 0) return fail("ioctl(TUNSETPERSIST)");
  if (!s.keepFds) {
    for (int fd : r.fds) close(fd);
    r.fds.clear();
  }
  return r;
}

class TunWorker : public Napi::AsyncWorker {
 public:
  TunWorker(Napi::Env env, std::string netns, std::vector<TunSpec> specs)
      : Napi::AsyncWorker(env, "hostwire:tun"),
        deferred_(Napi::Promise::Deferred::New(env)),
        netns_(std::move(netns)),
        specs_(std::move(specs)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  // Runs on a libuv pool thread, which never changes namespace: RunInNetns does the work on a
  // thread of its own when a namespace is named.
  void Execute() override {
    nsErr_ = RunInNetns(netns_, [this]() {
      int ctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (ctl < 0) {
        ctlErr_ = errno;
        return;
      }
      results_.reserve(specs_.size());
      for (const TunSpec& s : specs_) results_.push_back(CreateOne(s, ctl));
      close(ctl);
    });
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (nsErr_ != 0) return deferred_.Reject(ErrnoError(env, nsErr_, "setns").Value());
    if (ctlErr_ != 0) return deferred_.Reject(ErrnoError(env, ctlErr_, "socket").Value());
    Napi::Array out = Napi::Array::New(env, results_.size());
    for (size_t i = 0; i < results_.size(); i++) {
      const TunResult& r = results_[i];
      Napi::Object o = Napi::Object::New(env);
      if (r.err != 0) {
        SetErrnoFields(o, r.err, r.syscall);
      } else {
        o.Set("ifindex", Napi::Number::New(env, r.ifindex));
        Napi::Array fds = Napi::Array::New(env, r.fds.size());
        for (size_t j = 0; j < r.fds.size(); j++)
          fds.Set(static_cast<uint32_t>(j), Napi::Number::New(env, r.fds[j]));
        o.Set("fds", fds);
      }
      out.Set(static_cast<uint32_t>(i), o);
    }
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::string netns_;
  std::vector<TunSpec> specs_;
  std::vector<TunResult> results_;
  int nsErr_ = 0, ctlErr_ = 0;
};

// tunCreate(netnsPath: string | null, specs: TunSpec[]) -> Promise<Array<{ifindex, fds} |
// {code, errno, syscall, message}>>. Specs were validated in TypeScript.
Napi::Value TunCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[1].IsArray()) {
    Napi::TypeError::New(env, "tunCreate(netns, specs)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string netns = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  Napi::Array arr = info[1].As<Napi::Array>();
  std::vector<TunSpec> specs(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Object o = arr.Get(i).As<Napi::Object>();
    TunSpec& s = specs[i];
    s.name = o.Get("name").As<Napi::String>().Utf8Value();
    s.flags = o.Get("flags").As<Napi::Number>().Int32Value();
    if (o.Get("owner").IsNumber()) s.owner = o.Get("owner").As<Napi::Number>().Int64Value();
    if (o.Get("group").IsNumber()) s.group = o.Get("group").As<Napi::Number>().Int64Value();
    if (o.Get("queues").IsNumber()) s.queues = o.Get("queues").As<Napi::Number>().Int32Value();
    if (o.Get("mtu").IsNumber()) s.mtu = o.Get("mtu").As<Napi::Number>().Int32Value();
    s.keepFds = o.Get("keepFds").ToBoolean().Value();
    s.persist = !o.Get("persist").IsBoolean() || o.Get("persist").As<Napi::Boolean>().Value();
    Napi::Value mac = o.Get("mac");
    if (mac.IsBuffer() && mac.As<Napi::Buffer<uint8_t>>().Length() == 6) {
      s.hasMac = true;
      memcpy(s.mac, mac.As<Napi::Buffer<uint8_t>>().Data(), 6);
    }
    if (s.queues < 1) s.queues = 1;
  }
  auto* w = new TunWorker(env, std::move(netns), std::move(specs));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace

void InitTun(Napi::Env env, Napi::Object exports) {
  exports.Set("tunCreate", Napi::Function::New(env, TunCreate, "tunCreate"));
}

}  // namespace hostwire
