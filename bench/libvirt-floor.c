/*
 * libvirt's own share of `hostwire --uri test:///default net list`, without hostwire: loaded
 * with LD_PRELOAD into `node -e 0` (bench/startup.ts), its constructor does what the command
 * asks of libvirt, on node's main thread before node starts: dlopen libvirt.so.0 (and its ~55
 * libraries), virInitialize, virConnectOpen of HW_FLOOR_URI (default test:///default), and
 * virConnectListAllNetworks with each network's name, state, autostart and persistence, printed
 * as the command prints them. Nothing is freed or closed: the command ends with _exit too.
 *
 * Through dlopen and dlsym, as the addon's loading is: no libvirt headers needed to build it.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef void *ptr;

static void *need(void *lib, const char *name) {
  void *f = dlsym(lib, name);
  if (f == NULL) {
    fprintf(stderr, "libvirt-floor: %s: %s\n", name, dlerror());
    _exit(2);
  }
  return f;
}

__attribute__((constructor)) static void libvirt_floor(void) {
  void *lib = dlopen("libvirt.so.0", RTLD_LAZY);
  if (lib == NULL) {
    fprintf(stderr, "libvirt-floor: %s\n", dlerror());
    _exit(2);
  }
  int (*init)(void) = (int (*)(void))need(lib, "virInitialize");
  ptr (*open)(const char *) = (ptr(*)(const char *))need(lib, "virConnectOpen");
  int (*list)(ptr, ptr **, unsigned) = (int (*)(ptr, ptr **, unsigned))need(lib, "virConnectListAllNetworks");
  const char *(*name)(ptr) = (const char *(*)(ptr))need(lib, "virNetworkGetName");
  int (*active)(ptr) = (int (*)(ptr))need(lib, "virNetworkIsActive");
  int (*persistent)(ptr) = (int (*)(ptr))need(lib, "virNetworkIsPersistent");
  int (*autostart)(ptr, int *) = (int (*)(ptr, int *))need(lib, "virNetworkGetAutostart");
  const char *uri = getenv("HW_FLOOR_URI");
  if (init() < 0) _exit(2);
  ptr conn = open(uri != NULL ? uri : "test:///default");
  if (conn == NULL) _exit(2);
  ptr *nets = NULL;
  int n = list(conn, &nets, 0);
  if (n < 0) _exit(2);
  printf(" %-9s %-8s %-11s %s\n", "Name", "State", "Autostart", "Persistent");
  for (int i = 0; i < n; i++) {
    int a = 0;
    autostart(nets[i], &a);
    printf(" %-9s %-8s %-11s %s\n", name(nets[i]), active(nets[i]) == 1 ? "active" : "inactive", a ? "yes" : "no",
           persistent(nets[i]) == 1 ? "yes" : "no");
  }
  fflush(stdout);
}
