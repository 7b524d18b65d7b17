// The JavaScript handle of a process group (type-tagged, as the model's handles).
#pragma once
#include "distributed/group.h"
#include "model/handles.h"

namespace hiexp::napi {
template <>
struct HandleTag<dist::Group> {
  static constexpr napi_type_tag tag{0x6869657870446973ULL, 0x7447726f75703031ULL};
  static constexpr const char* name = "process group";
};
}  // namespace hiexp::napi
