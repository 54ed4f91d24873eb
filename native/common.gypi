# What both addons' targets share (included by each target in native/kernel and native/libvirt):
# node-addon-api without C++ exceptions, N-API 8, hidden symbols, C++17.
{
  "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "common"],
  "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
  "cflags!": ["-fno-exceptions"],
  "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
  "cflags": ["-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
  "cflags_cc": ["-fvisibility=hidden", "-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"]
}
