#include "workers/engine/data/dataset.h"

#include <set>
#include <vector>

#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "workers/engine/data/convert.h"
#include "workers/engine/data/dataset_io.h"
#include "workers/engine/data/npy.h"
#include "workers/engine/data/shuffle.h"

namespace mp::data {
namespace {

using tensor::DType;
using tensor::Shape;
using tensor::Tensor;
using ::testing::HasSubstr;

// N samples of shape [2] with values (10 i, 10 i + 1) and labels i % 3.
Dataset Make(int64_t n) {
  std::vector<float> x;
  std::vector<int64_t> y;
  for (int64_t i = 0; i < n; ++i) {
    x.push_back(static_cast<float>(10 * i));
    x.push_back(static_cast<float>(10 * i + 1));
    y.push_back(i % 3);
  }
  auto d = Dataset::Make(Tensor::FromVector(Shape({n, 2}), x), Tensor::FromVector(Shape({n}), y));
  MP_CHECK(d.ok());
  return *d;
}

TEST(DatasetTest, ValidatesShapes) {
  EXPECT_FALSE(Dataset::Make(Tensor()).ok());
  EXPECT_FALSE(Dataset::Make(Tensor::FromVector<float>(Shape(), {1})).ok());
  const Tensor x = Tensor::Zeros(DType::kFloat32, Shape({4, 2}));
  const absl::Status wrong_n = Dataset::Make(x, Tensor::Zeros(DType::kInt64, Shape({3}))).status();
  EXPECT_EQ(wrong_n.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(wrong_n.message()), HasSubstr("int64[4]"));
  EXPECT_FALSE(Dataset::Make(x, Tensor::Zeros(DType::kInt32, Shape({4}))).ok());
  EXPECT_FALSE(Dataset::Make(x, Tensor::Zeros(DType::kInt64, Shape({4, 1}))).ok());
  auto unlabeled = Dataset::Make(x);
  ASSERT_TRUE(unlabeled.ok());
  EXPECT_FALSE(unlabeled->has_labels());
  EXPECT_EQ(unlabeled->sample_dims(), (std::vector<int64_t>{2}));
}

TEST(DatasetTest, SliceIsAView) {
  const Dataset d = Make(5);
  const Batch b = d.Slice(1, 3);
  EXPECT_EQ(b.inputs.shape(), Shape({2, 2}));
  EXPECT_TRUE(b.inputs.SharesBufferWith(d.samples()));
  EXPECT_EQ(b.inputs.data<float>()[0], 10.0f);
  EXPECT_EQ(b.labels.data<int64_t>()[1], 2);
  EXPECT_EQ(b.indices, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(d.Slice(5, 5).size(), 0);
}

TEST(DatasetTest, GatherCopiesRowsAndChecksIndices) {
  const Dataset d = Make(5);
  const std::vector<int64_t> idx = {4, 0, 4};
  auto b = d.Gather(idx);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_FALSE(b->inputs.SharesBufferWith(d.samples()));
  EXPECT_EQ(std::vector<float>(b->inputs.span<float>().begin(), b->inputs.span<float>().end()),
            (std::vector<float>{40, 41, 0, 1, 40, 41}));
  EXPECT_EQ(b->labels.data<int64_t>()[0], 1);
  const std::vector<int64_t> bad = {0, 5};
  EXPECT_THAT(std::string(d.Gather(bad).status().message()), HasSubstr("index 5 at position 1"));
  const std::vector<int64_t> negative = {-1};
  EXPECT_FALSE(d.Gather(negative).ok());
}

TEST(DatasetTest, BatchesCoverTheDataWithAPartialLastBatch) {
  const Dataset d = Make(10);
  auto batcher = Batcher::Make(d, {.batch_size = 4});
  ASSERT_TRUE(batcher.ok());
  ASSERT_EQ(batcher->num_batches(), 3);
  EXPECT_EQ(batcher->GetBatch(0)->size(), 4);
  auto last = batcher->GetBatch(2);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->indices, (std::vector<int64_t>{8, 9}));
  EXPECT_EQ(last->inputs.shape(), Shape({2, 2}));

  auto dropping = Batcher::Make(d, {.batch_size = 4, .drop_last = true});
  EXPECT_EQ(dropping->num_batches(), 2);
  EXPECT_EQ(Batcher::Make(d, {.batch_size = 5, .drop_last = true})->num_batches(), 2);
  EXPECT_EQ(Batcher::Make(d, {.batch_size = 11, .drop_last = true})->num_batches(), 0);
  EXPECT_EQ(Batcher::Make(d, {.batch_size = 11})->num_batches(), 1);
  EXPECT_EQ(Batcher::Make(d, {.batch_size = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Batcher::Make(Make(0), {.batch_size = 3})->num_batches(), 0);
}

TEST(DatasetTest, ShuffledEpochsAreSeededAndDeterministic) {
  const Dataset d = Make(10);
  const BatchOptions opts{.batch_size = 3, .shuffle = true, .seed = 42};
  auto a = Batcher::Make(d, opts);
  auto b = Batcher::Make(d, opts);
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<int64_t> order0;
  std::set<int64_t> seen;
  for (int64_t i = 0; i < a->num_batches(); ++i) {
    auto ba = a->GetBatch(i);
    auto bb = b->GetBatch(i);
    ASSERT_TRUE(ba.ok() && bb.ok());
    EXPECT_EQ(ba->indices, bb->indices);
    for (size_t r = 0; r < ba->indices.size(); ++r) {
      const int64_t row = ba->indices[r];
      EXPECT_EQ(ba->inputs.data<float>()[2 * r], 10.0f * static_cast<float>(row));
      EXPECT_EQ(ba->labels.data<int64_t>()[r], row % 3);
      order0.push_back(row);
      seen.insert(row);
    }
  }
  EXPECT_EQ(seen.size(), 10u);
  EXPECT_EQ(order0, ShuffledIndices(10, DeriveSeed(42, 0)));
  a->StartEpoch(1);
  std::vector<int64_t> order1;
  for (int64_t i = 0; i < a->num_batches(); ++i) {
    auto batch = a->GetBatch(i);
    ASSERT_TRUE(batch.ok());
    order1.insert(order1.end(), batch->indices.begin(), batch->indices.end());
  }
  EXPECT_NE(order0, order1);
  EXPECT_EQ(order1, ShuffledIndices(10, DeriveSeed(42, 1)));
}

TEST(DatasetTest, ReshapeTakeAndConvert) {
  const Tensor u8 = Tensor::FromVector<uint8_t>(Shape({2, 2, 2}), {0, 1, 2, 3, 128, 200, 254, 255});
  auto d = Dataset::Make(u8);
  ASSERT_TRUE(d.ok());
  auto nchw = d->WithSampleShape({1, 2, 2});
  ASSERT_TRUE(nchw.ok());
  EXPECT_EQ(nchw->samples().shape(), Shape({2, 1, 2, 2}));
  EXPECT_FALSE(d->WithSampleShape({3}).ok());
  auto f = nchw->ToFloat32(255.0f);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->samples().dtype(), DType::kFloat32);
  EXPECT_EQ(f->samples().data<float>()[7], 1.0f);
  EXPECT_EQ(f->samples().data<float>()[4], 128.0f / 255.0f);
  auto one = f->Take(1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->size(), 1);
  EXPECT_EQ(f->Take(99)->size(), 2);
  EXPECT_FALSE(f->Take(-1).ok());
  EXPECT_FALSE(d->ToFloat32(0.0f).ok());
}

TEST(DatasetTest, ConvertsLabels) {
  auto widened = ConvertLabelsToInt64(Tensor::FromVector<uint8_t>(Shape({2}), {9, 200}), "y");
  ASSERT_TRUE(widened.ok());
  EXPECT_EQ(widened->data<int64_t>()[1], 200);
  EXPECT_EQ(
      ConvertLabelsToInt64(Tensor::FromVector<int32_t>(Shape({1}), {-3}), "y")->data<int64_t>()[0],
      -3);
  const absl::Status s =
      ConvertLabelsToInt64(Tensor::FromVector<float>(Shape({1}), {1}), "labels.npy").status();
  EXPECT_THAT(std::string(s.message()), HasSubstr("labels.npy: labels must be integers"));
  EXPECT_EQ(ConvertToFloat32(Tensor::FromVector<int64_t>(Shape({1}), {-7}))->data<float>()[0],
            -7.0f);
  EXPECT_EQ(ConvertToFloat32(Tensor::FromVector<bool>(Shape({1}), {true}))->data<float>()[0], 1.0f);
}

TEST(DatasetTest, LoadsNpyPairsAndChecksCounts) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create().ok());
  const std::string x = dir.path() + "/x.npy", y = dir.path() + "/y.npy",
                    y_short = dir.path() + "/y_short.npy", y_float = dir.path() + "/y_f.npy";
  ASSERT_TRUE(WriteNpy(x, Tensor::FromVector<double>(Shape({3, 1}), {0.5, 1.5, 2.5})).ok());
  ASSERT_TRUE(WriteNpy(y, Tensor::FromVector<int32_t>(Shape({3}), {2, 1, 0})).ok());
  ASSERT_TRUE(WriteNpy(y_short, Tensor::FromVector<int64_t>(Shape({2}), {2, 1})).ok());
  ASSERT_TRUE(WriteNpy(y_float, Tensor::FromVector<float>(Shape({3}), {2, 1, 0})).ok());
  auto d = LoadNpyDataset(x, y);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->samples().dtype(), DType::kFloat32);  // float64 converted
  EXPECT_EQ(d->labels().data<int64_t>()[0], 2);
  EXPECT_EQ(LoadNpyDataset(x, y, {.limit = 2})->size(), 2);
  EXPECT_TRUE(LoadNpyDataset(x, "").ok());
  const absl::Status mismatch = LoadNpyDataset(x, y_short).status();
  EXPECT_THAT(std::string(mismatch.message()), HasSubstr("has 2 labels but"));
  EXPECT_THAT(std::string(mismatch.message()), HasSubstr("x.npy has 3 samples"));
  EXPECT_THAT(std::string(LoadNpyDataset(x, y_float).status().message()),
              HasSubstr("labels must be integers"));
  EXPECT_EQ(LoadNpyDataset(dir.path() + "/none.npy", "").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace mp::data
