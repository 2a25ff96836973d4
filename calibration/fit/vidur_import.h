#pragma once
// Vidur operator profiles as a calibration source. Vidur (microsoft/vidur) profiles a model on a
// GPU into data/profiling/compute/<gpu>/<model>/{mlp.csv, attention.csv}; this converts them into
// an in-memory kvsim bundle (docs/validation.md lists the columns read), which the usual fitter
// then fits, held-out errors included.
//
// mlp.csv: one row per token count. Read: num_tokens and the medians (ms, per layer) of
//   time_stats.{attn_pre_proj, attn_post_proj, mlp_up_proj, mlp_down_proj} (required) and
//   time_stats.{mlp_act, input_layernorm, attn_rope, add} (optional). Rows are kept when the
//   filter columns that exist (n_head, n_kv_head, n_embd, n_expanded_embd, vocab_size,
//   num_tensor_parallel_workers) match the model and tensor degree.
// attention.csv: one row per (batch_size, prefill_chunk_size, kv_cache_size). Read: those and
//   time_stats.attn_prefill.median, time_stats.attn_decode.median (ms, per layer); rows with
//   prefill_chunk_size 0 are decode. Filters: n_embd, n_q_head, n_kv_head, block_size,
//   num_tensor_parallel_workers.
#include <string>

#include "calibration/fit/bundle.h"
#include "models/spec/model_spec.h"

namespace kvsim {

// `model` is the whole model (Vidur's filter columns name its full head counts); the bundle is
// named for the shard shape (`shard_name`). Throws InputError naming the file, line and column.
Bundle bundle_from_vidur(const std::string& dir, const ModelSpec& model, const std::string& shard_name, int tensor,
                         int block_size, const std::string& gpu_name);

}  // namespace kvsim
