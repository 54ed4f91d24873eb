# hostwire_kernel on its own: what prebuildify builds (native/prebuild.js) into
# native/kernel/prebuilds, where node-gyp-build finds it. native/binding.gyp builds both addons.
{
  "targets": [
    {
      "includes": ["../common.gypi"],
      "target_name": "hostwire_kernel",
      "sources": ["addon.cc", "errors.cc", "nlsock.cc", "tun.cc", "netns.cc", "nsfile.cc", "preload.cc"]
    }
  ]
}
