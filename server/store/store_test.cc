// Store: opening, migrations, durability, connection discipline, models and datasets.
#include "server/store/store.h"

#include <sqlite3.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/str_cat.h"
#include "gtest/gtest.h"
#include "server/store/schema.h"
#include "server/store/store_test_util.h"

namespace mp::store {
namespace {

using StoreTest = StoreTestBase;

// A raw connection for poking at the database from "another process".
struct RawDb {
  explicit RawDb(const std::string& path) { sqlite3_open(path.c_str(), &db); }
  ~RawDb() { sqlite3_close(db); }
  int Exec(const std::string& sql) {
    return sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  }
  int64_t Int(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr);
    int64_t v = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
    sqlite3_finalize(stmt);
    return v;
  }
  sqlite3* db = nullptr;
};

TEST_F(StoreTest, MigratesFromEmptyAndReopens) {
  EXPECT_EQ(*store_->SchemaVersion(), static_cast<int>(internal::SchemaMigrations().size()));
  EXPECT_TRUE(store_->IntegrityCheck().ok());
  Reopen();
  EXPECT_EQ(*store_->SchemaVersion(), static_cast<int>(internal::SchemaMigrations().size()));
  RawDb raw(store_->db_path());
  EXPECT_EQ(raw.Int("PRAGMA user_version"), 1);
  sqlite3* db = raw.db;
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal");
  sqlite3_finalize(stmt);
}

TEST_F(StoreTest, RefusesNewerSchema) {
  {
    RawDb raw(store_->db_path());
    ASSERT_EQ(raw.Exec("PRAGMA user_version = 99"), SQLITE_OK);
  }
  store_.reset();
  auto store = Store::Open(Options());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(StoreTest, MigrateAppliesOnlyMissingStepsAndRollsBackAFailedOne) {
  RawDb raw(dir_.path() + "/m.db");
  const std::string_view v1[] = {"CREATE TABLE a (x INTEGER)"};
  ASSERT_TRUE(internal::Migrate(raw.db, v1).ok());
  const std::string_view v2[] = {"CREATE TABLE a (x INTEGER)", "CREATE TABLE b (y INTEGER)"};
  ASSERT_TRUE(internal::Migrate(raw.db, v2).ok());  // would fail if step 0 ran again
  EXPECT_EQ(raw.Int("PRAGMA user_version"), 2);
  const std::string_view bad[] = {v2[0], v2[1],
                                  "CREATE TABLE c (z INTEGER); CREATE TABLE c (w INTEGER)"};
  EXPECT_FALSE(internal::Migrate(raw.db, bad).ok());
  EXPECT_EQ(raw.Int("PRAGMA user_version"), 2);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM sqlite_master WHERE name = 'c'"), 0);
}

TEST_F(StoreTest, CommittedDataSurvivesReopenAndRolledBackDataDoesNot) {
  ASSERT_TRUE(store_->CreateModel(Model("t1", "model_0000000000000001", 5)).ok());
  {
    auto txn = store_->BeginWrite();
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(txn->InsertModel(Model("t1", "model_0000000000000002", 6)).ok());
  }  // destroyed without Commit: rolled back
  Reopen();
  EXPECT_TRUE(store_->GetModel("t1", "model_0000000000000001").ok());
  EXPECT_EQ(store_->GetModel("t1", "model_0000000000000002").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_->IntegrityCheck().ok());
}

TEST_F(StoreTest, ModelRoundTripAndTenantIsolation) {
  ModelRecord m = Model("t1", "model_00000000000000aa", 7, 1234);
  ASSERT_TRUE(store_->CreateModel(m).ok());
  EXPECT_EQ(store_->CreateModel(m).code(), absl::StatusCode::kAlreadyExists);
  auto got = store_->GetModel("t1", m.model.id());
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->tenant, "t1");
  EXPECT_EQ(got->model.SerializeAsString(), m.model.SerializeAsString());
  EXPECT_FALSE(got->model.has_inspection());
  EXPECT_EQ(store_->GetModel("t2", m.model.id()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->DeleteModel("t2", m.model.id()).code(), absl::StatusCode::kNotFound);

  v1::ModelInspection inspection;
  inspection.set_opset(17);
  (*inspection.mutable_op_counts())["Conv"] = 3;
  {
    auto txn = store_->BeginWrite();
    ASSERT_TRUE(txn.ok());
    EXPECT_EQ(txn->SetModelInspection("t2", m.model.id(), &inspection).code(),
              absl::StatusCode::kNotFound);
    ASSERT_TRUE(txn->SetModelInspection("t1", m.model.id(), &inspection).ok());
    ASSERT_TRUE(txn->SetModelInspectJob("t1", m.model.id(), "job_0000000000000001").ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  got = store_->GetModel("t1", m.model.id());
  EXPECT_EQ(got->model.inspection().opset(), 17);
  EXPECT_EQ(got->model.inspection().op_counts().at("Conv"), 3);
  EXPECT_EQ(got->model.inspect_job_id(), "job_0000000000000001");
  ASSERT_TRUE(store_->DeleteModel("t1", m.model.id()).ok());
  EXPECT_EQ(store_->GetModel("t1", m.model.id()).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, DatasetRoundTripAndUsage) {
  DatasetRecord d;
  d.tenant = "t1";
  d.dataset.set_id("data_0000000000000001");
  d.dataset.set_name("calib.npy");
  d.dataset.mutable_blob()->set_sha256(std::string(64, 'b'));
  d.dataset.mutable_blob()->set_size_bytes(500);
  d.dataset.set_created_unix_ms(9);
  d.dataset.set_format("npy");
  ASSERT_TRUE(store_->CreateDataset(d).ok());
  auto got = store_->GetDataset("t1", d.dataset.id());
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->dataset.SerializeAsString(), d.dataset.SerializeAsString());
  EXPECT_EQ(store_->GetDataset("t2", d.dataset.id()).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(store_->CreateModel(Model("t1", "model_0000000000000001", 1, 1000)).ok());
  ASSERT_TRUE(store_->CreateModel(Model("t2", "model_0000000000000002", 1, 77)).ok());
  auto usage = store_->GetTenantUsage("t1");
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ(usage->model_bytes, 1000);
  EXPECT_EQ(usage->dataset_bytes, 500);
  EXPECT_EQ(usage->total(), 1500);
  EXPECT_EQ(store_->GetTenantUsage("nobody")->total(), 0);
  ASSERT_TRUE(store_->DeleteDataset("t1", d.dataset.id()).ok());
  EXPECT_EQ(store_->GetTenantUsage("t1")->dataset_bytes, 0);
}

TEST_F(StoreTest, ModelPagingIsKeysetOrderedNewestFirst) {
  // 25 models; several share a created time so the id breaks ties.
  std::vector<std::string> ids;
  for (int i = 0; i < 25; ++i) {
    const std::string id = StrCat("model_00000000000000", i < 10 ? "0" : "", i);
    ids.push_back(id);
    ASSERT_TRUE(store_->CreateModel(Model("t1", id, 1000 + i / 4)).ok());
  }
  ASSERT_TRUE(store_->CreateModel(Model("t2", "model_00000000000000ff", 5000)).ok());
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    auto page = store_->ListModels("t1", 10, token);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& r : page->items) seen.push_back(r.model.id());
    token = page->next_page_token;
    ++pages;
  } while (!token.empty());
  EXPECT_EQ(pages, 3);
  std::vector<std::string> expected(ids.rbegin(), ids.rend());
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(store_->ListModels("t1", 10, "not a token").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->ListModels("t1", 0, "").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(StoreTest, BusyFromAnotherConnectionIsUnavailable) {
  store_.reset();
  StoreOptions options = Options();
  options.busy_timeout_ms = 20;
  auto store = Store::Open(options);
  ASSERT_TRUE(store.ok());
  RawDb other(options.data_dir + "/modelpress.db");
  ASSERT_EQ(other.Exec("BEGIN IMMEDIATE"), SQLITE_OK);
  auto txn = (*store)->BeginWrite();
  EXPECT_EQ(txn.status().code(), absl::StatusCode::kUnavailable);
  // Reads are not blocked by a writer in WAL mode.
  EXPECT_TRUE((*store)->ListModels("t1", 10, "").ok());
  ASSERT_EQ(other.Exec("COMMIT"), SQLITE_OK);
  EXPECT_TRUE((*store)->BeginWrite().ok());
}

TEST_F(StoreTest, ManyThreadsWriteAndReadConcurrently) {
  constexpr int kThreads = 8, kPerThread = 25;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = StrCat("model_", t, "00000000000", i < 10 ? "000" : "00", i);
        if (!store_->CreateModel(Model("t1", id, t * 100 + i)).ok()) ++failures[t];
        if (!store_->GetModel("t1", id).ok()) ++failures[t];
        if (!store_->ListModels("t1", 5, "").ok()) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
  std::set<std::string> all;
  std::string token;
  do {
    auto page = store_->ListModels("t1", 1000, token);
    ASSERT_TRUE(page.ok());
    for (const auto& r : page->items) all.insert(r.model.id());
    token = page->next_page_token;
  } while (!token.empty());
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_TRUE(store_->IntegrityCheck().ok());
}

}  // namespace
}  // namespace mp::store
