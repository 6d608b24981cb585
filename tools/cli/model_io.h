// Pieces shared by the commands that run a model: request input, result output, timing.
#pragma once

#include <string>
#include <vector>

#include "runtime/engine/sequence.h"
#include "runtime/io/requests.h"
#include "runtime/models/stage_model.h"
#include "tools/cli/args.h"

namespace ps::cli {

// Results as JSON Lines, written whole (temporary file + rename) or to stdout when path is empty.
template <class R>
void results_write(const std::string& path, const std::vector<R>& results);

// The --prompt-ids flag as a request, validated like a request line.
Request prompt_request(const std::string& ids_csv, const ModelSpec& spec);

// The generation flags shared by `generate`, `run` and `worker` (--max-new-tokens, --stop-ids,
// --temperature, --top-k, --top-p, --seed), appended to a command's own options.
std::vector<OptionSpec> with_generate_flags(std::vector<OptionSpec> own);
// Reads them; vocab_size > 0 checks --stop-ids against the vocabulary.
GenerateDefaults generate_defaults_from_flags(const Args& a, int64_t vocab_size);

// --device (cpu, cuda:N) and --dtype (f32, f16, bf16; GPU only) for the one-process commands,
// appended before --help; and reading them into `so` (InvalidInput naming the flag).
std::vector<OptionSpec> with_device_flags(std::vector<OptionSpec> own);
void device_flags_apply(const Args& a, StageOptions& so);

}  // namespace ps::cli
