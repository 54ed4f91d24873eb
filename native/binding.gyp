{
  "target_defaults": {
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "common"],
    "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
    "cflags": ["-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
    "cflags_cc": ["-fvisibility=hidden", "-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"]
  },
  "targets": [
    {
      "target_name": "hostwire_kernel",
      "sources": ["kernel/addon.cc", "kernel/errors.cc", "kernel/nlsock.cc", "kernel/tun.cc", "kernel/netns.cc", "kernel/nsfile.cc"]
    },
    {
      "target_name": "hostwire_libvirt",
      "sources": ["libvirt/addon.cc", "libvirt/auth.cc", "libvirt/connection.cc", "libvirt/domain.cc", "libvirt/errnames.cc",
                  "libvirt/errors.cc", "libvirt/events.cc", "libvirt/network.cc", "libvirt/runtime.cc"],
      "libraries": ["<!@(pkg-config --libs libvirt)"],
      "cflags_cc": ["<!@(pkg-config --cflags libvirt)"]
    }
  ]
}
