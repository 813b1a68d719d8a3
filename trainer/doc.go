// Package trainer owns CLIP training: the tokenizer, the model written as
// explicit forward and backward passes over a small op interface, the
// symmetric contrastive loss, AdamW and the schedule, checkpoints in the
// object store, evaluation and the train loop. Its CPU op implementation is
// the reference every other backend is checked against.
//
// It is handed a compute backend and never calls CUDA itself.
//
// Implemented: the CLIP tokenizer (trainer/tokenizer) and the op interface
// with its CPU reference (trainer/ops). Not yet implemented: the model,
// optimizer and train loop; see the model and training issues.
package trainer
