#include "partitioner/profile.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "runtime/core/error.h"
#include "runtime/core/files.h"

namespace ps {
namespace {

double read_time(const JsonField& f, const char* key) {
  const double v = f.require_number(key);
  if (!(v >= 0.0) || !std::isfinite(v)) fail_input(f.path(key), ": expected seconds >= 0, got ", v);
  return v;
}

int64_t read_positive(const JsonField& f, const char* key, int64_t dflt) {
  const int64_t v = f.has(key) || dflt < 0 ? f.require_int(key) : dflt;
  if (v < 1) fail_input(f.path(key), ": must be >= 1, got ", v);
  return v;
}

ProfileMeasurement read_measurement(const Json& j, const std::string& where) {
  const JsonField f{j, where};
  f.reject_unknown_keys({"mode", "micro_batch", "prompt_len", "max_new_tokens", "layers"});
  ProfileMeasurement m;
  const std::string mode = f.require_string("mode");
  const auto parsed = mode_parse(mode);
  if (!parsed) fail_input(f.path("mode"), ": '", mode, "' is not a mode (forward, generate)");
  m.mode = *parsed;
  m.micro_batch = read_positive(f, "micro_batch", -1);
  m.prompt_len = read_positive(f, "prompt_len", -1);
  if (m.mode == Mode::Generate) m.max_new_tokens = read_positive(f, "max_new_tokens", -1);
  else if (f.has("max_new_tokens")) fail_input(f.path("max_new_tokens"), ": only a generate measurement has it");
  const Json& layers = f.require("layers");
  if (!layers.is_array() || layers.empty()) fail_input(f.path("layers"), ": expected a non-empty list");
  for (size_t i = 0; i < layers.size(); ++i) {
    const JsonField lf{layers[i], json_path(f.path("layers"), i)};
    lf.reject_unknown_keys({"name", "pass_s", "decode_s"});
    ProfileLayer l;
    l.name = lf.require_string("name");
    l.pass_s = read_time(lf, "pass_s");
    if (m.mode == Mode::Generate) l.decode_s = read_time(lf, "decode_s");
    else if (lf.has("decode_s")) fail_input(lf.path("decode_s"), ": only a generate measurement has it");
    m.layers.push_back(std::move(l));
  }
  return m;
}

std::string shape_str(const ProfileMeasurement& m) {
  std::string s = str(mode_name(m.mode), " micro_batch ", m.micro_batch, " prompt_len ", m.prompt_len);
  if (m.mode == Mode::Generate) s += str(" max_new_tokens ", m.max_new_tokens);
  return s;
}

}  // namespace

Profile profile_from_json(const Json& j, const std::string& path) {
  return with_context(path, [&] {
    const JsonField f{j, ""};
    f.reject_unknown_keys({"format", "version", "model", "model_type", "device", "device_model", "threads", "dtype",
                           "send", "measurements"});
    if (f.require_string("format") != "pipeshard-profile") fail_input("format: expected \"pipeshard-profile\"");
    const int64_t version = f.require_int("version");
    if (version != 1) fail_input("version: ", version, " is not supported (this pipeshard reads version 1)");
    Profile p;
    p.path = path;
    p.model = f.get_string("model", "");
    p.model_type = f.get_string("model_type", "");
    p.device = with_context("device", [&] { return device_parse(f.require_string("device")); });
    p.device_model = f.get_string("device_model", p.device.is_cpu() ? "cpu" : "gpu");
    const int64_t threads = f.get_int("threads", 0);
    if (threads < 0 || threads > 4096) fail_input("threads: must be in 0..4096, got ", threads);
    if (p.device.is_cpu() && threads < 1) fail_input("threads: a cpu profile needs the thread count it was measured with");
    p.threads = static_cast<int>(threads);
    const std::string dt = f.require_string("dtype");
    const auto dtype = dtype_parse(dt);
    if (!dtype) fail_input("dtype: '", dt, "' is not one of f32, f16, bf16");
    p.dtype = *dtype;
    if (f.has("send")) {
      const JsonField sf{f.require("send"), "send"};
      sf.reject_unknown_keys({"bandwidth_gb_s", "latency_us"});
      const double bw = sf.require_number("bandwidth_gb_s"), lat = sf.get_number("latency_us", 0.0);
      if (!(bw > 0.0) || !(lat >= 0.0)) fail_input("send: needs bandwidth_gb_s > 0 and latency_us >= 0");
      p.send = LinkSpec{bw * 1e9, lat * 1e-6};
    }
    const Json& ms = f.require("measurements");
    if (!ms.is_array() || ms.empty()) fail_input("measurements: expected a non-empty list");
    for (size_t i = 0; i < ms.size(); ++i) p.measurements.push_back(read_measurement(ms[i], json_path("measurements", i)));
    return p;
  });
}

Profile profile_load(const std::string& path) { return profile_from_json(json_read_file(path), path); }

std::string profile_dump(const Profile& p) {
  nlohmann::ordered_json head;
  head["format"] = "pipeshard-profile";
  head["version"] = 1;
  head["model"] = p.model;
  head["model_type"] = p.model_type;
  head["device"] = p.device.str();
  head["device_model"] = p.device_model;
  head["threads"] = p.threads;
  head["dtype"] = dtype_name(p.dtype);
  // Rounded to 1e-6 of the file's units, so that reading and writing a profile is stable.
  auto round6 = [](double v) { return std::round(v * 1e6) / 1e6; };
  if (p.send) head["send"] = {{"bandwidth_gb_s", round6(p.send->bandwidth / 1e9)}, {"latency_us", round6(p.send->latency * 1e6)}};
  std::string out = head.dump(2);
  out.erase(out.rfind('}'));  // reopen the object to append the measurements by hand
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  out += ",\n  \"measurements\": [";
  for (size_t i = 0; i < p.measurements.size(); ++i) {
    const auto& m = p.measurements[i];
    nlohmann::ordered_json mj;
    mj["mode"] = mode_name(m.mode);
    mj["micro_batch"] = m.micro_batch;
    mj["prompt_len"] = m.prompt_len;
    if (m.mode == Mode::Generate) mj["max_new_tokens"] = m.max_new_tokens;
    std::string ms = mj.dump();
    ms.pop_back();
    out += std::string(i ? "," : "") + "\n    " + ms + ", \"layers\": [";
    for (size_t k = 0; k < m.layers.size(); ++k) {
      nlohmann::ordered_json lj;
      lj["name"] = m.layers[k].name;
      lj["pass_s"] = m.layers[k].pass_s;
      if (m.layers[k].decode_s) lj["decode_s"] = *m.layers[k].decode_s;
      out += std::string(k ? "," : "") + "\n      " + lj.dump();
    }
    out += "]}";
  }
  out += "\n  ]\n}\n";
  return out;
}

void profile_write(const Profile& p, const std::string& path) { file_write_atomic(path, profile_dump(p)); }

bool profile_applies_to(const Profile& p, const DeviceSpec& d) {
  return p.device.kind == d.device.kind && p.device_model == d.model;
}

ProfileTimes profile_select(const Profile& p, const ModelSpec& spec, const Workload& w, DType dtype) {
  return with_context(p.path, [&] {
    if (p.dtype != dtype)
      fail_input("measured in ", dtype_name(p.dtype), "; this plan runs ", dtype_name(dtype),
                 " (re-run pipeshard profile with --dtype ", dtype_name(dtype), ")");
    const ProfileMeasurement* pick = nullptr;
    for (const auto& m : p.measurements) {
      if (m.micro_batch != w.micro_batch_size() || m.prompt_len != w.prompt_len) continue;
      if (w.mode == Mode::Generate && m.mode != Mode::Generate) continue;
      if (!pick || (w.mode == Mode::Generate && m.max_new_tokens == w.max_new_tokens)) pick = &m;
    }
    if (!pick) {
      std::string have;
      for (const auto& m : p.measurements) have += "\n  " + shape_str(m);
      fail_input("no measurement for ", mode_name(w.mode), " micro_batch ", w.micro_batch_size(), " prompt_len ",
                 w.prompt_len, "; the file holds:", have, "\nre-run pipeshard profile with this shape");
    }
    if (static_cast<int>(pick->layers.size()) != spec.num_layers())
      fail_input("measured a model with ", pick->layers.size(), " layers; ", spec.config_path, " has ", spec.num_layers());
    ProfileTimes t;
    t.threads = p.threads;
    for (size_t i = 0; i < pick->layers.size(); ++i) {
      const auto& l = pick->layers[i];
      if (l.name != spec.layers[i].name)
        fail_input("layer ", i, " is '", l.name, "' in the profile but '", spec.layers[i].name, "' in the model");
      t.pass.push_back(l.pass_s);
      t.decode.push_back(l.decode_s.value_or(0.0));
    }
    if (w.mode == Mode::Generate && pick->max_new_tokens != w.max_new_tokens)
      t.note = str("decode times measured over ", pick->max_new_tokens, " new tokens, used for ", w.max_new_tokens);
    return t;
  });
}

}  // namespace ps
