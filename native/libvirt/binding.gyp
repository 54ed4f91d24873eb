# hostwire_libvirt on its own: what prebuildify builds (native/prebuild.js) into
# native/libvirt/prebuilds, where node-gyp-build finds it. The only addon linking libvirt.
{
  "targets": [
    {
      "includes": ["../common.gypi"],
      "target_name": "hostwire_libvirt",
      "sources": ["addon.cc", "auth.cc", "connection.cc", "domain.cc", "errnames.cc", "errors.cc", "events.cc", "network.cc",
                  "runtime.cc"],
      "libraries": ["<!@(pkg-config --libs libvirt)"],
      "cflags_cc": ["<!@(pkg-config --cflags libvirt)"]
    }
  ]
}
