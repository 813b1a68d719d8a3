package gpu

import (
	"fmt"
	"unsafe"
)

// The three libraries as tables of function pointers. The pointers are
// resolved with dlsym when a library is loaded and called through the cgo
// trampolines of dl_cgo.go, whose C prototypes mirror the CUDA headers
// (driver API 12/13, cuBLAS v2 API, NVRTC); no CUDA header is needed to
// build.

// sym is one symbol to resolve into *p; an optional one may be missing.
type sym struct {
	name     string
	p        *unsafe.Pointer
	optional bool
}

// bind resolves syms in the library handle h.
func bind(h unsafe.Pointer, path string, syms []sym) error {
	for _, s := range syms {
		*s.p = dlsym(h, s.name)
		if *s.p == nil && !s.optional {
			return fmt.Errorf("gpu: %s has no symbol %s (library too old?)", path, s.name)
		}
	}
	return nil
}

// openLib dlopens the first loadable candidate for spec.
func openLib(spec libSpec, env searchEnv) (unsafe.Pointer, string, error) {
	le := &LoadError{Lib: spec.what, Err: spec.sentinel}
	if !cgoEnabled {
		le.Cause = errNoCgo
		return nil, "", le
	}
	var h unsafe.Pointer
	var path string
	env.search(spec, &le.Dirs, func(p string) bool {
		le.Tried = append(le.Tried, p)
		for _, c := range env.companionPaths(spec, p) {
			dlopen(c) // best effort: without it the main library reports what it misses
		}
		var msg string
		h, msg = dlopen(p)
		if h != nil {
			path = p
			return false
		}
		le.Last = msg
		return true
	})
	if h == nil {
		return nil, "", le
	}
	return h, path, nil
}

// driver is libcuda.
type driver struct {
	path string
	cuInit, cuDriverGetVersion, cuDeviceGetCount, cuDeviceGet, cuDeviceGetName,
	cuDeviceGetAttribute, cuDeviceTotalMem, cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRelease,
	cuCtxSetCurrent, cuCtxSynchronize, cuMemAlloc, cuMemFree, cuMemAllocHost, cuMemFreeHost,
	cuMemcpyHtoDAsync, cuMemcpyDtoHAsync, cuMemcpyDtoDAsync, cuMemsetD32Async,
	cuStreamCreate, cuStreamDestroy, cuStreamSynchronize, cuStreamWaitEvent,
	cuEventCreate, cuEventRecord, cuEventSynchronize, cuEventDestroy, cuEventElapsedTime,
	cuModuleLoadData, cuModuleUnload, cuModuleGetFunction, cuLaunchKernel,
	cuGetErrorName, cuGetErrorString unsafe.Pointer
}

func (d *driver) syms() []sym {
	return []sym{
		{"cuInit", &d.cuInit, false},
		{"cuDriverGetVersion", &d.cuDriverGetVersion, false},
		{"cuDeviceGetCount", &d.cuDeviceGetCount, false},
		{"cuDeviceGet", &d.cuDeviceGet, false},
		{"cuDeviceGetName", &d.cuDeviceGetName, false},
		{"cuDeviceGetAttribute", &d.cuDeviceGetAttribute, false},
		{"cuDeviceTotalMem_v2", &d.cuDeviceTotalMem, false},
		{"cuDevicePrimaryCtxRetain", &d.cuDevicePrimaryCtxRetain, false},
		{"cuDevicePrimaryCtxRelease_v2", &d.cuDevicePrimaryCtxRelease, false},
		{"cuCtxSetCurrent", &d.cuCtxSetCurrent, false},
		{"cuCtxSynchronize", &d.cuCtxSynchronize, false},
		{"cuMemAlloc_v2", &d.cuMemAlloc, false},
		{"cuMemFree_v2", &d.cuMemFree, false},
		{"cuMemAllocHost_v2", &d.cuMemAllocHost, false},
		{"cuMemFreeHost", &d.cuMemFreeHost, false},
		{"cuMemcpyHtoDAsync_v2", &d.cuMemcpyHtoDAsync, false},
		{"cuMemcpyDtoHAsync_v2", &d.cuMemcpyDtoHAsync, false},
		{"cuMemcpyDtoDAsync_v2", &d.cuMemcpyDtoDAsync, false},
		{"cuMemsetD32Async", &d.cuMemsetD32Async, false},
		{"cuStreamCreate", &d.cuStreamCreate, false},
		{"cuStreamDestroy_v2", &d.cuStreamDestroy, false},
		{"cuStreamSynchronize", &d.cuStreamSynchronize, false},
		{"cuStreamWaitEvent", &d.cuStreamWaitEvent, false},
		{"cuEventCreate", &d.cuEventCreate, false},
		{"cuEventRecord", &d.cuEventRecord, false},
		{"cuEventSynchronize", &d.cuEventSynchronize, false},
		{"cuEventDestroy_v2", &d.cuEventDestroy, false},
		{"cuEventElapsedTime", &d.cuEventElapsedTime, true},
		{"cuModuleLoadData", &d.cuModuleLoadData, false},
		{"cuModuleUnload", &d.cuModuleUnload, false},
		{"cuModuleGetFunction", &d.cuModuleGetFunction, false},
		{"cuLaunchKernel", &d.cuLaunchKernel, false},
		{"cuGetErrorName", &d.cuGetErrorName, true},
		{"cuGetErrorString", &d.cuGetErrorString, true},
	}
}

// loadDriver opens libcuda and resolves its symbols; it does not call
// cuInit.
func loadDriver(env searchEnv) (*driver, error) {
	h, path, err := openLib(specCUDA, env)
	if err != nil {
		return nil, err
	}
	d := &driver{path: path}
	if err := bind(h, path, d.syms()); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoCUDA, err)
	}
	return d, nil
}

// cublas is libcublas (the v2 API; libcublasLt is its dependency).
type cublas struct {
	path string
	create, destroy, setStream, setMathMode, getVersion, setWorkspace,
	gemmEx, gemmStridedBatchedEx unsafe.Pointer
}

func (c *cublas) syms() []sym {
	return []sym{
		{"cublasCreate_v2", &c.create, false},
		{"cublasDestroy_v2", &c.destroy, false},
		{"cublasSetStream_v2", &c.setStream, false},
		{"cublasSetMathMode", &c.setMathMode, false},
		{"cublasGetVersion_v2", &c.getVersion, true},
		{"cublasSetWorkspace_v2", &c.setWorkspace, true},
		{"cublasGemmEx", &c.gemmEx, false},
		{"cublasGemmStridedBatchedEx", &c.gemmStridedBatchedEx, false},
	}
}

func loadCUBLAS(env searchEnv) (*cublas, error) {
	h, path, err := openLib(specCUBLAS, env)
	if err != nil {
		return nil, err
	}
	c := &cublas{path: path}
	if err := bind(h, path, c.syms()); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoCUBLAS, err)
	}
	return c, nil
}

// nvrtc is libnvrtc.
type nvrtc struct {
	path string
	version, createProgram, destroyProgram, compileProgram, getPTXSize, getPTX,
	getCUBINSize, getCUBIN, getProgramLogSize, getProgramLog, getErrorString unsafe.Pointer
}

func (n *nvrtc) syms() []sym {
	return []sym{
		{"nvrtcVersion", &n.version, false},
		{"nvrtcCreateProgram", &n.createProgram, false},
		{"nvrtcDestroyProgram", &n.destroyProgram, false},
		{"nvrtcCompileProgram", &n.compileProgram, false},
		{"nvrtcGetPTXSize", &n.getPTXSize, false},
		{"nvrtcGetPTX", &n.getPTX, false},
		{"nvrtcGetCUBINSize", &n.getCUBINSize, true}, // NVRTC 11.1+
		{"nvrtcGetCUBIN", &n.getCUBIN, true},
		{"nvrtcGetProgramLogSize", &n.getProgramLogSize, false},
		{"nvrtcGetProgramLog", &n.getProgramLog, false},
		{"nvrtcGetErrorString", &n.getErrorString, true},
	}
}

func loadNVRTC(env searchEnv) (*nvrtc, error) {
	h, path, err := openLib(specNVRTC, env)
	if err != nil {
		return nil, err
	}
	n := &nvrtc{path: path}
	if err := bind(h, path, n.syms()); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoNVRTC, err)
	}
	return n, nil
}

// Opaque handles from the libraries, kept as integers: they point to C
// memory the Go collector never sees.
type (
	cuContext  uintptr
	cuModule   uintptr
	cuFunction uintptr
	cuStream   uintptr
	cuEvent    uintptr
	devicePtr  uint64
)

// Driver API constants used (CUdevice_attribute, stream and event flags).
const (
	attrMultiprocessorCount    = 16
	attrComputeCapabilityMajor = 75
	attrComputeCapabilityMinor = 76
	streamNonBlocking          = 0x1
	eventDisableTiming         = 0x2
)

// cuBLAS constants (cublasOperation_t, cudaDataType, cublasComputeType_t,
// cublasGemmAlgo_t, cublasMath_t).
const (
	cublasOpN             = 0
	cublasOpT             = 1
	cudaR32F              = 0
	cudaR16BF             = 14
	cublasCompute32F      = 68
	cublasCompute32FPedan = 69
	cublasGemmDefault     = -1
	cublasDefaultMath     = 0
)
