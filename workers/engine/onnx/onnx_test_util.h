// Helpers shared by the onnx module's tests: tiny models from ONNX's text format.
#ifndef MP_WORKERS_ENGINE_ONNX_ONNX_TEST_UTIL_H_
#define MP_WORKERS_ENGINE_ONNX_ONNX_TEST_UTIL_H_

#include <string>

#include "gtest/gtest.h"
#include "onnx/defs/parser.h"
#include "onnx/onnx_pb.h"

namespace mp::onnx::testing {

// Parses ONNX text format (onnx::OnnxParser); a parse error fails the calling test.
inline ::onnx::ModelProto Parse(const char* text) {
  ::onnx::ModelProto m;
  const auto status = ::onnx::OnnxParser::Parse(m, text);
  EXPECT_TRUE(status.IsOK()) << status.ErrorMessage();
  return m;
}

// The serialized bytes of `m`.
inline std::string Bytes(const ::onnx::ModelProto& m) {
  std::string s;
  EXPECT_TRUE(m.SerializeToString(&s));
  return s;
}

}  // namespace mp::onnx::testing

#endif  // MP_WORKERS_ENGINE_ONNX_ONNX_TEST_UTIL_H_
