// NlSocket: one AF_NETLINK socket owned by the addon, with a thread of its own that does every
// sendmsg() and recv() on it.
//
// Why a thread: rtnetlink does a request's work inside the sender's sendmsg() (a window of
// set-masters takes tens of milliseconds, a group delete of thousands of devices most of a
// second) and a dump's later parts inside recv(). Done on the JS thread, that time is an
// event-loop stall. Here the JS thread only copies bytes into a queue; the socket's thread sends
// them, reads what the kernel answered and hands it back through one uv_async as a stream of
// records (see below). Message encoding, sequence numbers and the in-flight window stay in
// TypeScript (src/rtnl/socket.ts).
//
// One exception, chosen by the owner (options.inline, for a process whose event loop serves
// nobody else, such as the CLI): sendNow() sends a lone request or dump on the calling thread
// when the socket's thread is idle, and returns its records at once (a dump's later parts are
// made inside the recv() calls that read it, so the loop reads until the dump is done). A
// request and its answer then cost no hand-off between threads (two wake-ups of a sleeping
// thread, ~45 us each on this kind of machine), which is most of an agent's round trip through
// `hostwire batch -`.
//
// Why our own socket and not the npm `netlink` package's: that one cannot set NETLINK_EXT_ACK /
// NETLINK_CAP_ACK / NETLINK_GET_STRICT_CHK, cannot be created in another namespace, and turns
// ENOBUFS into a process abort inside its callback.
//
// Records handed to JS, little-endian u32 fields, each payload padded to 4 bytes:
//   [kRecDatagram, 0, len] datagram bytes
//   [kRecError, errno, 0]              a recv() error (ENOBUFS: the kernel dropped messages)
//   [kRecDrained, sendId, 0]           every send up to sendId is done and the receive queue was
//                                      found empty after it: since rtnetlink answers inside
//                                      sendmsg(), a request of those sends still unanswered (other
//                                      than a dump) lost its reply
//   [kRecSendError, sendId, 4] errno   sendmsg() of that send failed
//
// The records reach JS as an ArrayBuffer, which src/rtnl/socket.ts (readRecords) views as a
// Buffer made in JS: a Buffer made here would get node's Buffer prototype set after it is made,
// and so a V8 map of its own, which a full GC collects whenever no such Buffer is alive (V8's
// memory reducer runs those in every idle spell), and every optimised function that had read
// one (the record and reply parsers, Buffer's own readers) would be thrown away with it.
#include <errno.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <iterator>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "../common/args.h"
#include "errors.h"
#include "nlsock.h"

namespace hostwire {
namespace {

constexpr size_t kRecvBufferSize = 64 * 1024;  // the kernel caps dump skbs at 32 KiB
constexpr size_t kDeliverSlice = 256 * 1024;  // records handed to JS per turn of its loop
// Records the thread gathers over consecutive sends before it wakes JS (a send carries few
// requests, socket.ts SEND_REQUESTS, to bound the kernel's time in one sendmsg; JS is woken
// for about 256 answers, or when the sends at hand are done).
constexpr size_t kPublishBytes = 12 * 1024;
constexpr uint32_t kRecDatagram = 1, kRecError = 2, kRecDrained = 3, kRecSendError = 4;

int SetIntOpt(int fd, int level, int name, int value) {
  return setsockopt(fd, level, name, &value, sizeof value) == 0 ? 0 : errno;
}

// What the JS thread and the socket's thread share. Owned by a shared_ptr held by both, so the
// thread can never outlive what it touches.
struct Shared {
  std::mutex mu;
  std::deque<std::pair<uint32_t, std::vector<uint8_t>>> sendq;  // (sendId, datagram)
  bool sending = false;  // the thread has taken sends from sendq and not finished them
  std::vector<uint8_t> inbox;                                   // records for JS
  bool stop = false;
  int fd = -1;
  int wake = -1;  // eventfd: new sends, stop, or room again in the inbox
  uv_async_t* async = nullptr;
  // Backpressure: the thread stops reading while JS has this much not yet taken, so a consumer
  // that falls behind (a watcher whose event loop is busy) makes the kernel's queue fill and
  // report ENOBUFS, as with any socket reader, instead of growing this process's memory.
  size_t inboxLimit = 4u << 20;
  std::atomic<size_t> inboxBytes{0};
  std::atomic<bool> held{false};  // the thread stopped reading for that; JS wakes it
  // Whoever does I/O on fd holds this: the socket's thread while it sends and reads, the JS
  // thread during a sendNow(). Taken before mu, never the other way round.
  std::mutex io;
  // Inline sockets whose thread need not watch fd while idle: with no multicast group joined,
  // rtnetlink queues nothing for us outside our own sendmsg() and recv() calls.
  bool inlineMode = false;
  std::atomic<bool> joined{false};  // a group was joined once: watch fd from then on
};

// Appends one record (see the top of this file) to out.
void AppendRecord(std::vector<uint8_t>& out, uint32_t kind, uint32_t arg, const void* data, uint32_t len) {
  size_t at = out.size();
  size_t padded = (len + 3u) & ~3u;
  out.resize(at + 12 + padded);
  uint32_t head[3] = {kind, arg, len};
  memcpy(out.data() + at, head, 12);
  if (len) memcpy(out.data() + at + 12, data, len);
  if (padded != len) memset(out.data() + at + 12 + len, 0, padded - len);
}

// One sendmsg() of a whole datagram to the kernel; 0 or errno.
int SendDatagram(int fd, const uint8_t* data, size_t len) {
  sockaddr_nl dst{};
  dst.nl_family = AF_NETLINK;
  iovec iov{const_cast<uint8_t*>(data), len};
  msghdr msg{};
  msg.msg_name = &dst;
  msg.msg_namelen = sizeof dst;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  ssize_t n;
  do n = sendmsg(fd, &msg, 0);
  while (n < 0 && errno == EINTR);
  return n < 0 ? errno : 0;
}

// Reads the socket until its queue is empty, a record per datagram (or error) appended to out.
// `room()` is asked before each read; false stops early (backpressure). True when the queue was
// found empty. A dump's later parts are made by the kernel inside these recv() calls.
template <typename Room>
bool ReadQueue(int fd, std::vector<uint8_t>& buf, std::vector<uint8_t>& out, Room room) {
  for (;;) {
    if (!room()) return false;
    ssize_t n = recv(fd, buf.data(), buf.size(), MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) {
      int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) return true;
      AppendRecord(out, kRecError, static_cast<uint32_t>(err), nullptr, 0);
      if (err == ENOBUFS) continue;  // sk_err is cleared by reading it: go on
      return false;
    }
    if (static_cast<size_t>(n) > buf.size()) {
      AppendRecord(out, kRecError, EMSGSIZE, nullptr, 0);
      buf.resize(static_cast<size_t>(n));
      continue;
    }
    AppendRecord(out, kRecDatagram, 0, buf.data(), static_cast<uint32_t>(n));
  }
}

// One wake-up of the socket's thread (its eventfd).
void Wake(int fd) {
  uint64_t one = 1;
  ssize_t r = write(fd, &one, sizeof one);
  (void)r;
}

// The socket's thread: waits for sends or readable data, sends in order, reads everything the
// kernel queued, and wakes the JS thread once per round.
void IoLoop(std::shared_ptr<Shared> s) {
  pthread_setname_np(pthread_self(), "hw-netlink");  // as ps -L, top -H and /proc/PID/task/*/comm show it
  std::vector<uint8_t> buf(kRecvBufferSize);
  std::vector<uint8_t> local;  // records of this round, moved to inbox under the lock
  uint32_t lastSent = 0;
  auto record = [&local](uint32_t kind, uint32_t arg, const void* data, uint32_t len) {
    AppendRecord(local, kind, arg, data, len);
  };
  // Reads until the queue is empty (a dump's later parts too: made inside these recv() calls,
  // so never on the JS thread), unless JS has a receive buffer's worth still to take.
  auto full = [&]() { return s->inboxBytes.load() + local.size() >= s->inboxLimit; };
  auto drain = [&]() {
    return ReadQueue(s->fd, buf, local, [&]() {
      if (!full()) return true;
      // Held, then checked again: JS empties the inbox first and reads `held` after, so one of
      // the two always sees the other (no wake-up is lost).
      s->held = true;
      if (full()) return false;  // not drained: read on once JS has taken what waits
      s->held = false;
      return true;
    });
  };
  // Every message the kernel dropped for this socket, from its own counter (SO_MEMINFO). The
  // kernel raises ENOBUFS only for the first drop of a congestion (NETLINK_S_CONGESTED stays set
  // until the queue is read empty), so later drops would pass unseen; a rise of this counter is
  // reported as ENOBUFS too, so a reader (a watcher) always learns that it missed something.
  uint32_t drops = 0;
  auto checkDrops = [&]() {
    uint32_t info[SK_MEMINFO_VARS] = {};
    socklen_t len = sizeof info;
    if (getsockopt(s->fd, SOL_SOCKET, SO_MEMINFO, info, &len) != 0 || len <= SK_MEMINFO_DROPS * sizeof(uint32_t)) return;
    if (info[SK_MEMINFO_DROPS] != drops) {
      drops = info[SK_MEMINFO_DROPS];
      record(kRecError, ENOBUFS, nullptr, 0);
    }
  };
  auto publish = [&]() {
    checkDrops();
    if (local.empty()) return;
    std::lock_guard<std::mutex> lock(s->mu);
    s->inboxBytes += local.size();
    if (s->inbox.empty())
      s->inbox.swap(local);
    else
      s->inbox.insert(s->inbox.end(), local.begin(), local.end());
    local.clear();
    if (s->async != nullptr) uv_async_send(s->async);
  };

  for (;;) {
    std::deque<std::pair<uint32_t, std::vector<uint8_t>>> sends;
    {
      std::lock_guard<std::mutex> lock(s->mu);
      if (s->stop) return;
      sends.swap(s->sendq);
      s->sending = !sends.empty();
    }
    bool deferred = false;
    if (!sends.empty()) {
      std::lock_guard<std::mutex> io(s->io);
      for (auto it = sends.begin(); it != sends.end(); ++it) {
        if (s->held) {
          // JS has a receive buffer's worth still to take: send nothing more until it has, so
          // replies never pile up in the kernel's queue (the wake-up that says so comes below).
          std::lock_guard<std::mutex> lock(s->mu);
          s->sendq.insert(s->sendq.begin(), std::make_move_iterator(it), std::make_move_iterator(sends.end()));
          deferred = true;
          break;
        }
        auto& [id, bytes] = *it;
        if (int err = SendDatagram(s->fd, bytes.data(), bytes.size())) {
          uint32_t e = static_cast<uint32_t>(err);
          record(kRecSendError, id, &e, 4);
        }
        lastSent = id;
        // Read what this send produced before the next one, so replies never pile up beyond one
        // send's worth (socket.ts bounds a send's requests).
        if (drain()) record(kRecDrained, lastSent, nullptr, 0);
        if (local.size() >= kPublishBytes) publish();
      }
      publish();  // what is left, before looking for more sends or sleeping
      std::lock_guard<std::mutex> lock(s->mu);
      s->sending = false;
    }
    if (!sends.empty() && !deferred) continue;  // look for more sends before sleeping

    // Held back: only a wake-up (JS took the inbox, a send, stop) is waited for. An inline
    // socket with no group joined has nothing to read while idle (see Shared::inlineMode).
    bool watch = !s->held && (!s->inlineMode || s->joined.load());
    pollfd fds[2] = {{s->fd, static_cast<short>(watch ? POLLIN : 0), 0}, {s->wake, POLLIN, 0}};
    int rc = poll(fds, 2, -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      record(kRecError, static_cast<uint32_t>(errno), nullptr, 0);
      publish();
      return;
    }
    if (fds[1].revents & POLLIN) {
      uint64_t v;
      ssize_t r = read(s->wake, &v, sizeof v);
      (void)r;
      if (s->held && !full()) {
        std::lock_guard<std::mutex> io(s->io);
        s->held = false;
        if (drain()) record(kRecDrained, lastSent, nullptr, 0);
        publish();
      }
    }
    if (fds[0].revents & (POLLIN | POLLERR)) {
      std::lock_guard<std::mutex> io(s->io);
      if (drain()) record(kRecDrained, lastSent, nullptr, 0);
      publish();
    }
  }
}

class NlSocket : public Napi::ObjectWrap<NlSocket> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "NlSocket",
                       {
                           InstanceMethod("send", &NlSocket::Send),
                           InstanceMethod("sendNow", &NlSocket::SendNow),
                           InstanceMethod("close", &NlSocket::Close),
                           InstanceMethod("ref", &NlSocket::Ref),
                           InstanceMethod("unref", &NlSocket::Unref),
                           InstanceMethod("addMembership", &NlSocket::AddMembership),
                           InstanceMethod("dropMembership", &NlSocket::DropMembership),
                           InstanceAccessor("port", &NlSocket::Port, nullptr),
                           InstanceAccessor("fd", &NlSocket::Fd, nullptr),
                           InstanceMethod("getRecvBufferSize", &NlSocket::GetRecvBufferSize),
                       });
  }

  // new NlSocket({protocol, netns, rcvbuf, sndbuf, extAck, capAck, strictCheck, inline}, onRecords)
  // onRecords(records: ArrayBuffer): the record stream described at the top of this file.
  explicit NlSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NlSocket>(info) {
    Napi::Env env = info.Env();
    Napi::Object opts;
    Napi::Function onRecords;
    if (!args::Get(info[0], &opts)) {
      args::ThrowTypeError(env, args::ArgumentName(0, "options"), "an object");
      return;
    }
    if (!args::Get(info[1], &onRecords)) {
      args::ThrowTypeError(env, args::ArgumentName(1, "onRecords"), "a function");
      return;
    }
    bool ok = true;
    // options.KEY: absent gives the default; anything but the right type is a TypeError.
    auto intOpt = [&](const char* key, int32_t def) {
      Napi::Value v = opts.Get(key);
      int32_t out = def;
      if (ok && !args::IsAbsent(v) && !args::Get(v, &out)) {
        args::ThrowTypeError(env, std::string("options.") + key, "a 32-bit signed integer");
        ok = false;
      }
      return out;
    };
    auto boolOpt = [&](const char* key) {
      Napi::Value v = opts.Get(key);
      bool out = false;
      if (ok && !args::IsAbsent(v) && !args::Get(v, &out)) {
        args::ThrowTypeError(env, std::string("options.") + key, "a boolean");
        ok = false;
      }
      return out;
    };
    std::string netns;
    Napi::Value ns = opts.Get("netns");
    if (!args::IsAbsent(ns) && !args::Get(ns, &netns)) {
      args::ThrowTypeError(env, "options.netns", "a string without NUL characters");
      return;
    }
    int protocol = intOpt("protocol", NETLINK_ROUTE);
    int rcvbuf = intOpt("rcvbuf", 0), sndbuf = intOpt("sndbuf", 0);
    bool extAck = boolOpt("extAck"), capAck = boolOpt("capAck"), strictCheck = boolOpt("strictCheck");
    bool inlineMode = boolOpt("inline");
    if (!ok) return;

    int fd = -1, sockErr = 0;
    int nsErr = RunInNetns(netns, [&]() {
      fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
      if (fd < 0) sockErr = errno;
    });
    if (nsErr != 0) {
      ErrnoError(env, nsErr, "setns").ThrowAsJavaScriptException();
      return;
    }
    if (fd < 0) {
      ErrnoError(env, sockErr, "socket").ThrowAsJavaScriptException();
      return;
    }
    shared_ = std::make_shared<Shared>();
    shared_->fd = fd;
    shared_->inlineMode = inlineMode;
    if (rcvbuf > 0) shared_->inboxLimit = std::max<size_t>(static_cast<size_t>(rcvbuf), 64u << 10);

    struct Opt {
      int level, name, value;
      bool wanted;
      const char* syscall;
    };
    const Opt sockopts[] = {
        {SOL_NETLINK, NETLINK_EXT_ACK, 1, extAck, "setsockopt(NETLINK_EXT_ACK)"},
        {SOL_NETLINK, NETLINK_CAP_ACK, 1, capAck, "setsockopt(NETLINK_CAP_ACK)"},
        {SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1, strictCheck, "setsockopt(NETLINK_GET_STRICT_CHK)"},
    };
    for (const Opt& o : sockopts) {
      if (o.wanted && Failed(env, SetIntOpt(fd, o.level, o.name, o.value), o.syscall)) return;
    }
    // The FORCE variants go past net.core.rmem_max but need CAP_NET_ADMIN: fall back quietly.
    if (rcvbuf > 0 && SetIntOpt(fd, SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf) != 0 &&
        Failed(env, SetIntOpt(fd, SOL_SOCKET, SO_RCVBUF, rcvbuf), "setsockopt(SO_RCVBUF)"))
      return;
    if (sndbuf > 0 && SetIntOpt(fd, SOL_SOCKET, SO_SNDBUFFORCE, sndbuf) != 0 &&
        Failed(env, SetIntOpt(fd, SOL_SOCKET, SO_SNDBUF, sndbuf), "setsockopt(SO_SNDBUF)"))
      return;

    sockaddr_nl addr{};
    addr.nl_family = AF_NETLINK;
    if (Failed(env, bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 ? 0 : errno, "bind")) return;
    socklen_t len = sizeof addr;
    if (Failed(env, getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0 ? 0 : errno, "getsockname"))
      return;
    port_ = addr.nl_pid;

    shared_->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (shared_->wake < 0 && Failed(env, errno, "eventfd")) return;

    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    auto* async = new uv_async_t;
    async->data = this;
    int rc = uv_async_init(loop, async, &NlSocket::OnAsync);
    if (rc != 0) {
      delete async;  // never initialized: nothing for uv_close to do
      Failed(env, -rc, "uv_async_init");
      return;
    }
    // From here on the handle is closed (uv_close) by Shutdown, never just deleted.
    shared_->async = async;
    uv_unref(reinterpret_cast<uv_handle_t*>(async));
    onRecords_ = Napi::Persistent(onRecords);
    context_ = std::make_unique<Napi::AsyncContext>(env, "hostwire:netlink");
    // The thread starts with the first send() or group joined: a command whose only request
    // goes inline (sendNow) never needs it.
  }

  ~NlSocket() override { Shutdown(); }

 private:
  // True (and the socket closed, the error thrown) when err is an errno.
  bool Failed(Napi::Env env, int err, const char* syscall) {
    if (err == 0) return false;
    Shutdown();
    ErrnoError(env, err, syscall).ThrowAsJavaScriptException();
    return true;
  }

  // The socket's thread, started on first need.
  void StartThread() {
    if (shared_ && !io_.joinable()) io_ = std::thread(IoLoop, shared_);
  }

  // Stops the thread (after the send it may be in), then closes the fds and the async handle.
  void Shutdown() {
    if (!shared_) return;
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      shared_->stop = true;
      shared_->sendq.clear();
    }
    if (shared_->wake >= 0) Wake(shared_->wake);
    if (io_.joinable()) io_.join();
    if (shared_->async != nullptr) {
      uv_close(reinterpret_cast<uv_handle_t*>(shared_->async),
               [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
      shared_->async = nullptr;
    }
    if (shared_->fd >= 0) close(shared_->fd);
    if (shared_->wake >= 0) close(shared_->wake);
    shared_->fd = shared_->wake = -1;
    shared_.reset();
  }

  // The arguments of send() and sendNow(), checked.
  struct Datagram {
    const uint8_t* data = nullptr;
    size_t len = 0;
    uint32_t id = 0;
  };
  // False (and a TypeError or EBADF thrown) when the arguments are wrong or the socket is closed.
  bool DatagramArgs(const Napi::CallbackInfo& info, Datagram* d) {
    Napi::Env env = info.Env();
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      args::ThrowTypeError(env, args::ArgumentName(0, "datagram"), "a Uint8Array");
      return false;
    }
    if (!args::Get(info[1], &d->id)) {
      args::ThrowTypeError(env, args::ArgumentName(1, "sendId"), "a 32-bit unsigned integer");
      return false;
    }
    if (!shared_) {
      ErrnoError(env, EBADF, "sendmsg").ThrowAsJavaScriptException();
      return false;
    }
    Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
    d->data = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    d->len = ta.ByteLength();
    return true;
  }

  // send(datagram: Uint8Array, sendId: number): queued for the socket's thread, which sends it
  // as one sendmsg (the kernel runs its netlink messages in order). Never blocks.
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Datagram d;
    if (!DatagramArgs(info, &d)) return env.Undefined();
    StartThread();
    bool wasEmpty;
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      wasEmpty = shared_->sendq.empty();
      shared_->sendq.emplace_back(d.id, std::vector<uint8_t>(d.data, d.data + d.len));
    }
    if (wasEmpty) Wake(shared_->wake);
    return env.Undefined();
  }

  // sendNow(datagram: Uint8Array, sendId: number): ArrayBuffer | undefined. On an inline socket whose
  // thread is idle (nothing queued, nothing undelivered, not held back), sends the datagram on
  // this thread and returns the records of its answer (read until the queue was empty, then
  // [kRecDrained, sendId]). Anything else: undefined, and nothing was sent (use send()). For a
  // lone request or dump: the kernel's work for it runs on the caller's thread.
  Napi::Value SendNow(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Datagram d;
    if (!DatagramArgs(info, &d)) return env.Undefined();
    Shared& s = *shared_;
    if (!s.inlineMode || pendingOff_ < pending_.size() || s.held) return env.Undefined();
    std::unique_lock<std::mutex> io(s.io, std::try_to_lock);
    if (!io.owns_lock()) return env.Undefined();  // the thread is sending or reading
    {
      std::lock_guard<std::mutex> lock(s.mu);
      // Nothing queued or being sent: a datagram sent now can never overtake an earlier one.
      if (s.stop || s.sending || !s.sendq.empty() || !s.inbox.empty()) return env.Undefined();
    }
    inline_.clear();
    if (int err = SendDatagram(s.fd, d.data, d.len)) {
      uint32_t e = static_cast<uint32_t>(err);
      AppendRecord(inline_, kRecSendError, d.id, &e, 4);
    }
    if (recvBuf_.empty()) recvBuf_.resize(kRecvBufferSize);
    if (ReadQueue(s.fd, recvBuf_, inline_, []() { return true; })) AppendRecord(inline_, kRecDrained, d.id, nullptr, 0);
    io.unlock();
    Napi::ArrayBuffer out = Napi::ArrayBuffer::New(env, inline_.size());
    memcpy(out.Data(), inline_.data(), inline_.size());
    if (inline_.capacity() > 4 * kRecvBufferSize) std::vector<uint8_t>().swap(inline_);  // a dump's worth: not kept
    return out;
  }

  static void OnAsync(uv_async_t* handle) { static_cast<NlSocket*>(handle->data)->Deliver(); }

  // Hands JS the records in slices of at most kDeliverSlice bytes, one slice per turn of the
  // event loop (the rest waits in pending_, ahead of anything newer), so even a dump of
  // thousands of links never holds the loop for long.
  void Deliver() {
    if (!shared_ || onRecords_.IsEmpty()) return;
    if (pendingOff_ >= pending_.size()) {
      pending_.clear();
      pendingOff_ = 0;
      {
        std::lock_guard<std::mutex> lock(shared_->mu);
        pending_.swap(shared_->inbox);
        shared_->inboxBytes = 0;
      }
      if (shared_->held) Wake(shared_->wake);  // the thread waits for room: there is some now
    }
    if (pendingOff_ >= pending_.size()) return;
    size_t end = pendingOff_;
    while (end + 12 <= pending_.size() && (end == pendingOff_ || end - pendingOff_ < kDeliverSlice)) {
      uint32_t len;
      memcpy(&len, pending_.data() + end + 8, 4);
      end += 12 + ((len + 3u) & ~3u);
    }
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, end - pendingOff_);
    memcpy(buf.Data(), pending_.data() + pendingOff_, end - pendingOff_);
    pendingOff_ = end;
    // Again next turn while anything waits: the rest of pending_, or records the thread put in
    // the inbox meanwhile (its own uv_async_send may have merged with this callback's, and this
    // callback did not take the inbox while pending_ lasted).
    if ((pendingOff_ < pending_.size() || shared_->inboxBytes.load() > 0) && shared_->async != nullptr) uv_async_send(shared_->async);
    onRecords_.MakeCallback(Value(), {buf}, *context_);
    if (env.IsExceptionPending()) {
      napi_value e = env.GetAndClearPendingException().Value();
      napi_fatal_exception(env, e);
    }
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    onRecords_.Reset();
    return info.Env().Undefined();
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (shared_ && shared_->async != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(shared_->async));
    return info.Env().Undefined();
  }

  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (shared_ && shared_->async != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(shared_->async));
    return info.Env().Undefined();
  }

  Napi::Value Membership(const Napi::CallbackInfo& info, int opt, const char* syscall) {
    Napi::Env env = info.Env();
    REQUIRE_ARGUMENT_UINT32(0, group);
    int err = !shared_ ? EBADF : SetIntOpt(shared_->fd, SOL_NETLINK, opt, static_cast<int>(group));
    if (err != 0) {
      ErrnoError(env, err, syscall).ThrowAsJavaScriptException();
    } else if (opt == NETLINK_ADD_MEMBERSHIP) {
      // Notifications are read by the thread; an inline socket's thread watches the socket
      // while idle once a group is joined: wake it to start.
      StartThread();
      if (!shared_->joined.exchange(true)) Wake(shared_->wake);
    }
    return env.Undefined();
  }
  Napi::Value AddMembership(const Napi::CallbackInfo& info) {
    return Membership(info, NETLINK_ADD_MEMBERSHIP, "setsockopt(NETLINK_ADD_MEMBERSHIP)");
  }
  Napi::Value DropMembership(const Napi::CallbackInfo& info) {
    return Membership(info, NETLINK_DROP_MEMBERSHIP, "setsockopt(NETLINK_DROP_MEMBERSHIP)");
  }

  Napi::Value Port(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), port_); }
  Napi::Value Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), shared_ ? shared_->fd : -1); }

  Napi::Value GetRecvBufferSize(const Napi::CallbackInfo& info) {
    int v = 0;
    socklen_t len = sizeof v;
    if (shared_) getsockopt(shared_->fd, SOL_SOCKET, SO_RCVBUF, &v, &len);
    return Napi::Number::New(info.Env(), v);
  }

  std::shared_ptr<Shared> shared_;
  std::thread io_;
  uint32_t port_ = 0;
  Napi::FunctionReference onRecords_;
  std::unique_ptr<Napi::AsyncContext> context_;
  std::vector<uint8_t> pending_;  // records taken from the inbox, not yet all handed to JS
  std::vector<uint8_t> inline_;   // sendNow's records
  std::vector<uint8_t> recvBuf_;  // sendNow's receive buffer
  size_t pendingOff_ = 0;
};

}  // namespace

void InitNlSocket(Napi::Env env, Napi::Object exports) { exports.Set("NlSocket", NlSocket::Init(env)); }

}  // namespace hostwire
