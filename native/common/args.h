// Argument checks at the N-API boundary, written once, for both addons (as better-sqlite3's
// REQUIRE_ARGUMENT_* in src/util/macros.cpp). TypeScript validates and names things before it
// calls in (src/rtnl, src/libvirt); these checks only keep the addons safe from a caller that
// did not: a value of the wrong type becomes a TypeError naming the argument, never a crash.
// (An unchecked As<T>() leaves an exception pending, and the next throw aborts the process.)
//
//   REQUIRE_ARGUMENT_STRING(0, uri);              // std::string uri, or a TypeError and return
//   OPTIONAL_ARGUMENT_STRING(0, netns, "");       // undefined or null: the default
//
// Each macro declares the variable it names (the name is also what the message calls the
// argument: "argument 0 (uri) must be a string"). The enclosing function has `info` (a
// Napi::CallbackInfo) and returns Napi::Value; on failure it returns an empty Value with the
// TypeError pending. A constructor checks in a method of its own (see kernel/tun.cc).
//
// Strings must not contain NUL (they go to C APIs, which would cut them short); INT32 and
// UINT32 take only integral numbers in range. For values inside an argument (an array of
// objects), use args::Get and args::ThrowTypeError directly, naming the path ("specs[2].name").
#pragma once
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>

namespace hostwire {
namespace args {

// Absent: not passed, undefined or null.
inline bool IsAbsent(const Napi::Value& v) { return v.IsEmpty() || v.IsUndefined() || v.IsNull(); }

// Get(v, &out): true and out set when v has out's type; false (out untouched) otherwise.
inline bool Get(const Napi::Value& v, std::string* out) {
  if (!v.IsString()) return false;
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s.find('\0') != std::string::npos) return false;
  *out = std::move(s);
  return true;
}
inline bool Get(const Napi::Value& v, double* out) {
  if (!v.IsNumber()) return false;
  *out = v.As<Napi::Number>().DoubleValue();
  return true;
}
inline bool Get(const Napi::Value& v, int32_t* out) {
  double d;
  if (!Get(v, &d) || !(d >= INT32_MIN && d <= INT32_MAX) || d != std::trunc(d)) return false;
  *out = static_cast<int32_t>(d);
  return true;
}
inline bool Get(const Napi::Value& v, uint32_t* out) {
  double d;
  if (!Get(v, &d) || !(d >= 0 && d <= UINT32_MAX) || d != std::trunc(d)) return false;
  *out = static_cast<uint32_t>(d);
  return true;
}
inline bool Get(const Napi::Value& v, bool* out) {
  if (!v.IsBoolean()) return false;
  *out = v.As<Napi::Boolean>().Value();
  return true;
}
inline bool Get(const Napi::Value& v, Napi::Function* out) {
  if (!v.IsFunction()) return false;
  *out = v.As<Napi::Function>();
  return true;
}
inline bool Get(const Napi::Value& v, Napi::Object* out) {
  if (!v.IsObject()) return false;  // functions are objects too
  *out = v.As<Napi::Object>();
  return true;
}
inline bool Get(const Napi::Value& v, Napi::Array* out) {
  if (!v.IsArray()) return false;
  *out = v.As<Napi::Array>();
  return true;
}
inline bool Get(const Napi::Value& v, Napi::Buffer<uint8_t>* out) {
  if (!v.IsBuffer()) return false;
  *out = v.As<Napi::Buffer<uint8_t>>();
  return true;
}

// What a message calls an argument: "argument 0 (uri)".
inline std::string ArgumentName(size_t index, const char* name) {
  return "argument " + std::to_string(index) + " (" + name + ")";
}

// Throws TypeError("<what> must be <expected>") with Node's code for it, ERR_INVALID_ARG_TYPE,
// and returns an empty Value. An exception that is already pending (a getter threw while the
// value was read) is left to propagate instead: throwing over it would abort the process.
inline Napi::Value ThrowTypeError(Napi::Env env, const std::string& what, const char* expected) {
  if (!env.IsExceptionPending()) {
    std::string message = what + " must be " + expected;
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message.c_str());
  }
  return Napi::Value();
}

}  // namespace args
}  // namespace hostwire

#define HOSTWIRE_REQUIRE_ARGUMENT_(index, var, CType, expected)                             \
  CType var{};                                                                              \
  if (!::hostwire::args::Get(info[index], &var))                                            \
  return ::hostwire::args::ThrowTypeError(info.Env(), ::hostwire::args::ArgumentName(index, #var), expected)

#define HOSTWIRE_OPTIONAL_ARGUMENT_(index, var, CType, expected, def)                       \
  CType var = def;                                                                          \
  if (!::hostwire::args::IsAbsent(info[index]) && !::hostwire::args::Get(info[index], &var)) \
  return ::hostwire::args::ThrowTypeError(info.Env(), ::hostwire::args::ArgumentName(index, #var), expected)

#define REQUIRE_ARGUMENT_STRING(index, var) HOSTWIRE_REQUIRE_ARGUMENT_(index, var, std::string, "a string without NUL characters")
#define REQUIRE_ARGUMENT_NUMBER(index, var) HOSTWIRE_REQUIRE_ARGUMENT_(index, var, double, "a number")
#define REQUIRE_ARGUMENT_INT32(index, var) HOSTWIRE_REQUIRE_ARGUMENT_(index, var, int32_t, "a 32-bit signed integer")
#define REQUIRE_ARGUMENT_UINT32(index, var) HOSTWIRE_REQUIRE_ARGUMENT_(index, var, uint32_t, "a 32-bit unsigned integer")
#define REQUIRE_ARGUMENT_BOOLEAN(index, var) HOSTWIRE_REQUIRE_ARGUMENT_(index, var, bool, "a boolean")
#define REQUIRE_ARGUMENT_FUNCTION(index, var) HOSTWIRE_REQUIRE_ARGUMENT_(index, var, Napi::Function, "a function")
#define REQUIRE_ARGUMENT_OBJECT(index, var) HOSTWIRE_REQUIRE_ARGUMENT_(index, var, Napi::Object, "an object")
#define REQUIRE_ARGUMENT_ARRAY(index, var) HOSTWIRE_REQUIRE_ARGUMENT_(index, var, Napi::Array, "an array")

#define OPTIONAL_ARGUMENT_STRING(index, var, def) \
  HOSTWIRE_OPTIONAL_ARGUMENT_(index, var, std::string, "a string without NUL characters, null or undefined", def)
#define OPTIONAL_ARGUMENT_NUMBER(index, var, def) \
  HOSTWIRE_OPTIONAL_ARGUMENT_(index, var, double, "a number, null or undefined", def)
#define OPTIONAL_ARGUMENT_INT32(index, var, def) \
  HOSTWIRE_OPTIONAL_ARGUMENT_(index, var, int32_t, "a 32-bit signed integer, null or undefined", def)
#define OPTIONAL_ARGUMENT_UINT32(index, var, def) \
  HOSTWIRE_OPTIONAL_ARGUMENT_(index, var, uint32_t, "a 32-bit unsigned integer, null or undefined", def)
#define OPTIONAL_ARGUMENT_BOOLEAN(index, var, def) \
  HOSTWIRE_OPTIONAL_ARGUMENT_(index, var, bool, "a boolean, null or undefined", def)
#define OPTIONAL_ARGUMENT_FUNCTION(index, var) \
  HOSTWIRE_OPTIONAL_ARGUMENT_(index, var, Napi::Function, "a function, null or undefined", Napi::Function())
#define OPTIONAL_ARGUMENT_OBJECT(index, var) \
  HOSTWIRE_OPTIONAL_ARGUMENT_(index, var, Napi::Object, "an object, null or undefined", Napi::Object())
#define OPTIONAL_ARGUMENT_ARRAY(index, var) \
  HOSTWIRE_OPTIONAL_ARGUMENT_(index, var, Napi::Array, "an array, null or undefined", Napi::Array())
