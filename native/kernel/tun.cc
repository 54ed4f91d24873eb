// Tun/tap devices through /dev/net/tun, the only way the kernel creates them (RTM_NEWLINK with
// kind "tun" answers EOPNOTSUPP). Thin on purpose: flags, names and defaults come from
// TypeScript (src/rtnl/kinds/tunspec.ts); this file only makes the ioctls, on a thread of its
// own that lives in the target namespace, off the JS thread.
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <sched.h>
#include <string>
#include <thread>
#include <uv.h>
#include <vector>

#include "args.h"
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
  bool macvtap = false;  // open the queues of an existing macvtap instead of making a tap
  std::string alias;     // IFLA_IFALIAS, set before TUNSETPERSIST
};

struct TunResult {
  int err = 0;
  std::string syscall;
  int ifindex = 0;
  std::vector<int> fds;
};

// Runs the device's pending link-watch event now. Closing the last queue fd of a persistent tap
// turns its carrier off, and the kernel queues a link-watch event that it works through at about
// 100 devices a second; until it does, the tap's operstate stays UNKNOWN, which a bridge takes
// for up, so attaching it enables the port and walks every port of the bridge (and detaching
// walks them again). An RTM_GETLINK of the device runs its pending event at once
// (rtnl_getlink -> linkwatch_sync_dev, Linux 6.7): the tap is DOWN when it is attached, as it
// should be. Cheap while the tap is down (no dev_deactivate). Best effort: errors are ignored.
void SyncLinkWatch(int nl, int ifindex) {
  if (nl < 0) return;
  struct {
    nlmsghdr h;
    ifinfomsg i;
    rtattr a;
    uint32_t mask;
  } req{};
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = RTM_GETLINK;
  req.h.nlmsg_flags = NLM_F_REQUEST;
  req.i.ifi_index = ifindex;
  req.a.rta_type = IFLA_EXT_MASK;
  req.a.rta_len = RTA_LENGTH(sizeof(uint32_t));
  req.mask = RTEXT_FILTER_SKIP_STATS;
  if (send(nl, &req, sizeof req, 0) < 0) return;
  char buf[8192];
  while (recv(nl, buf, sizeof buf, MSG_DONTWAIT) > 0) {
  }
}

// Sets IFLA_IFALIAS of a device by RTM_SETLINK and waits for the kernel's answer: 0 or an errno.
int SetAlias(int nl, int ifindex, const std::string& alias) {
  if (nl < 0) return EBADF;
  struct {
    nlmsghdr h;
    ifinfomsg i;
    char attrs[RTA_SPACE(256)];
  } req{};
  req.h.nlmsg_type = RTM_SETLINK;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  req.h.nlmsg_seq = 1;
  req.i.ifi_index = ifindex;
  rtattr* a = reinterpret_cast<rtattr*>(req.attrs);
  a->rta_type = IFLA_IFALIAS;
  a->rta_len = RTA_LENGTH(alias.size());
  memcpy(RTA_DATA(a), alias.data(), alias.size());
  req.h.nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg)) + RTA_ALIGN(a->rta_len);
  if (send(nl, &req, req.h.nlmsg_len, 0) < 0) return errno;
  char buf[8192];
  for (;;) {
    ssize_t n = recv(nl, buf, sizeof buf, 0);
    if (n < 0) return errno == EINTR ? 0 : errno;
    for (nlmsghdr* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, static_cast<unsigned>(n)); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type != NLMSG_ERROR || h->nlmsg_seq != 1) continue;  // a sync's reply: not ours
      return -reinterpret_cast<nlmsgerr*>(NLMSG_DATA(h))->error;
    }
  }
}

// Creates one device. Everything is configured before TUNSETPERSIST, so a failure at any step
// closes the queue fds and the kernel removes the half-made device: nothing is left behind.
TunResult CreateOne(const TunSpec& s, int ctl, int nl) {
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
  // The alias before TUNSETPERSIST: should the process die in between, the fds close and the
  // device goes with them, so a persistent tap always carries its mark.
  if (!s.alias.empty()) {
    if (int err = SetAlias(nl, r.ifindex, s.alias)) {
      errno = err;
      return fail("RTM_SETLINK(IFLA_IFALIAS)");
    }
  }
  if (s.persist && ioctl(fd0, TUNSETPERSIST, 1) != 0) return fail("ioctl(TUNSETPERSIST)");
  if (!s.keepFds) {
    for (int fd : r.fds) close(fd);
    r.fds.clear();
    // The carrier just went off: the link-watch work now, on this thread, between two
    // creations. (On a thread of its own beside them it cost more than it saved: each
    // creation and each GETLINK takes the RTNL, and two threads taking turns at it spent ~95 us
    // of CPU per tap spinning for it; the create phase of 1,000 taps went from 180-189 to
    // 161-166 ms with it here.)
    if (s.persist) SyncLinkWatch(nl, r.ifindex);
  }
  return r;
}

// The character device of a macvtap (/dev/tapIFINDEX, which udev would make) is found through
// sysfs as this network namespace sees it. So the worker thread, the first time, moves into a
// private mount namespace of its own (this thread only; the process's mounts are untouched),
// mounts sysfs afresh there (it then shows this thread's network namespace) and a tmpfs on
// /tmp to make the device node in. The node is unlinked once its queues are open.
int PrepareMounts(std::string& syscall) {
  static thread_local int state = 0;  // 0: not yet, 1: ready, else the errno it failed with
  if (state == 1) return 0;
  if (state != 0) return state;
  auto failed = [&](const char* call) { return syscall = call, state = errno ? errno : EIO; };
  if (unshare(CLONE_NEWNS) != 0) return failed("unshare");
  if (mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return failed("mount");
  umount2("/sys", MNT_DETACH);  // may not be a mount point: then sysfs goes over the directory
  if (mount("sysfs", "/sys", "sysfs", 0, nullptr) != 0) return failed("mount(sysfs)");
  if (mount("tmpfs", "/tmp", "tmpfs", 0, "mode=0700") != 0) return failed("mount(tmpfs)");
  state = 1;
  return 0;
}

// Opens `queues` fds of an existing macvtap, with the flags (IFF_TAP | IFF_NO_PI, and
// IFF_VNET_HDR) set on each, as libvirt does for qemu.
TunResult OpenMacvtap(const TunSpec& s, int ctl) {
  TunResult r;
  auto fail = [&](const char* syscall, int err = 0) {
    r.err = err ? err : errno;
    r.syscall = syscall;
    for (int fd : r.fds) close(fd);
    r.fds.clear();
    r.ifindex = 0;
    return r;
  };
  ifreq ifr{};
  strncpy(ifr.ifr_name, s.name.c_str(), IFNAMSIZ - 1);
  if (ioctl(ctl, SIOCGIFINDEX, &ifr) != 0) return fail("ioctl(SIOCGIFINDEX)");
  int ifindex = ifr.ifr_ifindex;
  std::string syscall;
  if (int err = PrepareMounts(syscall)) return fail(syscall.c_str(), err);
  std::string devFile = "/sys/class/net/" + s.name + "/macvtap/tap" + std::to_string(ifindex) + "/dev";
  int dfd = open(devFile.c_str(), O_RDONLY | O_CLOEXEC);
  if (dfd < 0) return fail("open", errno == ENOENT ? ENODEV : errno);  // not a macvtap
  char buf[32] = {};
  ssize_t n = read(dfd, buf, sizeof buf - 1);
  close(dfd);
  unsigned major = 0, minor = 0;
  if (n <= 0 || sscanf(buf, "%u:%u", &major, &minor) != 2) return fail("read", EIO);
  std::string node = "/tmp/hostwire-tap" + std::to_string(ifindex);
  unlink(node.c_str());
  if (mknod(node.c_str(), S_IFCHR | 0600, makedev(major, minor)) != 0) return fail("mknod");
  for (int q = 0; q < s.queues; q++) {
    int fd = open(node.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      unlink(node.c_str());
      return fail("open");
    }
    r.fds.push_back(fd);
    ifreq f{};
    f.ifr_flags = static_cast<short>(s.flags);
    if (ioctl(fd, TUNSETIFF, &f) != 0) {
      unlink(node.c_str());
      return fail("ioctl(TUNSETIFF)");
    }
  }
  unlink(node.c_str());
  r.ifindex = ifindex;
  return r;
}

// Reads what TypeScript validated (src/rtnl/kinds/tunspec.ts). A value of the wrong type is a
// TypeError naming it ("specs[2].name"), thrown here; returns false then.
bool ParseSpecs(Napi::Env env, Napi::Array arr, std::vector<TunSpec>* out) {
  std::vector<TunSpec> specs(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++) {
    std::string at = "specs[" + std::to_string(i) + "]";
    Napi::Object o;
    if (!args::Get(arr.Get(i), &o)) return args::ThrowTypeError(env, at, "an object"), false;
    TunSpec& s = specs[i];
    // Each field: required, or optional (absent: undefined or null; *present tells which).
    auto field = [&](const char* key, auto* var, bool required, const char* expected, bool* present = nullptr) {
      Napi::Value v = o.Get(key);
      if (env.IsExceptionPending()) return false;  // a getter threw: let that propagate
      bool absent = args::IsAbsent(v);
      if (present != nullptr) *present = !absent;
      if ((absent && !required) || args::Get(v, var)) return true;
      args::ThrowTypeError(env, at + "." + key, expected);
      return false;
    };
    uint32_t owner = 0, group = 0;
    bool hasOwner = false, hasGroup = false;
    Napi::Buffer<uint8_t> mac;
    if (!field("name", &s.name, true, "a string without NUL characters") ||
        !field("flags", &s.flags, true, "a 32-bit signed integer") ||
        !field("owner", &owner, false, "a 32-bit unsigned integer or undefined", &hasOwner) ||
        !field("group", &group, false, "a 32-bit unsigned integer or undefined", &hasGroup) ||
        !field("queues", &s.queues, false, "a 32-bit signed integer, null or undefined") ||
        !field("mtu", &s.mtu, false, "a 32-bit signed integer, null or undefined") ||
        !field("keepFds", &s.keepFds, false, "a boolean, null or undefined") ||
        !field("persist", &s.persist, false, "a boolean, null or undefined") ||
        !field("mac", &mac, false, "a Buffer, null or undefined") ||
        !field("macvtap", &s.macvtap, false, "a boolean, null or undefined") ||
        !field("alias", &s.alias, false, "a string without NUL characters, null or undefined"))
      return false;
    if (hasOwner) s.owner = owner;
    if (hasGroup) s.group = group;
    if (s.queues < 1) s.queues = 1;
    if (!mac.IsEmpty()) {
      if (mac.Length() != 6) return args::ThrowTypeError(env, at + ".mac", "6 bytes long"), false;
      s.hasMac = true;
      memcpy(s.mac, mac.Data(), 6);
    }
  }
  *out = std::move(specs);
  return true;
}

Napi::Array ResultsToJs(Napi::Env env, const std::vector<TunResult>& results) {
  Napi::Array out = Napi::Array::New(env, results.size());
  for (size_t i = 0; i < results.size(); i++) {
    const TunResult& r = results[i];
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
  return out;
}

// TunWorker: a thread the addon owns, in one network namespace for its whole life, that makes
// tun/tap devices there. A tap is created in the namespace of whoever opens /dev/net/tun, so
// the work must run in the target namespace; doing it on this one thread means no libuv pool
// thread ever changes namespace and a single createTap costs a wake-up, not a thread spawn.
// Results come back through a uv_async handle, referenced only while jobs are pending.
//
//   new TunWorker(nsPath | null); worker.create(specs) -> Promise<results>; worker.close()
class TunWorker : public Napi::ObjectWrap<TunWorker> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "TunWorker",
                       {InstanceMethod("create", &TunWorker::Create),
                        InstanceMethod("close", &TunWorker::Close)});
  }

  explicit TunWorker(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TunWorker>(info) {
    Napi::Env env = info.Env();
    if (ReadArgs(info).IsEmpty()) return;  // a TypeError is pending
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    async_ = new uv_async_t;
    async_->data = this;
    int rc = uv_async_init(loop, async_, [](uv_async_t* a) { static_cast<TunWorker*>(a->data)->Settle(); });
    if (rc != 0) {
      delete async_;
      async_ = nullptr;
      ErrnoError(env, -rc, "uv_async_init").ThrowAsJavaScriptException();
      return;
    }
    uv_unref(reinterpret_cast<uv_handle_t*>(async_));
    thread_ = std::thread([this]() { Run(); });
  }

  ~TunWorker() override { Stop(); }

 private:
  // The constructor's arguments: (nsPath | null).
  Napi::Value ReadArgs(const Napi::CallbackInfo& info) {
    OPTIONAL_ARGUMENT_STRING(0, nsPath, "");
    netns_ = nsPath;
    return info.Env().Undefined();
  }

  struct Job {
    std::vector<TunSpec> specs;
    std::vector<TunResult> results;
    int err = 0;  // the namespace or the control socket could not be had
    std::string syscall;
    Napi::Promise::Deferred deferred;
    explicit Job(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
  };

  void Run() {
    pthread_setname_np(pthread_self(), "hw-tun");
    int startErr = 0;
    std::string startCall;
    if (!netns_.empty()) {
      int nsfd = open(netns_.c_str(), O_RDONLY | O_CLOEXEC);
      if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) != 0) {
        startErr = errno;
        startCall = nsfd < 0 ? "open" : "setns";
      }
      if (nsfd >= 0) close(nsfd);
    }
    int ctl = -1, nl = -1;
    if (startErr == 0) {
      ctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (ctl < 0) startErr = errno, startCall = "socket";
      // For SyncLinkWatch; without it taps are still made, only slower to attach.
      nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    }
    for (;;) {
      Job* job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) break;  // stopping, nothing left
        job = queue_.front();
        queue_.pop_front();
      }
      if (startErr != 0) {
        job->err = startErr;
        job->syscall = startCall;
      } else {
        job->results.reserve(job->specs.size());
        for (const TunSpec& s : job->specs)
          job->results.push_back(s.macvtap ? OpenMacvtap(s, ctl) : CreateOne(s, ctl, nl));
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        done_.push_back(job);
      }
      uv_async_send(async_);
    }
    if (ctl >= 0) close(ctl);
    if (nl >= 0) close(nl);
  }

  // On the JS thread: settle finished jobs.
  void Settle() {
    std::deque<Job*> done;
    {
      std::lock_guard<std::mutex> lock(mu_);
      done.swap(done_);
    }
    if (done.empty()) return;
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    for (Job* job : done) {
      if (job->err != 0)
        job->deferred.Reject(ErrnoError(env, job->err, job->syscall).Value());
      else
        job->deferred.Resolve(ResultsToJs(env, job->results));
      delete job;
      if (--pending_ == 0 && async_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(async_));
    }
  }

  Napi::Value Create(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    REQUIRE_ARGUMENT_ARRAY(0, specs);
    std::vector<TunSpec> parsed;
    if (!ParseSpecs(env, specs, &parsed)) return Napi::Value();
    Job* job = new Job(env);
    Napi::Promise p = job->deferred.Promise();
    if (closed_) {
      job->deferred.Reject(ErrnoError(env, EBADF, "tunCreate").Value());
      delete job;
      return p;
    }
    job->specs = std::move(parsed);
    if (pending_++ == 0) uv_ref(reinterpret_cast<uv_handle_t*>(async_));
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(job);
    }
    cv_.notify_one();
    return p;
  }

  // Finishes the job under way, fails the ones still queued with EBADF, ends the thread.
  void Stop() {
    if (closed_) return;
    closed_ = true;
    std::deque<Job*> queued;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      queued.swap(queue_);
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
    for (Job* job : queued) {
      job->err = EBADF;
      job->syscall = "tunCreate";
      std::lock_guard<std::mutex> lock(mu_);
      done_.push_back(job);
    }
    if (async_ != nullptr) {
      Settle();
      uv_close(reinterpret_cast<uv_handle_t*>(async_), [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
      async_ = nullptr;
    }
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Stop();
    return info.Env().Undefined();
  }

  std::string netns_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job*> queue_, done_;
  bool stop_ = false, closed_ = false;
  int pending_ = 0;
  uv_async_t* async_ = nullptr;
};

}  // namespace

void InitTun(Napi::Env env, Napi::Object exports) {
  exports.Set("TunWorker", TunWorker::Init(env));
}

}  // namespace hostwire
