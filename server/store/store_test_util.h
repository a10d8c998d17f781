// Test helpers for mp::store tests: a store in a fresh temp dir with a FakeClock.
#ifndef MP_SERVER_STORE_STORE_TEST_UTIL_H_
#define MP_SERVER_STORE_STORE_TEST_UTIL_H_

#include <memory>
#include <string>

#include "common/clock.h"
#include "common/file_util.h"
#include "gtest/gtest.h"
#include "server/store/store.h"

namespace mp::store {

class StoreTestBase : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.Create("store-").ok());
    Reopen();
  }
  void Reopen() {
    store_.reset();
    auto store = Store::Open(Options());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  StoreOptions Options() {
    return StoreOptions{.data_dir = dir_.path() + "/data", .clock = &clock_};
  }

  static ModelRecord Model(const std::string& tenant, const std::string& id, int64_t created,
                           int64_t size = 100) {
    ModelRecord r;
    r.tenant = tenant;
    r.model.set_id(id);
    r.model.set_name(id + ".onnx");
    r.model.mutable_blob()->set_sha256(std::string(64, 'a'));
    r.model.mutable_blob()->set_size_bytes(size);
    r.model.set_created_unix_ms(created);
    return r;
  }

  ScopedTempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
};

}  // namespace mp::store

#endif  // MP_SERVER_STORE_STORE_TEST_UTIL_H_
