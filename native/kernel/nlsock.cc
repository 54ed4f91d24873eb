// NlSocket: one AF_NETLINK socket owned by the addon. It exists because the npm `netlink`
// socket cannot set NETLINK_EXT_ACK / NETLINK_CAP_ACK / NETLINK_GET_STRICT_CHK, cannot be
// created in another namespace, and turns ENOBUFS into a process abort inside its callback.
// Here the socket is only a transport: bytes out (sendmsg, gather), datagrams in (uv_poll +
// recv), errors as values. Message encoding, sequence numbers and the in-flight window live in
// TypeScript (src/rtnl/socket.ts) on top of `netlink`'s codecs.
#include <errno.h>
#include <linux/netlink.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <uv.h>

#include <memory>
#include <vector>

#include "errors.h"
#include "nlsock.h"

namespace hostwire {
namespace {

constexpr size_t kRecvBufferSize = 64 * 1024;  // the kernel caps dump skbs at 32 KiB
constexpr size_t kMaxBatch = 4096;             // datagrams handed to JS per callback

int SetIntOpt(int fd, int level, int name, int value) {
  return setsockopt(fd, level, name, &value, sizeof value) == 0 ? 0 : errno;
}

class NlSocket : public Napi::ObjectWrap<NlSocket> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "NlSocket",
                       {
                           InstanceMethod("send", &NlSocket::Send),
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

  // new NlSocket({protocol, netns, rcvbuf, sndbuf, extAck, capAck, strictCheck}, onMessages)
  // onMessages(err: Error | null, datagrams: Buffer[], drained: boolean)
  explicit NlSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NlSocket>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
      Napi::TypeError::New(env, "NlSocket(options, onMessages)").ThrowAsJavaScriptException();
      return;
    }
    Napi::Object opts = info[0].As<Napi::Object>();
    auto intOpt = [&](const char* key, int def) {
      Napi::Value v = opts.Get(key);
      return v.IsNumber() ? v.As<Napi::Number>().Int32Value() : def;
    };
    auto boolOpt = [&](const char* key) {
      Napi::Value v = opts.Get(key);
      return v.IsBoolean() && v.As<Napi::Boolean>().Value();
    };
    std::string netns;
    if (opts.Get("netns").IsString()) netns = opts.Get("netns").As<Napi::String>().Utf8Value();
    int protocol = intOpt("protocol", NETLINK_ROUTE);

    int fd = -1, sockErr = 0;
    int nsErr = RunInNetns(netns, [&]() {
      fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
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
    fd_ = fd;

    struct Opt {
      int level, name, value;
      bool wanted;
      const char* syscall;
    };
    int rcvbuf = intOpt("rcvbuf", 0), sndbuf = intOpt("sndbuf", 0);
    const Opt sockopts[] = {
        {SOL_NETLINK, NETLINK_EXT_ACK, 1, boolOpt("extAck"), "setsockopt(NETLINK_EXT_ACK)"},
        {SOL_NETLINK, NETLINK_CAP_ACK, 1, boolOpt("capAck"), "setsockopt(NETLINK_CAP_ACK)"},
        {SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1, boolOpt("strictCheck"),
         "setsockopt(NETLINK_GET_STRICT_CHK)"},
    };
    for (const Opt& o : sockopts) {
      if (o.wanted && Failed(env, SetIntOpt(fd_, o.level, o.name, o.value), o.syscall)) return;
    }
    // The FORCE variants go past net.core.rmem_max but need CAP_NET_ADMIN: fall back quietly.
    if (rcvbuf > 0 && SetIntOpt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf) != 0 &&
        Failed(env, SetIntOpt(fd_, SOL_SOCKET, SO_RCVBUF, rcvbuf), "setsockopt(SO_RCVBUF)"))
      return;
    if (sndbuf > 0 && SetIntOpt(fd_, SOL_SOCKET, SO_SNDBUFFORCE, sndbuf) != 0 &&
        Failed(env, SetIntOpt(fd_, SOL_SOCKET, SO_SNDBUF, sndbuf), "setsockopt(SO_SNDBUF)"))
      return;

    sockaddr_nl addr{};
    addr.nl_family = AF_NETLINK;
    if (Failed(env, bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 ? 0 : errno, "bind"))
      return;
    socklen_t len = sizeof addr;
    if (Failed(env, getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0 ? 0 : errno,
               "getsockname"))
      return;
    port_ = addr.nl_pid;

    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    poll_ = new uv_poll_t;
    poll_->data = this;
    int rc = uv_poll_init(loop, poll_, fd_);
    if (rc != 0) {
      delete poll_;  // never initialized: nothing for uv_close to do
      poll_ = nullptr;
      Failed(env, -rc, "uv_poll_init");
      return;
    }
    // From here on the handle is closed (uv_close) by Shutdown, never just deleted.
    if (Failed(env, -uv_poll_start(poll_, UV_READABLE, &NlSocket::OnPoll), "uv_poll_start")) return;
    uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    onMessages_ = Napi::Persistent(info[1].As<Napi::Function>());
    context_ = std::make_unique<Napi::AsyncContext>(env, "hostwire:netlink");
    buffer_.resize(kRecvBufferSize);
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

  void Shutdown() {
    if (poll_ != nullptr) {
      uv_poll_stop(poll_);
      uv_close(reinterpret_cast<uv_handle_t*>(poll_),
               [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
    }
    if (fd_ >= 0) {
      close(fd_);
      fd_ = -1;
    }
  }

  // send(chunks: Uint8Array[]): one sendmsg with the chunks gathered; the kernel runs every
  // netlink message in the datagram in order. Returns bytes sent; throws the errno otherwise.
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0) {
      ErrnoError(env, EBADF, "sendmsg").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (info.Length() < 1 || !info[0].IsArray()) {
      Napi::TypeError::New(env, "send(chunks: Uint8Array[])").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Array chunks = info[0].As<Napi::Array>();
    std::vector<iovec> iov(chunks.Length());
    for (uint32_t i = 0; i < chunks.Length(); i++) {
      Napi::Value c = chunks.Get(i);
      if (!c.IsTypedArray()) {
        Napi::TypeError::New(env, "chunks must be Uint8Array").ThrowAsJavaScriptException();
        return env.Undefined();
      }
      Napi::Uint8Array a = c.As<Napi::Uint8Array>();
      iov[i].iov_base = a.Data();
      iov[i].iov_len = a.ByteLength();
    }
    sockaddr_nl dst{};
    dst.nl_family = AF_NETLINK;
    msghdr msg{};
    msg.msg_name = &dst;
    msg.msg_namelen = sizeof dst;
    msg.msg_iov = iov.data();
    msg.msg_iovlen = iov.size();
    ssize_t n;
    do n = sendmsg(fd_, &msg, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
      ErrnoError(env, errno, "sendmsg").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return Napi::Number::New(env, static_cast<double>(n));
  }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    static_cast<NlSocket*>(handle->data)->Drain(status);
  }

  // onMessages(err, datagrams, drained): drained is true once recv() found the queue empty.
  void Deliver(Napi::Env env, Napi::Value err, std::vector<Napi::Value>& batch, bool drained = false) {
    if (onMessages_.IsEmpty()) return;
    Napi::Array arr = Napi::Array::New(env, batch.size());
    for (size_t i = 0; i < batch.size(); i++) arr.Set(static_cast<uint32_t>(i), batch[i]);
    batch.clear();
    onMessages_.MakeCallback(Value(), {err, arr, Napi::Boolean::New(env, drained)}, *context_);
    if (env.IsExceptionPending()) {
      napi_value e = env.GetAndClearPendingException().Value();
      napi_fatal_exception(env, e);
    }
  }

  // Reads every datagram queued on the socket. ENOBUFS (the kernel dropped replies because the
  // receive queue was full) becomes an error value handed to JS, never an abort.
  void Drain(int status) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    std::vector<Napi::Value> batch;
    if (status < 0) {
      // libuv reports EPOLLERR as UV_EBADF and stops the handle. On a netlink socket EPOLLERR
      // means sk_err is set (ENOBUFS: the kernel dropped replies); recv() below returns that
      // error and clears it. So poll again and read, rather than giving up on the socket.
      if (poll_ == nullptr || fd_ < 0) return;
      int rc = uv_poll_start(poll_, UV_READABLE, &NlSocket::OnPoll);
      if (rc != 0) {
        Deliver(env, ErrnoError(env, -rc, "uv_poll_start").Value(), batch);
        return;
      }
    }
    while (fd_ >= 0) {
      ssize_t n = recv(fd_, buffer_.data(), buffer_.size(), MSG_DONTWAIT | MSG_TRUNC);
      if (n < 0) {
        int err = errno;
        if (err == EINTR) continue;
        if (err == EAGAIN || err == EWOULDBLOCK) {
          // Always told, even with nothing read: rtnetlink answers a request inside sendmsg(),
          // so a request sent before this point and still unanswered lost its reply.
          Deliver(env, env.Null(), batch, true);
          return;
        }
        if (!batch.empty()) Deliver(env, env.Null(), batch);
        Deliver(env, ErrnoError(env, err, "recv").Value(), batch);
        if (err == ENOBUFS) continue;
        break;
      }
      if (static_cast<size_t>(n) > buffer_.size()) {
        if (!batch.empty()) Deliver(env, env.Null(), batch);
        Deliver(env, ErrnoError(env, EMSGSIZE, "recv").Value(), batch);
        buffer_.resize(static_cast<size_t>(n));
        continue;
      }
      batch.push_back(Napi::Buffer<uint8_t>::Copy(env, buffer_.data(), static_cast<size_t>(n)));
      if (batch.size() >= kMaxBatch) Deliver(env, env.Null(), batch);
    }
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    onMessages_.Reset();
    return info.Env().Undefined();
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (poll_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (poll_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  Napi::Value Membership(const Napi::CallbackInfo& info, int opt, const char* syscall) {
    Napi::Env env = info.Env();
    int group = info[0].As<Napi::Number>().Int32Value();
    int err = fd_ < 0 ? EBADF : SetIntOpt(fd_, SOL_NETLINK, opt, group);
    if (err != 0) ErrnoError(env, err, syscall).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Value AddMembership(const Napi::CallbackInfo& info) {
    return Membership(info, NETLINK_ADD_MEMBERSHIP, "setsockopt(NETLINK_ADD_MEMBERSHIP)");
  }
  Napi::Value DropMembership(const Napi::CallbackInfo& info) {
    return Membership(info, NETLINK_DROP_MEMBERSHIP, "setsockopt(NETLINK_DROP_MEMBERSHIP)");
  }

  Napi::Value Port(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), port_); }
  Napi::Value Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }

  Napi::Value GetRecvBufferSize(const Napi::CallbackInfo& info) {
    int v = 0;
    socklen_t len = sizeof v;
    if (fd_ >= 0) getsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &v, &len);
    return Napi::Number::New(info.Env(), v);
  }

  int fd_ = -1;
  uint32_t port_ = 0;
  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference onMessages_;
  std::unique_ptr<Napi::AsyncContext> context_;
  std::vector<uint8_t> buffer_;
};

}  // namespace

void InitNlSocket(Napi::Env env, Napi::Object exports) {
  exports.Set("NlSocket", NlSocket::Init(env));
}

}  // namespace hostwire
