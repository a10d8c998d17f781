// Real data: Fashion-MNIST as installed by Debian's dataset-fashion-mnist (the project's setup
// installs it), and the fixture tensors written by scripts/make_fixtures.py with numpy.
#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/str_cat.h"
#include "gtest/gtest.h"
#include "workers/engine/data/dataset_io.h"

namespace mp::data {
namespace {

using tensor::DType;
using tensor::Shape;

constexpr char kFashionMnist[] = "/usr/share/datasets/fashion-mnist";

std::string FixtureData(std::string_view name) {
  const char* root = std::getenv("MP_SOURCE_DIR");
  return StrCat(root != nullptr ? root : ".", "/tests/fixtures/data/", name);
}

TEST(FashionMnistTest, TestSplitLoadsAsNormalizedNchw) {
  const IdxSplitPaths paths = MnistSplitPaths(kFashionMnist, "t10k");
  auto d = LoadIdxDataset(paths.images, paths.labels);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->samples().shape(), Shape({10000, 1, 28, 28}));
  EXPECT_EQ(d->samples().dtype(), DType::kFloat32);
  ASSERT_TRUE(d->has_labels());
  std::vector<int> per_class(10, 0);
  for (int64_t y : d->labels().span<int64_t>()) {
    ASSERT_TRUE(y >= 0 && y < 10) << y;
    ++per_class[static_cast<size_t>(y)];
  }
  for (int c : per_class) EXPECT_EQ(c, 1000);  // the test split is balanced
  float lo = 1, hi = 0;
  for (float v : d->samples().span<float>()) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  EXPECT_EQ(lo, 0.0f);
  EXPECT_EQ(hi, 1.0f);
}

TEST(FashionMnistTest, MatchesNumpyPreprocessingBitForBit) {
  const IdxSplitPaths paths = MnistSplitPaths(kFashionMnist, "t10k");
  auto ours = LoadIdxDataset(paths.images, paths.labels, {.limit = 64});
  ASSERT_TRUE(ours.ok()) << ours.status();
  auto numpy = LoadNpyDataset(FixtureData("images_64.npy"), FixtureData("labels_64.npy"));
  ASSERT_TRUE(numpy.ok()) << numpy.status();
  ASSERT_EQ(ours->samples().shape(), numpy->samples().shape());
  const auto a = ours->samples().span<float>();
  const auto b = numpy->samples().span<float>();
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << i;
  for (int64_t i = 0; i < 64; ++i) {
    EXPECT_EQ(ours->labels().data<int64_t>()[i], numpy->labels().data<int64_t>()[i]);
  }
  auto raw =
      LoadIdxDataset(paths.images, "", {.normalize = false, .add_channel_dim = false, .limit = 64});
  ASSERT_TRUE(raw.ok());
  auto raw_numpy = LoadNpyDataset(FixtureData("images_u8_64.npy"), "");
  ASSERT_TRUE(raw_numpy.ok()) << raw_numpy.status();
  EXPECT_EQ(raw->samples().shape(), Shape({64, 28, 28}));
  EXPECT_EQ(raw->samples().dtype(), DType::kUint8);
  const auto ra = raw->samples().span<uint8_t>();
  const auto rb = raw_numpy->samples().span<uint8_t>();
  EXPECT_TRUE(std::equal(ra.begin(), ra.end(), rb.begin(), rb.end()));
}

TEST(FashionMnistTest, TrainSplitHas60000Samples) {
  const IdxSplitPaths paths = MnistSplitPaths(kFashionMnist, "train");
  auto d = LoadIdxDataset(paths.images, paths.labels, {.normalize = false});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->samples().shape(), Shape({60000, 1, 28, 28}));
  EXPECT_EQ(d->labels().shape(), Shape({60000}));
}

TEST(FashionMnistTest, MismatchedPairIsRejected) {
  const IdxSplitPaths train = MnistSplitPaths(kFashionMnist, "train");
  const IdxSplitPaths test = MnistSplitPaths(kFashionMnist, "t10k");
  const absl::Status s = LoadIdxDataset(test.images, train.labels).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(s.message()).find("60000 labels but"), std::string::npos) << s;
  // Labels are rank 1: using them as images is an error.
  EXPECT_FALSE(LoadIdxDataset(test.labels, "").ok());
}

}  // namespace
}  // namespace mp::data
