// Test helpers for the training tests (train/, distill/): the repository's fixture models
// and the Fashion-MNIST dataset they learn on (/usr/share/datasets/fashion-mnist).
#ifndef MP_WORKERS_ENGINE_TRAIN_FASHION_TEST_UTIL_H_
#define MP_WORKERS_ENGINE_TRAIN_FASHION_TEST_UTIL_H_

#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>

#include "common/check.h"
#include "workers/engine/data/dataset_io.h"
#include "workers/engine/onnx/onnx.h"

namespace mp::train::testing {

// The repository root (ctest sets MP_SOURCE_DIR).
inline std::string SourceDir() {
  const char* root = std::getenv("MP_SOURCE_DIR");
  return root != nullptr ? root : ".";
}

// The first `n` samples (-1: all) of split "train" or "t10k" as [n, 1, 28, 28] in [0, 1].
inline data::Dataset FashionMnist(const std::string& split, int64_t n = -1) {
  auto paths = data::MnistSplitPaths("/usr/share/datasets/fashion-mnist", split);
  auto ds = data::LoadIdxDataset(paths.images, paths.labels, {.limit = n});
  MP_CHECK(ds.ok()) << ds.status();
  return *std::move(ds);
}

// tests/fixtures/models/<file>, e.g. "lenet.onnx".
inline ir::Model FixtureModel(const std::string& file) {
  auto model = onnx::ImportModelFile(SourceDir() + "/tests/fixtures/models/" + file);
  MP_CHECK(model.ok()) << model.status();
  return *std::move(model);
}

}  // namespace mp::train::testing

#endif  // MP_WORKERS_ENGINE_TRAIN_FASHION_TEST_UTIL_H_
