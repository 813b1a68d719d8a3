package gpu_test

import (
	"github.com/clipstream/clipstream/gpu"
	"github.com/clipstream/clipstream/trainer/model"
	"github.com/clipstream/clipstream/trainer/ops"
)

// The CUDA backend offers the trainer and the model what they look for.
var (
	_ ops.Backend         = (*gpu.Backend)(nil)
	_ ops.Optimizer       = (*gpu.Backend)(nil)
	_ ops.BF16Copier      = (*gpu.Backend)(nil)
	_ model.PatchUploader = (*gpu.Backend)(nil)
)
