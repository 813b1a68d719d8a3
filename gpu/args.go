package gpu

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// argPack holds a kernel's parameters as cuLaunchKernel wants them: each
// value at its natural alignment in buf, and offs[i] the offset of
// parameter i (the C trampoline turns these into the void*[] array).
type argPack struct {
	buf   []byte
	offs  []int32
	sizes []int // each parameter's size in bytes
}

// maxKernelArgs bounds the parameter count (the trampoline's array).
const maxKernelArgs = 64

// packArgs packs kernel parameters: devicePtr (8 bytes), int (checked to
// fit an int32; a kernel's `int`), int32, uint32, int64 (a `long long`),
// float32. Anything else is an error, so a mistyped call fails on the host,
// never as a garbage launch.
func packArgs(args ...any) (*argPack, error) {
	if len(args) > maxKernelArgs {
		return nil, fmt.Errorf("gpu: %d kernel arguments, at most %d", len(args), maxKernelArgs)
	}
	p := &argPack{buf: make([]byte, 0, 8*len(args)), offs: make([]int32, 0, len(args)), sizes: make([]int, 0, len(args))}
	put := func(size int, write func(b []byte)) {
		for len(p.buf)%size != 0 {
			p.buf = append(p.buf, 0)
		}
		p.offs = append(p.offs, int32(len(p.buf)))
		p.sizes = append(p.sizes, size)
		p.buf = append(p.buf, make([]byte, size)...)
		write(p.buf[len(p.buf)-size:])
	}
	le := binary.LittleEndian
	for i, a := range args {
		switch v := a.(type) {
		case devicePtr:
			put(8, func(b []byte) { le.PutUint64(b, uint64(v)) })
		case int64:
			put(8, func(b []byte) { le.PutUint64(b, uint64(v)) })
		case int:
			if v < math.MinInt32 || v > math.MaxInt32 {
				return nil, fmt.Errorf("gpu: kernel argument %d: %d does not fit a 32-bit int", i, v)
			}
			put(4, func(b []byte) { le.PutUint32(b, uint32(int32(v))) })
		case int32:
			put(4, func(b []byte) { le.PutUint32(b, uint32(v)) })
		case uint32:
			put(4, func(b []byte) { le.PutUint32(b, v) })
		case float32:
			put(4, func(b []byte) { le.PutUint32(b, math.Float32bits(v)) })
		default:
			return nil, fmt.Errorf("gpu: kernel argument %d has unsupported type %T", i, a)
		}
	}
	return p, nil
}

// Launch geometry.

// blockSize is the threads per block of the elementwise and row kernels.
const blockSize = 256

// maxGridX bounds grid-stride kernels: enough blocks to fill any current
// GPU many times over; the loop inside covers the rest.
const maxGridX = 65535 * 4

// gridFor returns the block count covering n items with perBlock items
// per block, at least 1 and at most limit (0: no limit beyond the driver's
// 2³¹−1).
func gridFor(n int64, perBlock, limit int) uint32 {
	g := (n + int64(perBlock) - 1) / int64(perBlock)
	if g < 1 {
		g = 1
	}
	if limit > 0 && g > int64(limit) {
		g = int64(limit)
	}
	if g > math.MaxInt32 {
		g = math.MaxInt32
	}
	return uint32(g)
}

// launchDims is one kernel launch's shape.
type launchDims struct {
	grid, block [3]uint32
	shmem       uint32
}

// elementwise covers n elements, one thread each, grid-stride beyond
// maxGridX blocks.
func elementwise(n int64) launchDims {
	return launchDims{grid: [3]uint32{gridFor(n, blockSize, maxGridX), 1, 1}, block: [3]uint32{blockSize, 1, 1}}
}

// warpPerRow gives each of rows rows one 32-thread warp, blockSize/32 rows
// per block.
func warpPerRow(rows int64) launchDims {
	return launchDims{grid: [3]uint32{gridFor(rows, blockSize/32, 0), 1, 1}, block: [3]uint32{blockSize, 1, 1}}
}

// blockPerRow gives each row one block.
func blockPerRow(rows int) launchDims {
	return launchDims{grid: [3]uint32{uint32(max(rows, 1)), 1, 1}, block: [3]uint32{blockSize, 1, 1}}
}

// biasBackwardDims: 32 columns per block in x, row slices in y (8 rows of
// threads each), enough slices to give every SM work.
func biasBackwardDims(N, OC, sms int) launchDims {
	gx := gridFor(int64(OC), 32, 0)
	want := max(1, 2*max(sms, 1)/int(gx))
	gy := min(gridFor(int64(N), 8, 0), uint32(min(want, 65535)))
	return launchDims{grid: [3]uint32{gx, gy, 1}, block: [3]uint32{32, 8, 1}}
}

// layerNormBackwardDims: a warp per row, rows grid-strided over at most
// 2 blocks per SM (each block sums its dweight/dbias in 2·C floats of
// shared memory before one atomic add per channel).
func layerNormBackwardDims(N, C, sms int) launchDims {
	d := warpPerRow(int64(N))
	d.grid[0] = min(d.grid[0], uint32(max(2*sms, 1)))
	d.shmem = uint32(2 * C * 4)
	return d
}

// checkParams refuses a launch whose packed arguments (got, in bytes) do
// not match the kernel's parameters (want, from its PTX): a kernel whose
// signature changed without its launch site would otherwise read garbage.
func checkParams(name string, want, got []int) error {
	if !slices.Equal(want, got) {
		return fmt.Errorf("gpu: kernel %s takes %d parameters of %v bytes, launched with %d of %v", name, len(want), want, len(got), got)
	}
	return nil
}
