// The export's JSON field list (docs/export.schema.json) derived from the protobuf descriptors
// as the proto3 JSON mapping prints them, and a checker of the subset of JSON Schema that list
// uses: $ref into $defs, type, properties, additionalProperties: false, items, enum,
// minProperties / maxProperties (pattern and format are not checked). Header-only, for tests.
#pragma once

#include <set>
#include <string>

#include "google/protobuf/descriptor.h"
#include "nlohmann/json.hpp"

namespace assent::testing {

// The schema of `root` (and every message it reaches) in the proto3 JSON mapping with
// lowerCamelCase names: 64-bit integers and bytes are strings, enums their names, Timestamps
// RFC 3339 strings; a message that is one oneof has exactly one property.
inline nlohmann::json ProtoJsonSchema(const google::protobuf::Descriptor* root) {
  using google::protobuf::Descriptor;
  using google::protobuf::FieldDescriptor;
  nlohmann::json defs = nlohmann::json::object();
  std::set<std::string> pending_done;
  std::function<nlohmann::json(const Descriptor*)> ref;
  auto field_schema = [&](const FieldDescriptor* f) -> nlohmann::json {
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING:
        if (f->type() == FieldDescriptor::TYPE_BYTES) {
          return {{"type", "string"}, {"contentEncoding", "base64"}};
        }
        return {{"type", "string"}};
      case FieldDescriptor::CPPTYPE_BOOL:
        return {{"type", "boolean"}};
      case FieldDescriptor::CPPTYPE_INT32:
      case FieldDescriptor::CPPTYPE_UINT32:
        return {{"type", "integer"}};
      case FieldDescriptor::CPPTYPE_INT64:
      case FieldDescriptor::CPPTYPE_UINT64:
        return {{"type", "string"}, {"pattern", "^-?[0-9]+$"}};
      case FieldDescriptor::CPPTYPE_FLOAT:
      case FieldDescriptor::CPPTYPE_DOUBLE:
        return {{"type", "number"}};
      case FieldDescriptor::CPPTYPE_ENUM: {
        nlohmann::json names = nlohmann::json::array();
        for (int i = 0; i < f->enum_type()->value_count(); ++i) {
          names.push_back(f->enum_type()->value(i)->name());
        }
        return {{"type", "string"}, {"enum", names}};
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        return ref(f->message_type());
    }
    return {};
  };
  ref = [&](const Descriptor* d) -> nlohmann::json {
    if (d->full_name() == "google.protobuf.Timestamp") {
      return {{"type", "string"}, {"format", "date-time"}};
    }
    if (d->full_name() == "google.protobuf.Duration") {
      return {{"type", "string"}, {"pattern", "^-?[0-9]+(\\.[0-9]+)?s$"}};
    }
    const std::string name = d->full_name();
    if (pending_done.insert(name).second) {
      nlohmann::json properties = nlohmann::json::object();
      for (int i = 0; i < d->field_count(); ++i) {
        const FieldDescriptor* f = d->field(i);
        nlohmann::json schema;
        if (f->is_map()) {
          schema = {{"type", "object"},
                    {"additionalProperties", field_schema(f->message_type()->map_value())}};
        } else if (f->is_repeated()) {
          schema = {{"type", "array"}, {"items", field_schema(f)}};
        } else {
          schema = field_schema(f);
        }
        properties[f->json_name()] = schema;
      }
      nlohmann::json message = {
          {"type", "object"}, {"additionalProperties", false}, {"properties", properties}};
      if (d->oneof_decl_count() == 1 && d->oneof_decl(0)->field_count() == d->field_count()) {
        message["minProperties"] = 1;
        message["maxProperties"] = 1;
      }
      defs[name] = message;
    }
    return {{"$ref", "#/$defs/" + name}};
  };
  nlohmann::json top = ref(root);
  return {{"$schema", "https://json-schema.org/draft/2020-12/schema"},
          {"$id", "https://assent.example/schemas/export.schema.json"},
          {"title", "Assent subject export: one ExportChunk per line (JSON Lines)"},
          {"$ref", top["$ref"]},
          {"$defs", defs}};
}

// Checks `value` against `schema` (resolving $ref in `root`); the first violation as
// "<json path>: <why>", or "" when it conforms.
inline std::string CheckJsonSchema(const nlohmann::json& root, const nlohmann::json& schema,
                                   const nlohmann::json& value, const std::string& path = "$") {
  if (schema.contains("$ref")) {
    const std::string ref = schema["$ref"];
    const std::string prefix = "#/$defs/";
    if (ref.rfind(prefix, 0) != 0 || !root["$defs"].contains(ref.substr(prefix.size()))) {
      return path + ": unresolvable $ref " + ref;
    }
    return CheckJsonSchema(root, root["$defs"][ref.substr(prefix.size())], value, path);
  }
  if (schema.contains("type")) {
    const std::string type = schema["type"];
    const bool ok =
        (type == "object" && value.is_object()) || (type == "array" && value.is_array()) ||
        (type == "string" && value.is_string()) ||
        (type == "integer" && value.is_number_integer()) ||
        (type == "number" && value.is_number()) || (type == "boolean" && value.is_boolean());
    if (!ok) return path + ": is not of type " + type + ": " + value.dump();
  }
  if (schema.contains("enum")) {
    bool found = false;
    for (const auto& e : schema["enum"]) found = found || e == value;
    if (!found) return path + ": " + value.dump() + " is not one of the enum's values";
  }
  if (value.is_object()) {
    if (schema.contains("minProperties") && value.size() < schema["minProperties"].get<size_t>()) {
      return path + ": has fewer properties than " + schema["minProperties"].dump();
    }
    if (schema.contains("maxProperties") && value.size() > schema["maxProperties"].get<size_t>()) {
      return path + ": has more properties than " + schema["maxProperties"].dump();
    }
    const nlohmann::json properties = schema.value("properties", nlohmann::json::object());
    for (const auto& [key, member] : value.items()) {
      const std::string member_path = path + "." + key;
      if (properties.contains(key)) {
        std::string why = CheckJsonSchema(root, properties[key], member, member_path);
        if (!why.empty()) return why;
      } else if (schema.contains("additionalProperties")) {
        const nlohmann::json& extra = schema["additionalProperties"];
        if (extra.is_boolean() && !extra.get<bool>()) {
          return member_path + ": is not in the documented field list";
        }
        if (extra.is_object()) {
          std::string why = CheckJsonSchema(root, extra, member, member_path);
          if (!why.empty()) return why;
        }
      }
    }
  }
  if (value.is_array() && schema.contains("items")) {
    for (size_t i = 0; i < value.size(); ++i) {
      std::string why =
          CheckJsonSchema(root, schema["items"], value[i], path + "[" + std::to_string(i) + "]");
      if (!why.empty()) return why;
    }
  }
  return "";
}

}  // namespace assent::testing
