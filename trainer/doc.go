// Package trainer owns CLIP training: the tokenizer, the model written as
// explicit forward and backward passes over a small op interface, the
// symmetric contrastive loss, AdamW and the schedule, checkpoints in the
// object store, evaluation and the train loop. Its CPU op implementation is
// the reference every other backend is checked against.
//
// It is handed a compute backend and never calls CUDA itself.
//
// Implemented: the CLIP tokenizer (trainer/tokenizer), the op interface
// with its CPU reference (trainer/ops), the safetensors format
// (trainer/safetensors), and the CLIP model with its configs, explicit
// backward, open_clip-compatible init and checkpoint import/export
// (trainer/model, a sub-package so that the train loop here and the
// benchmarks can share it without import loops). Not yet implemented: the
// optimizer and train loop; see the training issue.
package trainer
