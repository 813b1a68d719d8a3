// Package model is CLIP written llm.c-style against the op interface of
// trainer/ops: the ViT image tower and the causal text tower of open_clip's
// CLIP class, the symmetric contrastive loss, and an explicit backward for
// every layer, written beside its forward.
//
// Configs are named in one table (config.go): open_clip's ViT-B-32 exactly,
// its -quickgelu variant, and "small" and "tiny" for the CPU.
//
// Parameters live in one flat buffer and gradients in a second of the same
// layout (Layout): open_clip's state-dict names, shapes and order, so
// checkpoints move both ways through safetensors (Export, Import).
// Activations of the last Forward live in a third buffer for Backward; the
// backward's per-layer scratch is one more, sized for the larger tower and
// reused layer by layer.
//
// Forward, as open_clip's CLIP.forward + ClipLoss:
//
//	image: patchify → conv1 as a matmul (no bias) → [class; patches] + positions
//	       → ln_pre → pre-LN blocks → ln_post on the class token → @ visual.proj
//	text:  token_embedding + positional_embedding → causal pre-LN blocks
//	       → ln_final at the end-of-text token (argmax id) → @ text_projection
//	both L2-normalised; logits = exp(logit_scale)·img·txtᵀ; loss = mean of the
//	two cross-entropies (image→text, text→image).
//
// logit_scale is not clamped here: open_clip clamps the parameter to
// [0, ln 100] after each optimizer step, and so does our trainer.
//
// Correctness: finite differences of the whole loss against Backward on the
// tiny config (gradient_test.go), and parity with open_clip/PyTorch on fixed
// weights and inputs (parity_test.go; testdata/make_parity.py makes the
// golden file).
package model
