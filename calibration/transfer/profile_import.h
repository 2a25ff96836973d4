#pragma once
// Imports operator profiles published by other projects (Vidur's profiling schema, which
// Frontier shares) into kvsim bundles on disk, so the transfer model can fit and validate on
// GPUs nobody here can measure. docs/calibration.md, "Imported public profiles", lists what
// is shipped and the command that regenerates it.
//
// mlp.csv: per-layer linear layers and token-wise kernels, one row per (shape, tensor degree,
//   num_tokens). Read: n_head, n_kv_head, n_embd, n_expanded_embd, vocab_size,
//   use_gated_mlp (optional), num_tokens, num_tensor_parallel_workers and the medians (ms) of
//   time_stats.{attn_pre_proj, attn_post_proj, mlp_up_proj, mlp_down_proj} (required) and
//   time_stats.{input_layernorm, attn_rope, mlp_act, add} (optional). One bundle per shape and
//   tensor degree; times are per shard (the profile ran one shard on one GPU).
// attention.csv: n_embd, n_q_head, n_kv_head, num_tensor_parallel_workers, batch_size,
//   prefill_chunk_size, kv_cache_size, is_prefill, attention_backend and the medians of
//   time_stats.attn_prefill / attn_decode. Decode rows become decode_attention (batch x
//   context), prefill rows of one sequence become prefill_attention (new x cached tokens).
//
// Rows whose time implies more than the GPU's datasheet FLOP/s or bandwidth are physically
// impossible and dropped; a table where most rows are impossible is rejected whole (Frontier's
// A100 attention.csv: decode times 100x below what the KV bytes allow). Repeated rows for one
// workload are merged into their median. Every drop is reported in the bundle's meta.json.
#include <string>
#include <vector>

#include "calibration/fit/bundle.h"
#include "models/spec/gpu_spec.h"

namespace kvsim {

struct ProfileImport {
  std::string project;      // "Vidur", "Frontier"
  std::string repository;   // "microsoft/vidur"
  std::string commit;       // 40 hex digits
  std::string repo_path;    // the file's path inside that repository
  std::string file;         // where to read it here
  std::string model;        // kvsim name for the model ("llama-2-7b"); bundles are <model>[-tp<N>]
  int layers = 0;           // the model's layer count (the profiles are per layer)
  int ffn = 0, vocab = 0;   // for attention-only profiles, which do not name them (0: from the file)
};

struct ImportedBundle {
  std::string name;         // shard name: model, or model-tp<N>
  Bundle bundle;            // tables, and meta.json with provenance and notes
  std::vector<std::string> notes;
};

// Reads one profile file for `gpu` (catalog entry). Throws InputError naming file:line and
// column on malformed input.
std::vector<ImportedBundle> import_mlp_profile(const ProfileImport& in, const GpuSpec& gpu);
std::vector<ImportedBundle> import_attention_profile(const ProfileImport& in, const GpuSpec& gpu);

// Vidur's network profiles (data/profiling/network/<topology>/{all_reduce,send_recv}.csv:
// time_stats.<collective>.median in ms, num_workers, size in bytes, devices_per_node): the
// rows within one node (devices_per_node == num_workers; a send between two GPUs of one node)
// become kvsim NCCL tables <gpu>-x<N>/nccl/{allreduce,sendrecv}.csv (gpus, bytes,
// time_us_median, as calibration/nccl writes them) with a <op>_meta.json of provenance.
struct NcclTable {
  std::string machine;  // <gpu>-x<N>
  std::string file;     // allreduce.csv or sendrecv.csv
  std::string csv;
  nlohmann::json meta;
};
std::vector<NcclTable> import_network_profile(const ProfileImport& in, const GpuSpec& gpu);

// Adds `more`'s tables and provenance to the bundle of the same name in `into` (or appends).
void merge_imported(std::vector<ImportedBundle>& into, std::vector<ImportedBundle> more);

// Writes meta.json and one CSV per family into `dir` (created), each file atomically.
void write_bundle(const Bundle& b, const std::string& dir);

}  // namespace kvsim
