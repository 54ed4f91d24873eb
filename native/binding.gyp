# Both addons, for a checkout: `node-gyp rebuild --directory=native` puts hostwire_kernel.node and
# hostwire_libvirt.node in native/build/Release, where src/native.ts looks first. Each addon's
# target is declared once, in its own binding.gyp (which prebuildify builds for the package).
{
  "targets": [
    {
      "target_name": "hostwire",
      "type": "none",
      "dependencies": ["kernel/binding.gyp:hostwire_kernel", "libvirt/binding.gyp:hostwire_libvirt"]
    }
  ]
}
