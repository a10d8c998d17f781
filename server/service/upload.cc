#include "server/service/upload.h"

#include "common/sha256.h"

namespace mp::service {

absl::Status ValidateDeclaration(std::string_view field, const UploadDeclaration& declared,
                                 int64_t max_upload_bytes) {
  if (!IsSha256Hex(declared.sha256)) {
    return absl::InvalidArgumentError(StrCat(field,
                                             ".sha256: must be 64 lowercase hex digits, got '",
                                             declared.sha256.substr(0, 80), "'"));
  }
  if (declared.size_bytes < 0) {
    return absl::InvalidArgumentError(
        StrCat(field, ".size_bytes: must be >= 0, got ", declared.size_bytes));
  }
  if (declared.size_bytes > max_upload_bytes) {
    return absl::ResourceExhaustedError(StrCat(field, ".size_bytes: ", declared.size_bytes,
                                               " bytes exceeds the upload limit of ",
                                               max_upload_bytes, " bytes"));
  }
  return absl::OkStatus();
}

}  // namespace mp::service
