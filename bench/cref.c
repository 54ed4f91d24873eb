/*
 * The churn bench's C rtnetlink reference: what the kernel gives a careful C program for the same
 * phases over the same taps, so hostwire's times can be read as ratios to it. Compiled by the
 * bench at run time (bench/cref.ts: `cc -O2`, cached under os.tmpdir() by source hash), never
 * part of the product.
 *
 *   cref --netns NAME --taps N [--variant V] [--window W] [--per-bridge P] [--pause-ms MS]
 *        [--stop-after PHASE]
 *
 * Enters /run/netns/NAME (setns), where the bench made bridges bbr0, bbr1 ... (P ports each),
 * then times, each with clock_gettime(CLOCK_MONOTONIC), over taps bt0 .. bt{N-1}:
 *   create  open /dev/net/tun, TUNSETIFF (IFF_TAP | IFF_NO_PI | IFF_TUN_EXCL), SIOCGIFINDEX,
 *           TUNSETPERSIST, close: as native/kernel/tun.cc (rtnetlink cannot make taps)
 *   up      RTM_SETLINK ifi_flags IFF_UP
 *   attach  RTM_SETLINK IFLA_MASTER = bridge ifindex
 *   detach  RTM_SETLINK IFLA_MASTER = 0
 *   delete  RTM_SETLINK IFLA_GROUP = G for every tap, then one RTM_DELLINK, ifindex 0,
 *           IFLA_GROUP = G (the kernel's batched unregister: one RCU grace period for all)
 * Requests are pipelined: many per sendmsg, at most W (default 256) unanswered, every one
 * acked (NLM_F_ACK, NETLINK_CAP_ACK) and its ack checked. Prints one JSON object on stdout:
 * {"variant": V, "phases": {"create": ms, ...}}. Any failure: a message on stderr, exit 1.
 *
 * Variants (what is sent besides the above; the extra requests are timed in their phase):
 *   pipelined       nothing else
 *   getlink         RTM_GETLINK of the same tap (by ifindex) just before each attach and detach
 *   getlink-lo      RTM_GETLINK of lo instead, just before each attach and detach
 *   getlink-up      RTM_GETLINK of each tap right after its up request
 *   getlink-create  RTM_GETLINK of each tap once it is made (still down), in the create phase
 *   ethtool-create  ETHTOOL_GLINK ioctl on each tap once it is made (still down)
 *   ethtool-up      ETHTOOL_GLINK ioctl on each tap after the up phase (timed in it)
 *   attach-first    attach before up (phases run create, attach, up, detach, delete)
 * (bench/linkwatch.ts runs them all; the churn trial runs pipelined, getlink and getlink-create.)
 *
 * --stop-after PHASE ends the run after that phase, leaving the taps for the caller to look at
 * (the caller deletes the namespace, and with it the taps).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif
enum { V_PIPELINED, V_GETLINK, V_GETLINK_LO, V_GETLINK_UP, V_GETLINK_CREATE, V_ETHTOOL_CREATE, V_ETHTOOL_UP, V_ATTACH_FIRST };
static const char *const VARIANTS[] = {"pipelined",      "getlink",        "getlink-lo",  "getlink-up",
                                       "getlink-create", "ethtool-create", "ethtool-up",  "attach-first"};

#define SEND_MAX (64 * 1024)

static void die(const char *what, int err) {
  fprintf(stderr, "cref: %s: %s\n", what, strerror(err));
  exit(1);
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* One rtnetlink socket: a send buffer of queued requests, a count of unanswered ones. */
struct nl {
  int fd;
  uint32_t seq;
  int window, queued, inflight;
  size_t len;
  char sbuf[SEND_MAX];
  char rbuf[256 * 1024];
};

static void nl_open(struct nl *s, int window) {
  s->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (s->fd < 0) die("socket", errno);
  int one = 1, rcv = 16 << 20;
  if (setsockopt(s->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one)) die("setsockopt(NETLINK_CAP_ACK)", errno);
  if (setsockopt(s->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv)) die("setsockopt(SO_RCVBUFFORCE)", errno);
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  if (bind(s->fd, (struct sockaddr *)&sa, sizeof sa)) die("bind", errno);
  s->seq = 1;
  s->window = window;
  s->queued = s->inflight = 0;
  s->len = 0;
}

/* Reads acks until at most `target` requests are unanswered; a failed request is fatal. */
static void nl_wait(struct nl *s, int target) {
  while (s->inflight > target) {
    ssize_t n = recv(s->fd, s->rbuf, sizeof s->rbuf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("recv", errno);
    }
    for (struct nlmsghdr *h = (struct nlmsghdr *)s->rbuf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type != NLMSG_ERROR) continue; /* a GETLINK's reply: its ack follows */
      struct nlmsgerr *e = NLMSG_DATA(h);
      if (e->error) {
        fprintf(stderr, "cref: request seq %u (type %u) failed\n", e->msg.nlmsg_seq, e->msg.nlmsg_type);
        die("netlink", -e->error);
      }
      s->inflight--;
    }
  }
}

/* One sendmsg of everything queued; the kernel runs each request inside it. */
static void nl_flush(struct nl *s) {
  if (!s->queued) return;
  struct sockaddr_nl to = {.nl_family = AF_NETLINK};
  struct iovec iov = {s->sbuf, s->len};
  struct msghdr m = {.msg_name = &to, .msg_namelen = sizeof to, .msg_iov = &iov, .msg_iovlen = 1};
  while (sendmsg(s->fd, &m, 0) < 0)
    if (errno != EINTR) die("sendmsg", errno);
  s->inflight += s->queued;
  s->queued = 0;
  s->len = 0;
}

/*
 * Room for one more request of up to `bytes`. When the window is full, what is queued goes out
 * and every ack is read back before more is queued: rtnetlink runs the requests inside
 * sendmsg(), so by then their acks are all waiting and reading them costs no wait.
 */
static void nl_room(struct nl *s, size_t bytes) {
  if (s->len + bytes > SEND_MAX) nl_flush(s);
  if (s->inflight + s->queued >= s->window) {
    nl_flush(s);
    nl_wait(s, 0);
  }
}

static void nl_done(struct nl *s) {
  nl_flush(s);
  nl_wait(s, 0);
}

/* Starts an ifinfomsg request; attributes follow with put_u32/put_u8. */
static struct nlmsghdr *link_msg(struct nl *s, int type, int flags, int ifindex, unsigned ifflags, unsigned change) {
  nl_room(s, 128);
  struct nlmsghdr *h = (struct nlmsghdr *)(s->sbuf + s->len);
  memset(h, 0, NLMSG_SPACE(sizeof(struct ifinfomsg)));
  h->nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
  h->nlmsg_type = type;
  h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
  h->nlmsg_seq = s->seq++;
  struct ifinfomsg *ifi = NLMSG_DATA(h);
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  ifi->ifi_flags = ifflags;
  ifi->ifi_change = change;
  return h;
}

static void put_attr(struct nlmsghdr *h, int type, const void *data, int len) {
  struct rtattr *a = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));
  a->rta_type = type;
  a->rta_len = RTA_LENGTH(len);
  memcpy(RTA_DATA(a), data, len);
  h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
}

static void put_u32(struct nlmsghdr *h, int type, uint32_t v) { put_attr(h, type, &v, 4); }

static void end_msg(struct nl *s, struct nlmsghdr *h) {
  s->len += NLMSG_ALIGN(h->nlmsg_len);
  s->queued++;
}

static void getlink(struct nl *s, int ifindex) {
  struct nlmsghdr *h = link_msg(s, RTM_GETLINK, 0, ifindex, 0, 0);
  put_u32(h, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  end_msg(s, h);
}

static void set_up(struct nl *s, int ifindex) { end_msg(s, link_msg(s, RTM_SETLINK, 0, ifindex, IFF_UP, IFF_UP)); }

static void set_u32(struct nl *s, int ifindex, int attr, uint32_t v) {
  struct nlmsghdr *h = link_msg(s, RTM_SETLINK, 0, ifindex, 0, 0);
  put_u32(h, attr, v);
  end_msg(s, h);
}

/* ETHTOOL_GLINK: the driver's get_link (tun: ethtool_op_get_link). */
static void ethtool_glink(int ctl, int i) {
  struct ethtool_value ev = {.cmd = ETHTOOL_GLINK};
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, IFNAMSIZ, "bt%d", i);
  ifr.ifr_data = (void *)&ev;
  if (ioctl(ctl, SIOCETHTOOL, &ifr)) die("ioctl(SIOCETHTOOL)", errno);
}

static void create_taps(struct nl *s, int ctl, int n, int *ix, int variant) {
  for (int i = 0; i < n; i++) {
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) die("open(/dev/net/tun)", errno);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, IFNAMSIZ, "bt%d", i);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_TUN_EXCL;
    if (ioctl(fd, TUNSETIFF, &ifr)) die("ioctl(TUNSETIFF)", errno);
    if (ioctl(ctl, SIOCGIFINDEX, &ifr)) die("ioctl(SIOCGIFINDEX)", errno);
    ix[i] = ifr.ifr_ifindex;
    if (ioctl(fd, TUNSETPERSIST, 1)) die("ioctl(TUNSETPERSIST)", errno);
    close(fd);
    if (variant == V_GETLINK_CREATE) getlink(s, ix[i]);
    if (variant == V_ETHTOOL_CREATE) ethtool_glink(ctl, i);
  }
}

int main(int argc, char **argv) {
  const char *ns = NULL;
  const char *stop_after = "";
  int n = 0, window = 256, per_bridge = 1000, pause_ms = 0, variant = V_PIPELINED;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--netns")) ns = argv[i + 1];
    else if (!strcmp(argv[i], "--taps")) n = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--window")) window = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--per-bridge")) per_bridge = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--pause-ms")) pause_ms = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--stop-after")) stop_after = argv[i + 1];
    else if (!strcmp(argv[i], "--variant")) {
      variant = -1;
      for (size_t k = 0; k < sizeof VARIANTS / sizeof *VARIANTS; k++)
        if (!strcmp(argv[i + 1], VARIANTS[k])) variant = (int)k;
      if (variant < 0) die(argv[i + 1], EINVAL);
    } else
      die(argv[i], EINVAL);
  }
  if (!ns || n < 1 || window < 1 || per_bridge < 1) {
    fprintf(stderr, "usage: cref --netns NAME --taps N [--variant V] [--window W] [--per-bridge P] [--pause-ms MS] [--stop-after PHASE]\n");
    return 2;
  }

  char path[256];
  snprintf(path, sizeof path, "/run/netns/%s", ns);
  int nsfd = open(path, O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) die(path, errno);
  if (setns(nsfd, CLONE_NEWNET)) die("setns", errno);
  close(nsfd);

  int nbr = (n + per_bridge - 1) / per_bridge;
  int *br = calloc(nbr, sizeof *br), *ix = calloc(n, sizeof *ix);
  for (int b = 0; b < nbr; b++) {
    char name[IFNAMSIZ];
    snprintf(name, sizeof name, "bbr%d", b);
    if (!(br[b] = if_nametoindex(name))) die(name, errno);
  }
  int lo = if_nametoindex("lo");
  static struct nl s;
  nl_open(&s, window);
  int ctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (ctl < 0) die("socket(AF_INET)", errno);

  double t[5];
  const char *names[5];
  int k = 0;
  /* CREF_MARKS=1: each phase's CLOCK_MONOTONIC start and end on stderr (to cut a perf trace). */
  int marks = getenv("CREF_MARKS") != NULL;
  uint32_t group = 0x5eed0000u | (uint32_t)(getpid() & 0xffff); /* bridges and lo are in group 0 */
  const char *order[5] = {"create", "up", "attach", "detach", "delete"};
  if (variant == V_ATTACH_FIRST) order[1] = "attach", order[2] = "up";
  for (int p = 0; p < 5; p++) {
    const char *phase = order[p];
    double t0 = now_ms();
    if (!strcmp(phase, "create")) {
      create_taps(&s, ctl, n, ix, variant);
    } else if (!strcmp(phase, "up")) {
      for (int i = 0; i < n; i++) {
        set_up(&s, ix[i]);
        if (variant == V_GETLINK_UP) getlink(&s, ix[i]);
      }
      if (variant == V_ETHTOOL_UP) {
        nl_done(&s);
        for (int i = 0; i < n; i++) ethtool_glink(ctl, i);
      }
    } else if (!strcmp(phase, "attach") || !strcmp(phase, "detach")) {
      int attach = phase[0] == 'a';
      for (int i = 0; i < n; i++) {
        if (variant == V_GETLINK) getlink(&s, ix[i]);
        if (variant == V_GETLINK_LO) getlink(&s, lo);
        set_u32(&s, ix[i], IFLA_MASTER, attach ? br[i / per_bridge] : 0);
      }
    } else {
      for (int i = 0; i < n; i++) set_u32(&s, ix[i], IFLA_GROUP, group);
      nl_done(&s);
      struct nlmsghdr *h = link_msg(&s, RTM_DELLINK, 0, 0, 0, 0);
      put_u32(h, IFLA_GROUP, group);
      end_msg(&s, h);
    }
    nl_done(&s);
    t[k] = now_ms() - t0;
    if (marks) fprintf(stderr, "mark %s %.6f %.6f\n", phase, t0 / 1e3, (t0 + t[k]) / 1e3);
    names[k++] = phase;
    if (!strcmp(phase, stop_after)) break;
    if (!strcmp(phase, "up") && pause_ms) usleep(pause_ms * 1000);
  }

  printf("{\"variant\":\"%s\",\"taps\":%d,\"window\":%d,\"phases\":{", VARIANTS[variant], n, window);
  for (int i = 0; i < k; i++) printf("%s\"%s\":%.3f", i ? "," : "", names[i], t[i]);
  printf("}}\n");
  return 0;
}
