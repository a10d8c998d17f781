// Batch slices (batch_split.h): which graphs are sliced, how, and that a sliced Run gives
// the whole Run's outputs, bit-identical for any thread count.
#include "workers/engine/exec/batch_split.h"

#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

#include "gmock/gmock.h"
#include "workers/engine/exec/exec_test_util.h"
#include "workers/engine/exec/session.h"

namespace mp::exec {
namespace {

using ::testing::HasSubstr;
using testing::I64;
using ::testing::IsEmpty;
using testing::ModelBuilder;
using testing::Values;

std::vector<int64_t> I64Vec(std::initializer_list<int64_t> v) { return v; }

Tensor Random(Shape shape, uint32_t seed) {
  Tensor t = Tensor::Zeros(DType::kFloat32, std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  float* p = t.mutable_data<float>();
  for (int64_t i = 0; i < t.num_elements(); ++i) p[i] = u(rng);
  return t;
}

std::unique_ptr<Session> Make(ir::Model model, int threads, bool split = true) {
  auto s = Session::Create(std::move(model), {.num_threads = threads, .split_batch = split});
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : nullptr;
}

// x[N, 4, 32, 32] -> Conv 3x3 (8) -> Relu -> + Conv 1x1 of x -> MaxPool 2x2 ->
// GlobalAveragePool -> Flatten -> Gemm (10) -> Softmax(axis 1) -> y[N, 10]; also z, the
// pooled features reshaped by the exporters' Shape chain to [N, 8].
ir::Model ConvNet() {
  return ModelBuilder(13)
      .Input("x", DType::kFloat32, {-1, 4, 32, 32})
      .Const("w", Random(Shape({8, 4, 3, 3}), 1))
      .Const("b", Random(Shape({8}), 2))
      .Const("w1", Random(Shape({8, 4, 1, 1}), 3))
      .Const("fc", Random(Shape({10, 8}), 4))
      .Const("fcb", Random(Shape({10}), 5))
      .Const("zero", Tensor::FromVector<int64_t>(Shape(), {0}))
      .Const("minus1", I64({-1}))
      .Const("axes", I64({0}))
      .Node("Conv", {"x", "w", "b"}, {"c"},
            {ir::Attribute("pads", std::vector<int64_t>{1, 1, 1, 1})})
      .Node("Relu", {"c"}, {"r"})
      .Node("Conv", {"x", "w1"}, {"s"})
      .Node("Add", {"r", "s"}, {"a"})
      .Node("MaxPool", {"a"}, {"m"},
            {ir::Attribute("kernel_shape", std::vector<int64_t>{2, 2}),
             ir::Attribute("strides", std::vector<int64_t>{2, 2})})
      .Node("GlobalAveragePool", {"m"}, {"g"})
      .Node("Flatten", {"g"}, {"f"})
      .Node("Gemm", {"f", "fc", "fcb"}, {"logits"}, {ir::Attribute("transB", int64_t{1})})
      .Node("Softmax", {"logits"}, {"y"}, {ir::Attribute("axis", int64_t{1})})
      .Node("Shape", {"g"}, {"gs"})
      .Node("Gather", {"gs", "zero"}, {"n"})
      .Node("Unsqueeze", {"n", "axes"}, {"n1"})
      .Node("Concat", {"n1", "minus1"}, {"zshape"}, {ir::Attribute("axis", int64_t{0})})
      .Node("Reshape", {"g", "zshape"}, {"z"})
      .Output("y")
      .Output("z")
      .Build();
}

void ExpectNear(const Tensor& got, const Tensor& want) {
  ASSERT_EQ(got.shape(), want.shape());
  const std::vector<float> g = Values<float>(got), w = Values<float>(want);
  for (size_t i = 0; i < g.size(); ++i) {
    ASSERT_NEAR(g[i], w[i], 1e-5f * (1.0f + std::fabs(w[i]))) << "element " << i;
  }
}

TEST(BatchSplit, SliceSizesAreBalancedAndEvenlyShared) {
  using internal::SliceSizes;
  EXPECT_EQ(SliceSizes(256, 32), std::vector<int64_t>(8, 32));
  const std::vector<int64_t> ten = SliceSizes(256, 26);  // 10 slices -> 12
  ASSERT_EQ(ten.size(), 12u);
  EXPECT_EQ(std::accumulate(ten.begin(), ten.end(), int64_t{0}), 256);
  EXPECT_EQ(ten.front(), 22);
  EXPECT_EQ(ten.back(), 21);
  EXPECT_EQ(SliceSizes(10, 9), (std::vector<int64_t>{3, 3, 2, 2}));
  EXPECT_EQ(SliceSizes(3, 1), (std::vector<int64_t>{1, 1, 1}));
  EXPECT_EQ(SliceSizes(7, 7), (std::vector<int64_t>{7}));
}

TEST(BatchSplit, ConvNetIsSlicedAndMatchesTheWholeRun) {
  for (int64_t n : {512, 509}) {
    const Tensor x = Random(Shape({n, 4, 32, 32}), 7);
    auto whole = Make(ConvNet(), 1, /*split=*/false);
    ASSERT_NE(whole, nullptr);
    auto want = whole->Run({{"x", x}});
    ASSERT_TRUE(want.ok()) << want.status();
    std::vector<std::vector<float>> first;
    for (int threads : {1, 2, 3}) {
      auto s = Make(ConvNet(), threads);
      ASSERT_NE(s, nullptr);
      auto slicing = s->GetBatchSlicing({x.shape()});
      ASSERT_TRUE(slicing.ok()) << slicing.status();
      ASSERT_GT(slicing->rows.size(), 1u) << slicing->whole_reason;
      EXPECT_EQ(slicing->rows.size() % internal::kSliceMultiple, 0u);
      EXPECT_EQ(std::accumulate(slicing->rows.begin(), slicing->rows.end(), int64_t{0}), n);
      EXPECT_LE(slicing->rows.front() - slicing->rows.back(), 1);
      auto got = s->Run({{"x", x}});
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_EQ(got->size(), 2u);
      EXPECT_EQ((*got)[0].first, "y");
      EXPECT_EQ((*got)[1].first, "z");
      EXPECT_EQ((*got)[1].second.shape(), Shape({n, 8}));
      for (size_t o = 0; o < 2; ++o) ExpectNear((*got)[o].second, (*want)[o].second);
      std::vector<float> bits = Values<float>((*got)[0].second);
      const std::vector<float> z = Values<float>((*got)[1].second);
      bits.insert(bits.end(), z.begin(), z.end());
      if (first.empty()) {
        first.push_back(bits);
      } else {
        EXPECT_EQ(std::memcmp(bits.data(), first[0].data(), bits.size() * 4), 0)
            << threads << " threads differ from 1";
      }
      auto again = s->Run({{"x", x}});  // reuses the slice arenas
      ASSERT_TRUE(again.ok()) << again.status();
      EXPECT_EQ(Values<float>((*again)[0].second), Values<float>((*got)[0].second));
    }
  }
}

TEST(BatchSplit, TwoBatchedInputsThroughMatMul) {
  auto model = ModelBuilder(13)
                   .Input("a", DType::kFloat32, {-1, 64, 64})
                   .Input("b", DType::kFloat32, {-1, 64, 64})
                   .Const("w", Random(Shape({64, 64}), 9))
                   .Node("MatMul", {"a", "w"}, {"aw"})
                   .Node("MatMul", {"aw", "b"}, {"ab"})
                   .Node("Sub", {"ab", "a"}, {"y"})
                   .Output("y")
                   .Build();
  const Tensor a = Random(Shape({300, 64, 64}), 10), b = Random(Shape({300, 64, 64}), 11);
  auto whole = Make(model, 1, false);
  auto s = Make(model, 2);
  ASSERT_TRUE(whole && s);
  auto slicing = s->GetBatchSlicing({a.shape(), b.shape()});
  ASSERT_TRUE(slicing.ok()) << slicing.status();
  EXPECT_GT(slicing->rows.size(), 1u) << slicing->whole_reason;
  auto want = whole->Run({{"a", a}, {"b", b}});
  auto got = s->Run({{"b", b}, {"a", a}});
  ASSERT_TRUE(want.ok() && got.ok());
  ExpectNear((*got)[0].second, (*want)[0].second);
}

// A one-node graph over x[8, 6, 5] (plus constants) that must run whole, and why.
struct Refusal {
  std::string name;
  ir::Model model;
  std::string reason;
};

std::vector<Refusal> Refusals() {
  auto one = [](const std::string& op, std::vector<ir::Attribute> attrs,
                std::vector<std::pair<std::string, Tensor>> consts = {}) {
    ModelBuilder b(13);
    b.Input("x", DType::kFloat32, {-1, 6, 5});
    std::vector<std::string> ins = {"x"};
    for (auto& [name, t] : consts) {
      b.Const(name, t);
      ins.push_back(name);
    }
    return b.Node(op, ins, {"y"}, std::move(attrs)).Output("y").Build();
  };
  std::vector<Refusal> r;
  r.push_back({"softmax over the batch", one("Softmax", {ir::Attribute("axis", int64_t{0})}),
               "works across the batch (axis 0)"});
  r.push_back({"softmax default axis of rank 1",
               ModelBuilder(13)
                   .Input("x", DType::kFloat32, {-1})
                   .Node("Softmax", {"x"}, {"y"})
                   .Output("y")
                   .Build(),
               "works across the batch"});
  r.push_back({"reduce over the batch", one("ReduceMean", {ir::Attribute("axes", I64Vec({0}))}),
               "works across the batch"});
  r.push_back({"reduce over everything", one("ReduceMean", {}), "axes are not given"});
  r.push_back({"transpose moving the batch",
               one("Transpose", {ir::Attribute("perm", I64Vec({1, 0, 2}))}),
               "moves the batch axis"});
  r.push_back({"concat along the batch",
               ModelBuilder(13)
                   .Input("x", DType::kFloat32, {-1, 6, 5})
                   .Node("Concat", {"x", "x"}, {"y"}, {ir::Attribute("axis", int64_t{0})})
                   .Output("y")
                   .Build(),
               "works across the batch"});
  r.push_back({"gemm with transA",
               ModelBuilder(13)
                   .Input("x", DType::kFloat32, {-1, 6})
                   .Const("w", Random(Shape({8, 3}), 1))
                   .Node("Gemm", {"x", "w"}, {"y"}, {ir::Attribute("transA", int64_t{1})})
                   .Output("y")
                   .Build(),
               "transA"});
  r.push_back({"gemm with a C row per image",
               ModelBuilder(13)
                   .Input("x", DType::kFloat32, {-1, 6})
                   .Const("w", Random(Shape({6, 3}), 1))
                   .Const("c", Random(Shape({8, 3}), 2))
                   .Node("Gemm", {"x", "w", "c"}, {"y"})
                   .Output("y")
                   .Build(),
               "C has one row per batch row"});
  r.push_back({"dynamic quantization",
               ModelBuilder(13)
                   .Input("x", DType::kFloat32, {-1, 6, 5})
                   .Node("DynamicQuantizeLinear", {"x"}, {"q", "scale", "zp"})
                   .Output("q")
                   .Build(),
               "not known to keep images apart"});
  r.push_back({"gather of images", one("Gather", {}, {{"idx", I64({0, 1})}}),
               "works across the batch (axis 0)"});
  r.push_back({"batch size used as data",
               ModelBuilder(13)
                   .Input("x", DType::kFloat32, {-1, 6, 5})
                   .Node("Shape", {"x"}, {"s"})
                   .Node("Cast", {"s"}, {"sf"},
                         {ir::Attribute("to", static_cast<int64_t>(DType::kFloat32))})
                   .Node("ReduceMax", {"sf"}, {"n"}, {ir::Attribute("keepdims", int64_t{0})})
                   .Node("Mul", {"x", "n"}, {"y"})
                   .Output("y")
                   .Build(),
               "uses a value computed from the batch size"});
  r.push_back({"reshape folding the batch", one("Reshape", {}, {{"shape", I64({-1, 5})}}),
               "does not keep the batch on axis 0"});
  return r;
}

TEST(BatchSplit, GraphsThatMixImagesRunWhole) {
  for (Refusal& r : Refusals()) {
    SCOPED_TRACE(r.name);
    auto s = Make(std::move(r.model), 2);
    ASSERT_NE(s, nullptr);
    std::vector<Shape> shapes;
    for (const IoInfo& in : s->inputs()) {
      std::vector<int64_t> dims;
      for (const ir::Dim& d : in.shape.dims()) dims.push_back(d.known() ? d.size : 8);
      shapes.emplace_back(dims);
    }
    auto slicing = s->GetBatchSlicing(shapes);
    ASSERT_TRUE(slicing.ok()) << slicing.status();
    EXPECT_THAT(slicing->rows, IsEmpty());
    EXPECT_THAT(slicing->whole_reason, HasSubstr(r.reason));
  }
}

// A Reshape to a literal batch size passes the per-node rules (its output keeps N rows) but
// its plan for a slice would not: the slice plan check keeps the batch whole, and the Run
// stays right.
TEST(BatchSplit, ReshapeToALiteralBatchRunsWhole) {
  const int64_t n = 1024;
  auto model = ModelBuilder(13)
                   .Input("x", DType::kFloat32, {-1, 64, 64})
                   .Const("shape", I64({n, 4096}))
                   .Node("Reshape", {"x", "shape"}, {"r"})
                   .Node("Relu", {"r"}, {"y"})
                   .Output("y")
                   .Build();
  auto s = Make(model, 2);
  ASSERT_NE(s, nullptr);
  auto slicing = s->GetBatchSlicing({Shape({n, 64, 64})});
  ASSERT_TRUE(slicing.ok()) << slicing.status();
  EXPECT_THAT(slicing->rows, IsEmpty());
  EXPECT_THAT(slicing->whole_reason, HasSubstr("Reshape"));
  const Tensor x = Random(Shape({n, 64, 64}), 3);
  auto got = s->Run({{"x", x}});
  ASSERT_TRUE(got.ok()) << got.status();
  const std::vector<float> in = Values<float>(x), out = Values<float>((*got)[0].second);
  for (size_t i = 0; i < in.size(); i += 997) ASSERT_EQ(out[i], std::max(in[i], 0.0f));
}

TEST(BatchSplit, OneImageOrSmallBatchesRunWhole) {
  auto s = Make(ConvNet(), 2);
  ASSERT_NE(s, nullptr);
  auto one = s->GetBatchSlicing({Shape({1, 4, 32, 32})});
  ASSERT_TRUE(one.ok());
  EXPECT_THAT(one->rows, IsEmpty());
  EXPECT_THAT(one->whole_reason, HasSubstr("no batch of 2 or more"));
  auto small = s->GetBatchSlicing({Shape({16, 4, 32, 32})});
  ASSERT_TRUE(small.ok());
  EXPECT_THAT(small->rows, IsEmpty());
  EXPECT_THAT(small->whole_reason, HasSubstr("fits the slice size"));
  auto off = Make(ConvNet(), 2, false)->GetBatchSlicing({Shape({512, 4, 32, 32})});
  ASSERT_TRUE(off.ok());
  EXPECT_THAT(off->rows, IsEmpty());
}

}  // namespace
}  // namespace mp::exec
