// ReadJobSpec: a JobSpec from a file, in proto JSON (.json, or anything not .yaml/.yml) or
// YAML (converted to JSON first: quoted scalars stay strings, true/false become booleans,
// numbers become numbers). Both go through google::protobuf::util::JsonStringToMessage, so
// field names are the proto JSON ones (modelId or model_id) and enums their names
// ("JOB_KIND_PTQ").
#include <filesystem>

#include "absl/strings/ascii.h"
#include "client/commands.h"
#include "common/file_util.h"
#include "common/status.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"

#ifdef MP_HAVE_YAML_CPP
#include <yaml-cpp/yaml.h>
#endif

namespace mp::client {

namespace v1 = ::modelpress::v1;

namespace {

#ifdef MP_HAVE_YAML_CPP
nlohmann::json YamlToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& kv : node) out[kv.first.as<std::string>()] = YamlToJson(kv.second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& item : node) out.push_back(YamlToJson(item));
      return out;
    }
    case YAML::NodeType::Scalar: {
      const std::string text = node.Scalar();
      if (node.Tag() == "!") return text;  // quoted
      if (text == "true" || text == "false") return text == "true";
      const auto parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (parsed.is_number()) return parsed;
      return text;
    }
    default:
      return nullptr;
  }
}
#endif

absl::StatusOr<std::string> ToJson(const std::string& path, const std::string& text) {
  const std::string ext = absl::AsciiStrToLower(std::filesystem::path(path).extension().string());
  if (ext != ".yaml" && ext != ".yml") return text;
#ifdef MP_HAVE_YAML_CPP
  try {
    return YamlToJson(YAML::Load(text)).dump();
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(mp::StrCat("spec file '", path, "': ", e.what()));
  }
#else
  return absl::UnimplementedError(
      mp::StrCat("spec file '", path,
                 "': YAML is not supported by this build (no yaml-cpp); "
                 "use proto JSON"));
#endif
}

}  // namespace

absl::StatusOr<v1::JobSpec> ReadJobSpec(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path, 1 << 20);
  if (!text.ok()) {
    if (text.status().code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError(mp::StrCat("spec file '", path, "': no such file"));
    }
    return mp::Annotate(text.status(), mp::StrCat("spec file '", path, "'"));
  }
  ASSIGN_OR_RETURN(std::string json, ToJson(path, *text));
  v1::JobSpec spec;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &spec);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        mp::StrCat("spec file '", path, "': ", std::string(status.message())));
  }
  if (spec.kind() == v1::JOB_KIND_UNSPECIFIED) {
    return absl::InvalidArgumentError(mp::StrCat("spec file '", path, "': kind is not set"));
  }
  return spec;
}

}  // namespace mp::client
