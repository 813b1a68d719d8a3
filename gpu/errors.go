package gpu

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors; callers branch on them with errors.Is.
var (
	// ErrNoCUDA means the CUDA driver library (libcuda.so.1) could not be
	// loaded, or the binary was built without cgo. The error returned wraps it
	// in a *LoadError naming every path tried.
	ErrNoCUDA = errors.New("gpu: CUDA driver library not available")
	// ErrNoDevice means the driver loaded but reports no usable device
	// (cuInit's CUDA_ERROR_NO_DEVICE, or a device count of 0).
	ErrNoDevice = errors.New("gpu: no CUDA device")
	// ErrNoNVRTC means no NVRTC library (libnvrtc.so.*) could be loaded, so
	// the kernels cannot be compiled.
	ErrNoNVRTC = errors.New("gpu: NVRTC library not available")
	// ErrNoCUBLAS means no cuBLAS library (libcublas.so.*) could be loaded.
	ErrNoCUBLAS = errors.New("gpu: cuBLAS library not available")
	// ErrCompile wraps an NVRTC compile failure; the *CompileError carries
	// the compiler log.
	ErrCompile = errors.New("gpu: kernel compile failed")
	// ErrClosed is returned by a Device or Backend used after Close.
	ErrClosed = errors.New("gpu: device closed")
)

// errNoCgo is the cause of every load error in a build without cgo; it
// wraps ErrNoCUDA, so errors.Is(err, ErrNoCUDA) holds for every library.
var errNoCgo = fmt.Errorf("%w: built without cgo (CGO_ENABLED=0), so no CUDA library can be loaded", ErrNoCUDA)

// LoadError says which library could not be loaded and where it was looked
// for. It wraps the sentinel of that library (ErrNoCUDA, ErrNoNVRTC,
// ErrNoCUBLAS).
type LoadError struct {
	Lib   string   // what was looked for, e.g. "libcuda.so.1"
	Tried []string // every path given to dlopen, in order (a bare name is the dynamic loader's own search)
	Dirs  []string // every directory looked in, found or not
	Last  string   // the dynamic loader's message for the last attempt
	Err   error    // the sentinel
	Cause error    // why the search could not run at all (a build without cgo), or nil
}

func (e *LoadError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v: %s not found", e.Err, e.Lib)
	if len(e.Tried) > 0 {
		fmt.Fprintf(&b, "; dlopen tried %s", strings.Join(e.Tried, ", "))
	}
	if len(e.Dirs) > 0 {
		fmt.Fprintf(&b, "; directories searched: %s", strings.Join(e.Dirs, ":"))
	}
	if e.Last != "" {
		fmt.Fprintf(&b, "; last error: %s", e.Last)
	}
	if e.Cause != nil {
		fmt.Fprintf(&b, ": %v", e.Cause)
	}
	return b.String()
}

func (e *LoadError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Err, e.Cause}
	}
	return []error{e.Err}
}

// Error is a failed CUDA driver, cuBLAS or NVRTC call: the call's name, its
// numeric result and the library's name for it (CUDA_ERROR_OUT_OF_MEMORY,
// CUBLAS_STATUS_NOT_SUPPORTED, NVRTC_ERROR_COMPILATION).
type Error struct {
	Call string // e.g. "cuMemAlloc_v2"
	Code int
	Name string
	Desc string // the library's description, when it has one
}

func (e *Error) Error() string {
	s := fmt.Sprintf("gpu: %s: %s (%d)", e.Call, e.Name, e.Code)
	if e.Desc != "" {
		s += ": " + e.Desc
	}
	return s
}

// Is makes errors.Is(err, ErrNoDevice) true for the driver results that
// mean there is no usable device.
func (e *Error) Is(target error) bool {
	if target != ErrNoDevice || !strings.HasPrefix(e.Call, "cu") || strings.HasPrefix(e.Call, "cublas") {
		return false
	}
	switch e.Code {
	case cudaErrorNoDevice, cudaErrorStubLibrary, cudaErrorInsufficientDriver, cudaErrorDeviceUnavailable, cudaErrorSystemDriverMismatch:
		return true
	}
	return false
}

// CUresult values the package branches on.
const (
	cudaSuccess                   = 0
	cudaErrorStubLibrary          = 34
	cudaErrorInsufficientDriver   = 35
	cudaErrorDeviceUnavailable    = 46
	cudaErrorNoDevice             = 100
	cudaErrorSystemDriverMismatch = 803
)

// cuResultNames maps CUresult codes to their names, for when the driver's
// own cuGetErrorName cannot be asked (a failed load, a stub driver).
var cuResultNames = map[int]string{
	0: "CUDA_SUCCESS", 1: "CUDA_ERROR_INVALID_VALUE", 2: "CUDA_ERROR_OUT_OF_MEMORY",
	3: "CUDA_ERROR_NOT_INITIALIZED", 4: "CUDA_ERROR_DEINITIALIZED", 5: "CUDA_ERROR_PROFILER_DISABLED",
	34: "CUDA_ERROR_STUB_LIBRARY", 35: "CUDA_ERROR_INSUFFICIENT_DRIVER", 36: "CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER",
	46: "CUDA_ERROR_DEVICE_UNAVAILABLE", 100: "CUDA_ERROR_NO_DEVICE", 101: "CUDA_ERROR_INVALID_DEVICE",
	102: "CUDA_ERROR_DEVICE_NOT_LICENSED", 200: "CUDA_ERROR_INVALID_IMAGE", 201: "CUDA_ERROR_INVALID_CONTEXT",
	209: "CUDA_ERROR_NO_BINARY_FOR_GPU", 214: "CUDA_ERROR_ECC_UNCORRECTABLE", 218: "CUDA_ERROR_INVALID_PTX",
	221: "CUDA_ERROR_JIT_COMPILER_NOT_FOUND", 222: "CUDA_ERROR_UNSUPPORTED_PTX_VERSION",
	300: "CUDA_ERROR_INVALID_SOURCE", 301: "CUDA_ERROR_FILE_NOT_FOUND", 400: "CUDA_ERROR_INVALID_HANDLE",
	500: "CUDA_ERROR_NOT_FOUND", 600: "CUDA_ERROR_NOT_READY", 700: "CUDA_ERROR_ILLEGAL_ADDRESS",
	701: "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", 702: "CUDA_ERROR_LAUNCH_TIMEOUT", 710: "CUDA_ERROR_ASSERT",
	714: "CUDA_ERROR_HARDWARE_STACK_ERROR", 715: "CUDA_ERROR_ILLEGAL_INSTRUCTION", 716: "CUDA_ERROR_MISALIGNED_ADDRESS",
	717: "CUDA_ERROR_INVALID_ADDRESS_SPACE", 718: "CUDA_ERROR_INVALID_PC", 719: "CUDA_ERROR_LAUNCH_FAILED",
	800: "CUDA_ERROR_NOT_PERMITTED", 801: "CUDA_ERROR_NOT_SUPPORTED", 802: "CUDA_ERROR_SYSTEM_NOT_READY",
	803: "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH", 804: "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE",
	999: "CUDA_ERROR_UNKNOWN",
}

var cublasStatusNames = map[int]string{
	0: "CUBLAS_STATUS_SUCCESS", 1: "CUBLAS_STATUS_NOT_INITIALIZED", 3: "CUBLAS_STATUS_ALLOC_FAILED",
	7: "CUBLAS_STATUS_INVALID_VALUE", 8: "CUBLAS_STATUS_ARCH_MISMATCH", 11: "CUBLAS_STATUS_MAPPING_ERROR",
	13: "CUBLAS_STATUS_EXECUTION_FAILED", 14: "CUBLAS_STATUS_INTERNAL_ERROR", 15: "CUBLAS_STATUS_NOT_SUPPORTED",
	16: "CUBLAS_STATUS_LICENSE_ERROR",
}

var nvrtcResultNames = map[int]string{
	0: "NVRTC_SUCCESS", 1: "NVRTC_ERROR_OUT_OF_MEMORY", 2: "NVRTC_ERROR_PROGRAM_CREATION_FAILURE",
	3: "NVRTC_ERROR_INVALID_INPUT", 4: "NVRTC_ERROR_INVALID_PROGRAM", 5: "NVRTC_ERROR_INVALID_OPTION",
	6: "NVRTC_ERROR_COMPILATION", 7: "NVRTC_ERROR_BUILTIN_OPERATION_FAILURE",
	8: "NVRTC_ERROR_NO_NAME_EXPRESSIONS_AFTER_COMPILATION", 9: "NVRTC_ERROR_NO_LOWERED_NAMES_BEFORE_COMPILATION",
	10: "NVRTC_ERROR_NAME_EXPRESSION_NOT_VALID", 11: "NVRTC_ERROR_INTERNAL_ERROR",
	12: "NVRTC_ERROR_TIME_FILE_WRITE_FAILED", 13: "NVRTC_ERROR_NO_PCH_CREATE_ATTEMPTED",
	14: "NVRTC_ERROR_PCH_CREATE_HEAP_EXHAUSTED", 15: "NVRTC_ERROR_PCH_CREATE", 16: "NVRTC_ERROR_CANCELLED",
	17: "NVRTC_ERROR_TIME_TRACE_FILE_WRITE_FAILED",
}

func codeName(table map[int]string, prefix string, code int) string {
	if n, ok := table[code]; ok {
		return n
	}
	return fmt.Sprintf("%s_%d", prefix, code)
}

// cuError builds the error of a failed driver call; name and desc are the
// driver's own strings when it could give them.
func cuError(call string, code int, name, desc string) error {
	if code == cudaSuccess {
		return nil
	}
	if name == "" {
		name = codeName(cuResultNames, "CUDA_ERROR", code)
	}
	return &Error{Call: call, Code: code, Name: name, Desc: desc}
}

func cublasError(call string, code int) error {
	if code == 0 {
		return nil
	}
	return &Error{Call: call, Code: code, Name: codeName(cublasStatusNames, "CUBLAS_STATUS", code)}
}

func nvrtcError(call string, code int) error {
	if code == 0 {
		return nil
	}
	return &Error{Call: call, Code: code, Name: codeName(nvrtcResultNames, "NVRTC_ERROR", code)}
}

// CompileError is an NVRTC compile failure of one kernel file for one
// architecture, with the compiler's log. It wraps ErrCompile.
type CompileError struct {
	File, Arch string
	Log        string
	Err        error // the NVRTC call's *Error
}

func (e *CompileError) Error() string {
	return fmt.Sprintf("%v: %s for %s: %v\n%s", ErrCompile, e.File, e.Arch, e.Err, strings.TrimSpace(e.Log))
}

func (e *CompileError) Unwrap() []error { return []error{ErrCompile, e.Err} }
