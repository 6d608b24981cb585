#include "runtime/profiling/layer_profiler.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include "runtime/drivers/local_model.h"

namespace ps {

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// `sequences` rows per sequence at positions [from, from + len), logits for each sequence's last row.
TokenBatch rows_batch(int64_t sequences, int64_t from, int64_t len, int64_t vocab) {
  TokenBatch b;
  for (int64_t s = 0; s < sequences; ++s) {
    for (int64_t p = from; p < from + len; ++p) {
      b.tokens.push_back(static_cast<int32_t>((p * 131 + s * 17 + 1) % std::max<int64_t>(vocab, 1)));
      b.slots.push_back(static_cast<int32_t>(s));
      b.positions.push_back(static_cast<int32_t>(p));
    }
    b.logit_rows.push_back(static_cast<int32_t>(b.tokens.size() - 1));
  }
  return b;
}

struct LayerRunner {
  std::vector<std::unique_ptr<StageModel>> layers;
  std::vector<OwnedTensor> outs;  // each layer's output: the next layer's input

  // Runs every layer once on `batch` (input rows for mlp); returns each layer's seconds.
  std::vector<double> pass(const OpContext& ctx, const TokenBatch& batch, const TensorView& first_input) {
    std::vector<double> t;
    TensorView in = first_input;
    for (size_t i = 0; i < layers.size(); ++i) {
      const auto t0 = Clock::now();
      layers[i]->forward(ctx, batch, in, outs[i]);
      t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
      in = outs[i].view;
    }
    return t;
  }
};

}  // namespace

Profile profile_measure(const ProfileRequest& req, void (*progress)(const std::string&)) {
  const ModelSpec spec = model_spec_load(req.model_dir);
  const Checkpoint ckpt = Checkpoint::open(req.model_dir);
  auto pool = cpu_threads_setup(req.threads);
  Workspace ws;
  const OpContext ctx{&backend_get(Device::cpu()), nullptr, pool.get(), &ws};
  const bool generate = req.mode == Mode::Generate;
  const bool mlp = spec.family == Family::Mlp;
  const int64_t prompt = mlp ? 1 : req.prompt_len;
  const int64_t ctx_len = prompt + (generate ? req.max_new_tokens : 0);
  if (!mlp && ctx_len > spec.max_positions)
    fail_input("profile: prompt ", prompt, " + ", generate ? req.max_new_tokens : 0, " new tokens exceeds the context (",
               spec.max_positions, ")");

  Profile prof;
  prof.model = req.model_dir;
  prof.model_type = spec.model_type;
  prof.device = Device::cpu();
  prof.device_model = req.device_model;
  prof.threads = req.threads;
  prof.dtype = DType::F32;  // the CPU computes in f32 whatever the checkpoint stores
  for (int64_t mb : req.micro_batches) {
    if (progress) progress(str("micro-batch ", mb, ": ", spec.num_layers(), " layers x ", req.repeat, " runs"));
    LayerRunner run;
    for (int i = 0; i < spec.num_layers(); ++i) {
      run.layers.push_back(stage_model_load(spec, ckpt, i, i, StageOptions{static_cast<int>(mb), ctx_len}));
      run.outs.emplace_back();
    }
    OwnedTensor input;
    TokenBatch batch = rows_batch(mb, 0, prompt, spec.vocab_size);
    if (mlp) {
      input.reshape(Shape{mb, spec.input_size});
      for (int64_t k = 0; k < input.view.numel(); ++k) input.f32()[k] = static_cast<float>((k % 13) - 6) * 0.1f;
      batch.logit_rows.clear();
      for (int64_t r = 0; r < mb; ++r) batch.logit_rows.push_back(static_cast<int32_t>(r));
    }
    ProfileMeasurement m;
    m.mode = req.mode;
    m.micro_batch = mb;
    m.prompt_len = prompt;
    m.max_new_tokens = generate ? req.max_new_tokens : 0;
    std::vector<std::vector<double>> pass(static_cast<size_t>(spec.num_layers())), decode(pass.size());
    run.pass(ctx, batch, input.view);  // warm-up: page in the weights, size the buffers
    for (int r = 0; r < req.repeat; ++r) {
      const auto t = run.pass(ctx, batch, input.view);
      for (size_t i = 0; i < t.size(); ++i) pass[i].push_back(t[i]);
    }
    if (generate) {
      // Decode steps after the prompt: one row per sequence; the mean step per repeat, then the median.
      for (int r = 0; r < req.repeat; ++r) {
        std::vector<double> sum(pass.size(), 0.0);
        for (int64_t step = 0; step < req.max_new_tokens; ++step) {
          const auto t = run.pass(ctx, rows_batch(mb, prompt + step, 1, spec.vocab_size), TensorView{});
          for (size_t i = 0; i < t.size(); ++i) sum[i] += t[i];
        }
        for (size_t i = 0; i < sum.size(); ++i) decode[i].push_back(sum[i] / static_cast<double>(req.max_new_tokens));
      }
    }
    for (int i = 0; i < spec.num_layers(); ++i) {
      ProfileLayer l;
      l.name = spec.layers[static_cast<size_t>(i)].name;
      l.pass_s = median(pass[static_cast<size_t>(i)]);
      if (generate) l.decode_s = median(decode[static_cast<size_t>(i)]);
      m.layers.push_back(l);
    }
    prof.measurements.push_back(std::move(m));
  }
  return prof;
}

}  // namespace ps
