// The files of one hostile-input case and the mutations that break them (cases.json's "mutate"
// lists; the README of the table is the comment at the top of hostile_table_test.cpp).
//
// Every case starts from valid files in a fresh folder: a model written by `pipeshard make-model`
// (model/), requests.jsonl, plan.json, cluster.json and profile.json that fit it, and an empty
// out/ folder that must still be empty afterwards. A mutation then breaks one of them. Safetensors
// files are rewritten here byte by byte (8-byte little-endian header length, JSON header, data),
// independently of the product's own reader and writer.
#pragma once

#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "support/test_support.h"

namespace ps::hostile {

namespace fs = std::filesystem;
using nlohmann::json;

// "{model}/config.json" -> "/tmp/.../model/config.json", for every {name} in `vars`. A {word}
// left over is a typo in the table (JSON text's braces never enclose a bare lowercase word).
inline std::string expand(std::string text, const std::map<std::string, std::string>& vars) {
  for (const auto& [name, value] : vars) {
    const std::string key = "{" + name + "}";
    for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + value.size()))
      text.replace(at, key.size(), value);
  }
  for (size_t open = text.find('{'); open != std::string::npos; open = text.find('{', open + 1)) {
    size_t end = open + 1;
    while (end < text.size() && (std::islower(static_cast<unsigned char>(text[end])) || text[end] == '_')) ++end;
    if (end > open + 1 && end < text.size() && text[end] == '}')
      throw std::runtime_error("unknown placeholder " + text.substr(open, end + 1 - open));
  }
  return text;
}

// Placeholders inside every string of a JSON value (numbers stay numbers).
inline json expand_json(const json& v, const std::map<std::string, std::string>& vars) {
  if (v.is_string()) return expand(v.get<std::string>(), vars);
  if (!v.is_structured()) return v;
  json out = v;
  for (auto& [k, x] : out.items()) x = expand_json(x, vars);
  return out;
}

// ---- safetensors, by hand -------------------------------------------------------------------

inline std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

struct Safetensors {
  json header;       // name -> {dtype, shape, data_offsets}, maybe "__metadata__"
  std::string data;  // the data section
};

inline Safetensors st_read(const std::string& path) {
  const std::string bytes = test::read_text(path);
  if (bytes.size() < 8) throw std::runtime_error(path + ": too short to be make-model's output");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t{static_cast<uint8_t>(bytes[static_cast<size_t>(i)])} << (8 * i);
  if (n > bytes.size() - 8) throw std::runtime_error(path + ": header length past the end of make-model's output");
  return {json::parse(bytes.substr(8, n)), bytes.substr(8 + n)};
}

// `header_text` as is, after `declared_len` as the length, whatever the text's real length.
inline void st_write_raw(const std::string& path, uint64_t declared_len, const std::string& header_text,
                         const std::string& data) {
  test::write_text(path, le64(declared_len) + header_text + data);
}

// A well-formed file around `f.header`, padded with spaces to keep the data 8-aligned as the
// format's writers do, so that only what the case changed is wrong.
inline void st_write(const std::string& path, const Safetensors& f) {
  std::string h = f.header.dump();
  while (h.size() % 8 != 0) h += ' ';
  st_write_raw(path, h.size(), h, f.data);
}

// The checkpoint's full name of `suffix` ("norm.weight" -> "model.norm.weight").
inline std::string st_tensor(const json& header, const std::string& suffix) {
  for (const auto& [name, v] : header.items())
    if (name == suffix || (name.size() > suffix.size() && name.ends_with("." + suffix))) return name;
  throw std::runtime_error("make-model wrote no tensor named like '" + suffix + "'");
}

// ---- the mutations ----------------------------------------------------------------------------

// Applies one "mutate" entry; `vars` also receives "tensor" (the full name an st_* op resolved)
// so that a case's expected message can name it.
inline void mutate(const json& m, std::map<std::string, std::string>& vars) {
  const std::string op = m.at("op").get<std::string>();
  const std::string file = expand(m.at("file").get<std::string>(), vars);
  auto json_file = [&]() { return json::parse(test::read_text(file)); };
  auto save_json = [&](const json& j) { test::write_text(file, j.dump(2)); };

  if (op == "write") {
    test::write_text(file, expand(m.at("text").get<std::string>(), vars));
  } else if (op == "remove") {
    if (!fs::remove(file)) throw std::runtime_error("remove: no file " + file);
  } else if (op == "truncate") {  // keep the first "keep" bytes, or a fraction "keep_fraction"
    const std::string text = test::read_text(file);
    const size_t keep = m.contains("keep") ? m.at("keep").get<size_t>()
                                           : static_cast<size_t>(static_cast<double>(text.size()) * m.at("keep_fraction").get<double>());
    test::write_text(file, text.substr(0, keep));
  } else if (op == "json_set") {  // RFC 6901 pointer; creates the member when missing
    json j = json_file();
    j[json::json_pointer(m.at("pointer").get<std::string>())] = expand_json(m.at("value"), vars);
    save_json(j);
  } else if (op == "json_erase") {
    json j = json_file();
    const json::json_pointer p(m.at("pointer").get<std::string>());
    if (j[p.parent_pointer()].erase(p.back()) != 1) throw std::runtime_error("json_erase: nothing at " + p.to_string());
    save_json(j);
  } else if (op.starts_with("st_")) {
    Safetensors f = st_read(file);
    const std::string name = m.contains("tensor") ? st_tensor(f.header, m.at("tensor").get<std::string>()) : "";
    vars["tensor"] = name;
    if (op == "st_set") {  // header[tensor][key] = value, or the whole entry without "key"
      json& e = f.header[name];
      (m.contains("key") ? e[m.at("key").get<std::string>()] : e) = m.at("value");
      st_write(file, f);
    } else if (op == "st_erase") {  // its bytes stay behind as an unused gap, which the format allows
      f.header.erase(name);
      st_write(file, f);
    } else if (op == "st_offsets_past_end") {  // the right byte count, but after the data section
      const json& o = f.header[name]["data_offsets"];
      const uint64_t n = o[1].get<uint64_t>() - o[0].get<uint64_t>(), end = f.data.size();
      f.header[name]["data_offsets"] = json::array({end, end + n});
      st_write(file, f);
    } else if (op == "st_share_bytes") {  // `tensor` takes the offsets of "with": two tensors on the same bytes
      const std::string other = st_tensor(f.header, m.at("with").get<std::string>());
      f.header[name]["data_offsets"] = f.header[other]["data_offsets"];
      vars["other"] = other;
      st_write(file, f);
    } else if (op == "st_header_length") {  // a header length that lies: a number, or "file_size"
      const json& v = m.at("value");
      const std::string h = f.header.dump();
      const uint64_t n = v.is_string() && v == "file_size" ? 8 + h.size() + f.data.size() : v.get<uint64_t>();
      st_write_raw(file, n, h, f.data);
    } else if (op == "st_header_text") {  // replace the header JSON with this text (length kept honest)
      const std::string h = m.at("text").get<std::string>();
      st_write_raw(file, h.size(), h, f.data);
    } else {
      throw std::runtime_error("unknown mutation op " + op);
    }
  } else {
    throw std::runtime_error("unknown mutation op " + op);
  }
}

}  // namespace ps::hostile
