// Package trainer owns CLIP training: the tokenizer, the model written as
// explicit forward and backward passes over a small op interface, the
// symmetric contrastive loss, AdamW and the schedule, checkpoints in the
// object store, evaluation and the train loop. Its CPU op implementation is
// the reference every other backend is checked against.
//
// It is handed a compute backend and never calls CUDA itself.
//
// Sub-packages: the CLIP tokenizer (trainer/tokenizer), the op interface
// with its CPU reference (trainer/ops), the safetensors format
// (trainer/safetensors), and the CLIP model with its configs, explicit
// backward, open_clip-compatible init and checkpoint import/export
// (trainer/model, a sub-package so that the train loop here and the
// benchmarks can share it without import loops).
//
// # Optimisation (optim.go, schedule.go)
//
// AdamW is torch.optim.AdamW with open_clip's two parameter groups
// (Decays: no weight decay on tensors with ndim < 2 or names containing
// bn, ln, bias or logit_scale), decoupled decay, bias correction, in
// float32 in torch's order of operations, one pass over the flat
// parameter, gradient and moment buffers. optim_test.go replays a PyTorch
// golden (testdata/make_adamw_golden.py): six steps with open_clip's
// cosine_lr, clip_grad_norm_ and the logit_scale clamp agree to float32
// rounding (≤ 2e-7 relative). The schedule is open_clip's cosine_lr
// (warmup lr·(step+1)/warmup, then cosine to 0). Gradient clipping is by
// the global L2 norm. After every step logit_scale is clamped to
// [0, ln 100]. On the CPU the optimizer works on the backend's buffers in
// place; on another backend it downloads and uploads them (until the op
// interface has an AdamW op).
//
// Gradient accumulation (Config.MicroBatch) averages the gradients of
// Batch/MicroBatch micro-batches, each with the contrastive loss over its
// own rows. That is not open_clip's --accum-freq, which re-runs each
// micro-batch against the cached features of the whole batch so that the
// negatives span it; with micro-batches the negatives per loss are
// MicroBatch rows.
//
// # Checkpoints and resume (checkpoint.go)
//
// RUN/checkpoints/step-{step:09d}/ holds model.safetensors (open_clip
// names), optimizer.safetensors (exp_avg.NAME, exp_avg_sq.NAME, the step
// in its metadata) and state.json (State: step, samples seen, the loader
// State, RNG seeds, the run config, each dataset's fingerprint, and the
// size and SHA-256 of the two tensor files). The object store has no
// rename, so the order of writes carries completeness: the two tensor
// files, then state.json, then RUN/checkpoints/latest.json (a plain Put),
// and only then are step directories beyond the newest Keep deleted
// (state.json first). A checkpoint is only ever read through its
// state.json, and every file must match the recorded size and hash, so a
// missing object, a truncated or altered file, a garbage state.json or a
// latest.json naming a missing step is an error wrapping ErrCheckpoint —
// never a silent fresh start. Resume: "auto" follows latest.json when the
// run has one and starts afresh when it has none; "none" starts afresh and
// refuses a run that already has a checkpoint; a URL names a step
// directory or a run. A checkpoint whose dataset fingerprints
// (shardwriter.Summary.Fingerprint per source, and weights) differ from
// the data now is refused with ErrDatasetChanged unless Config.Force; a
// forced resume keeps the saved epoch and position on the new order.
//
// Exactness: the loader's order and crops are pure functions of
// (seed, epoch, index) and the loader State, the model init runs once, and
// nothing else is random, so weights, moments and loader state fix every
// later step. resume_test.go SIGKILLs a child training process at random
// steps (some kills land while a checkpoint is written), resumes it with
// "auto" until 2N steps, and checks every step's loss and the final
// weights and moments bit for bit against an uninterrupted run, on file://
// and on MinIO.
//
// # The loop and metrics (train.go, metrics.go)
//
// Run prints a config table, then one line per step (step, loss, lr, logit
// scale, grad norm, ms, samples/s). The loader runs with TailDrop, so
// every step has a full batch; a batch larger than the data is an error,
// and so is a micro-batch whose captions are all empty. Metrics are kept
// in memory (about 300 bytes a step) and RUN/metrics.jsonl is rewritten
// whole with each checkpoint (the store has no append): one JSON object a
// line, kind "step" (StepMetrics) or "eval" (EvalRecord). On resume the
// file is read back and records after the restored step are dropped, so
// each step appears once. A checkpoint that fails during training is
// logged and training goes on (latest.json still names the previous
// one); the final one must succeed. Cancelling the context (SIGINT,
// SIGTERM in the CLI) drops the step in progress, writes a checkpoint of
// the last whole step, and returns an error wrapping ErrInterrupted.
//
// # Evaluation (eval.go)
//
// Evaluate embeds every committed sample of held-out datasets (resize and
// centre crop) and reports image↔text retrieval recall@1/5/10 among them
// (a hit at K when fewer than K candidates score strictly higher, so
// identical captions do not count against each other) and zero-shot
// classification with prompt templates over a metadata label field, with
// chance and majority baselines. Run can evaluate every EvalEvery steps
// and at the end.
package trainer
