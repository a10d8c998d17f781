// Session behaviour on small hand-built graphs: folding, shape inference per signature,
// memory reuse, thread-count bit-identity, observers, and error messages.
#include "workers/engine/exec/session.h"

#include <cstring>
#include <random>

#include "gmock/gmock.h"
#include "workers/engine/exec/exec_test_util.h"

namespace mp::exec {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::I64;
using testing::Iota;
using testing::ModelBuilder;
using testing::Values;

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

// x[N, 3, 4] -> Reshape(x, Concat(Gather(Shape(x), 0), [12])) -> y[N, 12]: the shape chain
// exporters write for Flatten.
ir::Model FlattenChain() {
  return ModelBuilder(13)
      .Input("x", DType::kFloat32, {-1, 3, 4})
      .Const("zero", Tensor::FromVector<int64_t>(Shape(), {0}))
      .Const("twelve", I64({12}))
      .Const("axes", I64({0}))
      .Node("Shape", {"x"}, {"s"})
      .Node("Gather", {"s", "zero"}, {"n"})
      .Node("Unsqueeze", {"n", "axes"}, {"n1"})
      .Node("Concat", {"n1", "twelve"}, {"shape"}, {ir::Attribute("axis", int64_t{0})})
      .Node("Reshape", {"x", "shape"}, {"y"})
      .Output("y")
      .Build();
}

TEST(Session, ShapeChainFoldsPerSignature) {
  auto session = Session::Create(FlattenChain());
  ASSERT_TRUE(session.ok()) << session.status();
  Session& s = **session;
  ASSERT_EQ(s.inputs().size(), 1u);
  EXPECT_EQ(s.inputs()[0].shape.ToString(), "[N, 3, 4]");
  for (int64_t n : {2, 5}) {
    auto stats = s.GetPlanStats({Shape({n, 3, 4})});
    ASSERT_TRUE(stats.ok()) << stats.status();
    EXPECT_EQ(stats->num_steps, 1);         // only the Reshape runs
    EXPECT_EQ(stats->num_folded_nodes, 4);  // Shape, Gather, Unsqueeze, Concat
    auto types = s.InferTypes({Shape({n, 3, 4})});
    ASSERT_TRUE(types.ok()) << types.status();
    bool found = false;
    for (const ValueType& t : *types) {
      if (t.name != "y") continue;
      found = true;
      EXPECT_EQ(t.dtype, DType::kFloat32);
      EXPECT_EQ(t.shape, Shape({n, 12}));
    }
    EXPECT_TRUE(found);
    auto out = s.Run({{"x", Iota<float>({n, 3, 4})}});
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ(out->size(), 1u);
    EXPECT_EQ((*out)[0].first, "y");
    EXPECT_EQ((*out)[0].second.shape(), Shape({n, 12}));
    EXPECT_EQ(Values<float>((*out)[0].second), Values<float>(Iota<float>({n * 12})));
  }
}

TEST(Session, CreateFoldsConstantSubgraphs) {
  ir::Model model =
      ModelBuilder(13)
          .Input("x", DType::kFloat32, {2, 3})
          .Const("c", Iota<int64_t>({3}))
          .Node("Cast", {"c"}, {"cf"}, {ir::Attribute("to", static_cast<int64_t>(DType::kFloat32))})
          .Const("axes", I64({0}))
          .Node("Unsqueeze", {"cf", "axes"}, {"cu"})
          .Node("Concat", {"x", "cu"}, {"y"}, {ir::Attribute("axis", int64_t{0})})
          .Output("y")
          .Build();
  auto session = Session::Create(std::move(model));
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ((*session)->model().graph.num_nodes(), 1);  // only Concat is left
  auto out = (*session)->Run({{"x", Iota<float>({2, 3}, 10)}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(Values<float>((*out)[0].second), ElementsAre(10, 11, 12, 13, 14, 15, 0, 1, 2));
}

// x -> Transpose -> Transpose -> ... (8 steps) -> y. Intermediates: 7 x 64 KiB.
ir::Model TransposeChain(int steps) {
  ModelBuilder b(13);
  b.Input("x", DType::kFloat32, {128, 128});
  std::string prev = "x";
  for (int k = 0; k < steps; ++k) {
    std::string next = k + 1 == steps ? "y" : "t" + std::to_string(k);
    b.Node("Transpose", {prev}, {next});
    prev = next;
  }
  return b.Output("y").Build();
}

TEST(Session, MemoryPlanReusesBuffersOnAChain) {
  auto session = Session::Create(TransposeChain(8));
  ASSERT_TRUE(session.ok()) << session.status();
  auto stats = (*session)->GetPlanStats({Shape({128, 128})});
  ASSERT_TRUE(stats.ok()) << stats.status();
  const int64_t tensor_bytes = 128 * 128 * 4;
  EXPECT_EQ(stats->num_steps, 8);
  EXPECT_EQ(stats->intermediate_bytes, 7 * tensor_bytes);
  EXPECT_EQ(stats->arena_bytes, 2 * tensor_bytes);
  auto x = Iota<float>({128, 128});
  auto out = (*session)->Run({{"x", x}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(Values<float>((*out)[0].second), Values<float>(x));  // even number of transposes
  // Outputs belong to the caller: a second run does not overwrite the first result.
  auto out2 = (*session)->Run({{"x", Iota<float>({128, 128}, 1)}});
  ASSERT_TRUE(out2.ok());
  EXPECT_EQ(Values<float>((*out)[0].second), Values<float>(x));
}

// A mixed graph (structural + compute ops) over random data; outputs must be byte-equal
// for any thread count.
ir::Model MixedGraph() {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist;
  std::vector<float> w(64 * 48);
  for (float& v : w) v = dist(rng);
  return ModelBuilder(13)
      .Input("x", DType::kFloat32, {-1, 8, 8})
      .Const("w", Tensor::FromVector<float>(Shape({64, 48}), w))
      .Const("shape", I64({0, 64}))
      .Const("idx", Tensor::FromVector<int64_t>(Shape({3}), {2, -1, 0}))
      .Node("Reshape", {"x", "shape"}, {"r"})
      .Node("MatMul", {"r", "w"}, {"m"})
      .Node("Relu", {"m"}, {"a"})
      .Node("Transpose", {"a"}, {"t"})
      .Node("Gather", {"t", "idx"}, {"g"}, {ir::Attribute("axis", int64_t{1})})
      .Node("Concat", {"t", "g"}, {"y"}, {ir::Attribute("axis", int64_t{1})})
      .Output("y")
      .Build();
}

TEST(Session, BitIdenticalAcrossThreadCounts) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> xv(37 * 64);
  for (float& v : xv) v = dist(rng);
  const Tensor x = Tensor::FromVector<float>(Shape({37, 8, 8}), xv);
  std::vector<std::string> bytes;
  for (int threads : {1, 2, 3, 4}) {
    auto session = Session::Create(MixedGraph(), {.num_threads = threads});
    ASSERT_TRUE(session.ok()) << session.status();
    auto out = (*session)->Run({{"x", x}});
    ASSERT_TRUE(out.ok()) << out.status();
    const Tensor& y = (*out)[0].second;
    ASSERT_EQ(y.shape(), Shape({48, 40}));
    bytes.emplace_back(static_cast<const char*>(y.raw_data()), y.byte_size());
  }
  for (size_t k = 1; k < bytes.size(); ++k) EXPECT_TRUE(bytes[k] == bytes[0]) << k;
}

TEST(Session, ObserverExtraOutputsAndTimings) {
  auto session = Session::Create(TransposeChain(3));
  ASSERT_TRUE(session.ok()) << session.status();
  std::vector<std::string> seen;
  std::vector<NodeTiming> timings;
  RunOptions options{.extra_outputs = {"t0", "x"},
                     .observer =
                         [&](std::string_view name, const Tensor& t) {
                           seen.emplace_back(name);
                           EXPECT_EQ(t.shape(), Shape({128, 128}));
                           return absl::OkStatus();
                         },
                     .timings = &timings};
  auto x = Iota<float>({128, 128});
  auto out = (*session)->Run({{"x", x}}, options);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(seen, ElementsAre("t0", "t1", "y"));
  ASSERT_EQ(timings.size(), 3u);
  EXPECT_EQ(timings[0].op_type, "Transpose");
  ASSERT_EQ(out->size(), 3u);
  EXPECT_EQ((*out)[1].first, "t0");
  // t0 = x^T, kept although its arena bytes were reused by t1's successor.
  EXPECT_EQ(Values<float>((*out)[1].second)[1], 128.0f);
  EXPECT_EQ((*out)[2].first, "x");
  // An observer error aborts the run.
  options.observer = [](std::string_view, const Tensor&) { return absl::CancelledError("stop"); };
  EXPECT_EQ((*session)->Run({{"x", x}}, options).status().code(), absl::StatusCode::kCancelled);
  options = {.extra_outputs = {"nope"}};
  EXPECT_THAT(Msg((*session)->Run({{"x", x}}, options).status()), HasSubstr("'nope'"));
}

TEST(Session, ShapeFedAsDataIsPlannedByValue) {
  ir::Model model = ModelBuilder(13)
                        .Input("x", DType::kFloat32, {2, 6})
                        .Input("shape", DType::kInt64, {2})
                        .Node("Reshape", {"x", "shape"}, {"y"})
                        .Output("y")
                        .Build();
  auto session = Session::Create(std::move(model));
  ASSERT_TRUE(session.ok()) << session.status();
  auto x = Iota<float>({2, 6});
  auto a = (*session)->Run({{"x", x}, {"shape", I64({3, 4})}});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ((*a)[0].second.shape(), Shape({3, 4}));
  auto b = (*session)->Run({{"x", x}, {"shape", I64({-1, 2})}});
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ((*b)[0].second.shape(), Shape({6, 2}));
  EXPECT_EQ(Values<float>((*b)[0].second), Values<float>(x));
  // Without values (type inference only) the dependency is reported clearly.
  auto types = (*session)->InferTypes({Shape({2, 6}), Shape({2})});
  EXPECT_THAT(Msg(types.status()), HasSubstr("input 1 ('shape'): must be known at plan time"));
}

TEST(SessionErrors, UnknownOpAtCreate) {
  ir::Model model = ModelBuilder(13)
                        .Input("x", DType::kFloat32, {-1})
                        .Node("FooBar", {"x"}, {"y"}, {}, "weird")
                        .Output("y")
                        .Build();
  auto session = Session::Create(std::move(model));
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(Msg(session.status()), "node 'weird' (FooBar): op FooBar is not supported");
}

TEST(SessionErrors, OpsetOutOfRange) {
  ir::Model model = ModelBuilder(8)
                        .Input("x", DType::kFloat32, {-1})
                        .Const("s", Tensor::FromVector<float>(Shape(), {0.0f}))
                        .Node("Range", {"s", "s", "s"}, {"y"})
                        .Output("y")
                        .Build();
  auto session = Session::Create(std::move(model));
  EXPECT_EQ(session.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(Msg(session.status()), HasSubstr("not supported at opset 8 (supported: 11..)"));
}

TEST(SessionErrors, FeedsAreValidated) {
  auto session = Session::Create(FlattenChain());
  ASSERT_TRUE(session.ok()) << session.status();
  Session& s = **session;
  auto st = s.Run({{"x", Iota<float>({2, 4, 4})}}).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Msg(st), "input 'x': dim 1 is 4, expected 3 (declared [N, 3, 4])");
  st = s.Run({{"x", Iota<float>({2, 12})}}).status();
  EXPECT_THAT(Msg(st), HasSubstr("input 'x': has rank 2"));
  st = s.Run({{"x", Iota<int64_t>({2, 3, 4})}}).status();
  EXPECT_EQ(Msg(st), "input 'x': expected float32, got int64");
  st = s.Run({}).status();
  EXPECT_EQ(Msg(st), "missing input 'x'");
  st = s.Run({{"x", Iota<float>({1, 3, 4})}, {"z", Iota<float>({1})}}).status();
  EXPECT_EQ(Msg(st), "unknown input 'z'");
  st = s.Run({{"x", Iota<float>({1, 3, 4})}, {"x", Iota<float>({1, 3, 4})}}).status();
  EXPECT_EQ(Msg(st), "input 'x' is given twice");
}

TEST(SessionErrors, HugeConstantOfShapeFailsFast) {
  ir::Model model = ModelBuilder(13)
                        .Const("shape", I64({1000000, 1000000, 1000000}))
                        .Node("ConstantOfShape", {"shape"}, {"y"}, {}, "big")
                        .Output("y")
                        .Build();
  auto session = Session::Create(std::move(model));
  EXPECT_EQ(session.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(Msg(session.status()), HasSubstr("node 'big' (ConstantOfShape)"));
}

TEST(SessionErrors, ShapeErrorsAtCreateWhenInputsAreStatic) {
  ir::Model model = ModelBuilder(13)
                        .Input("x", DType::kFloat32, {2, 3})
                        .Const("shape", I64({5, -1}))
                        .Node("Reshape", {"x", "shape"}, {"y"}, {}, "rs")
                        .Output("y")
                        .Build();
  auto session = Session::Create(std::move(model));
  EXPECT_EQ(session.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Msg(session.status()), HasSubstr("node 'rs' (Reshape): input 1 ('shape')"));
}

TEST(SessionErrors, NoOpsetAndBadThreads) {
  ir::Model model = TransposeChain(1);
  model.opset_imports.clear();
  EXPECT_EQ(Session::Create(model).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Session::Create(TransposeChain(1), {.num_threads = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace mp::exec
