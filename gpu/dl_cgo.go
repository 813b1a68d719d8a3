//go:build cgo

package gpu

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>

// Prototypes written from the CUDA driver API, cuBLAS v2 and NVRTC
// documentation; handles are opaque pointers, device pointers 64-bit
// integers, enums int. Each trampoline casts the dlsym'd pointer to its
// prototype and calls it.

typedef int CUresult;
typedef int CUdevice;
typedef void *CUcontext, *CUmodule, *CUfunction, *CUstream, *CUevent;
typedef unsigned long long CUdeviceptr;
typedef int cublasStatus_t;
typedef void *cublasHandle_t;
typedef int nvrtcResult;
typedef void *nvrtcProgram;

static void *cs_dlopen(const char *path) { return dlopen(path, RTLD_NOW | RTLD_LOCAL); }
static const char *cs_dlerror(void) { return dlerror(); }
static void *cs_dlsym(void *h, const char *name) { return dlsym(h, name); }

// driver API
static CUresult t_cuInit(void *f, unsigned int flags) { return ((CUresult (*)(unsigned int))f)(flags); }
static CUresult t_cuDriverGetVersion(void *f, int *v) { return ((CUresult (*)(int *))f)(v); }
static CUresult t_cuDeviceGetCount(void *f, int *n) { return ((CUresult (*)(int *))f)(n); }
static CUresult t_cuDeviceGet(void *f, CUdevice *d, int ordinal) { return ((CUresult (*)(CUdevice *, int))f)(d, ordinal); }
static CUresult t_cuDeviceGetName(void *f, char *name, int len, CUdevice d) { return ((CUresult (*)(char *, int, CUdevice))f)(name, len, d); }
static CUresult t_cuDeviceGetAttribute(void *f, int *v, int attr, CUdevice d) { return ((CUresult (*)(int *, int, CUdevice))f)(v, attr, d); }
static CUresult t_cuDeviceTotalMem(void *f, size_t *b, CUdevice d) { return ((CUresult (*)(size_t *, CUdevice))f)(b, d); }
static CUresult t_cuDevicePrimaryCtxRetain(void *f, CUcontext *c, CUdevice d) { return ((CUresult (*)(CUcontext *, CUdevice))f)(c, d); }
static CUresult t_cuDevicePrimaryCtxRelease(void *f, CUdevice d) { return ((CUresult (*)(CUdevice))f)(d); }
static CUresult t_cuCtxSetCurrent(void *f, uintptr_t c) { return ((CUresult (*)(CUcontext))f)((CUcontext)c); }
static CUresult t_cuCtxSynchronize(void *f) { return ((CUresult (*)(void))f)(); }
static CUresult t_cuMemAlloc(void *f, CUdeviceptr *p, size_t n) { return ((CUresult (*)(CUdeviceptr *, size_t))f)(p, n); }
static CUresult t_cuMemFree(void *f, CUdeviceptr p) { return ((CUresult (*)(CUdeviceptr))f)(p); }
static CUresult t_cuMemAllocHost(void *f, void **p, size_t n) { return ((CUresult (*)(void **, size_t))f)(p, n); }
static CUresult t_cuMemFreeHost(void *f, void *p) { return ((CUresult (*)(void *))f)(p); }
static CUresult t_cuMemcpyHtoDAsync(void *f, CUdeviceptr dst, const void *src, size_t n, uintptr_t s) {
	return ((CUresult (*)(CUdeviceptr, const void *, size_t, CUstream))f)(dst, src, n, (CUstream)s);
}
static CUresult t_cuMemcpyDtoHAsync(void *f, void *dst, CUdeviceptr src, size_t n, uintptr_t s) {
	return ((CUresult (*)(void *, CUdeviceptr, size_t, CUstream))f)(dst, src, n, (CUstream)s);
}
static CUresult t_cuMemcpyDtoDAsync(void *f, CUdeviceptr dst, CUdeviceptr src, size_t n, uintptr_t s) {
	return ((CUresult (*)(CUdeviceptr, CUdeviceptr, size_t, CUstream))f)(dst, src, n, (CUstream)s);
}
static CUresult t_cuMemsetD32Async(void *f, CUdeviceptr dst, unsigned int v, size_t n, uintptr_t s) {
	return ((CUresult (*)(CUdeviceptr, unsigned int, size_t, CUstream))f)(dst, v, n, (CUstream)s);
}
static CUresult t_cuStreamCreate(void *f, CUstream *s, unsigned int flags) { return ((CUresult (*)(CUstream *, unsigned int))f)(s, flags); }
static CUresult t_cuStreamDestroy(void *f, uintptr_t s) { return ((CUresult (*)(CUstream))f)((CUstream)s); }
static CUresult t_cuStreamSynchronize(void *f, uintptr_t s) { return ((CUresult (*)(CUstream))f)((CUstream)s); }
static CUresult t_cuStreamWaitEvent(void *f, uintptr_t s, uintptr_t e, unsigned int flags) {
	return ((CUresult (*)(CUstream, CUevent, unsigned int))f)((CUstream)s, (CUevent)e, flags);
}
static CUresult t_cuEventCreate(void *f, CUevent *e, unsigned int flags) { return ((CUresult (*)(CUevent *, unsigned int))f)(e, flags); }
static CUresult t_cuEventRecord(void *f, uintptr_t e, uintptr_t s) { return ((CUresult (*)(CUevent, CUstream))f)((CUevent)e, (CUstream)s); }
static CUresult t_cuEventSynchronize(void *f, uintptr_t e) { return ((CUresult (*)(CUevent))f)((CUevent)e); }
static CUresult t_cuEventDestroy(void *f, uintptr_t e) { return ((CUresult (*)(CUevent))f)((CUevent)e); }
static CUresult t_cuEventElapsedTime(void *f, float *ms, uintptr_t a, uintptr_t b) {
	return ((CUresult (*)(float *, CUevent, CUevent))f)(ms, (CUevent)a, (CUevent)b);
}
static CUresult t_cuModuleLoadData(void *f, CUmodule *m, const void *image) { return ((CUresult (*)(CUmodule *, const void *))f)(m, image); }
static CUresult t_cuModuleUnload(void *f, uintptr_t m) { return ((CUresult (*)(CUmodule))f)((CUmodule)m); }
static CUresult t_cuModuleGetFunction(void *f, CUfunction *fn, uintptr_t m, const char *name) {
	return ((CUresult (*)(CUfunction *, CUmodule, const char *))f)(fn, (CUmodule)m, name);
}
// The kernel's parameters are packed in argbuf at offs (see args.go);
// cuLaunchKernel copies them before it returns.
static CUresult t_cuLaunchKernel(void *f, uintptr_t fn, unsigned int gx, unsigned int gy, unsigned int gz,
		unsigned int bx, unsigned int by, unsigned int bz, unsigned int shmem, uintptr_t s,
		char *argbuf, const int *offs, int nargs) {
	void *params[64];
	if (nargs > 64) return 1; // CUDA_ERROR_INVALID_VALUE
	for (int i = 0; i < nargs; i++) params[i] = argbuf + offs[i];
	return ((CUresult (*)(CUfunction, unsigned int, unsigned int, unsigned int, unsigned int, unsigned int,
		unsigned int, unsigned int, CUstream, void **, void **))f)((CUfunction)fn, gx, gy, gz, bx, by, bz,
		shmem, (CUstream)s, params, NULL);
}
static CUresult t_cuGetErrorName(void *f, CUresult r, const char **s) { return ((CUresult (*)(CUresult, const char **))f)(r, s); }

// cuBLAS (v2 API)
static cublasStatus_t t_cublasCreate(void *f, cublasHandle_t *h) { return ((cublasStatus_t (*)(cublasHandle_t *))f)(h); }
static cublasStatus_t t_cublasDestroy(void *f, uintptr_t h) { return ((cublasStatus_t (*)(cublasHandle_t))f)((cublasHandle_t)h); }
static cublasStatus_t t_cublasSetStream(void *f, uintptr_t h, uintptr_t s) {
	return ((cublasStatus_t (*)(cublasHandle_t, CUstream))f)((cublasHandle_t)h, (CUstream)s);
}
static cublasStatus_t t_cublasSetMathMode(void *f, uintptr_t h, int mode) { return ((cublasStatus_t (*)(cublasHandle_t, int))f)((cublasHandle_t)h, mode); }
static cublasStatus_t t_cublasGetVersion(void *f, uintptr_t h, int *v) { return ((cublasStatus_t (*)(cublasHandle_t, int *))f)((cublasHandle_t)h, v); }
static cublasStatus_t t_cublasSetWorkspace(void *f, uintptr_t h, CUdeviceptr ws, size_t n) {
	return ((cublasStatus_t (*)(cublasHandle_t, void *, size_t))f)((cublasHandle_t)h, (void *)(uintptr_t)ws, n);
}
static cublasStatus_t t_cublasGemmEx(void *f, uintptr_t h, int ta, int tb, int m, int n, int k, float alpha,
		CUdeviceptr A, int at, int lda, CUdeviceptr B, int bt, int ldb, float beta, CUdeviceptr C, int ct, int ldc,
		int compute, int algo) {
	return ((cublasStatus_t (*)(cublasHandle_t, int, int, int, int, int, const void *, const void *, int, int,
		const void *, int, int, const void *, void *, int, int, int, int))f)((cublasHandle_t)h, ta, tb, m, n, k,
		&alpha, (const void *)(uintptr_t)A, at, lda, (const void *)(uintptr_t)B, bt, ldb, &beta,
		(void *)(uintptr_t)C, ct, ldc, compute, algo);
}
static cublasStatus_t t_cublasGemmStridedBatchedEx(void *f, uintptr_t h, int ta, int tb, int m, int n, int k,
		float alpha, CUdeviceptr A, int at, int lda, long long sa, CUdeviceptr B, int bt, int ldb, long long sb,
		float beta, CUdeviceptr C, int ct, int ldc, long long sc, int batch, int compute, int algo) {
	return ((cublasStatus_t (*)(cublasHandle_t, int, int, int, int, int, const void *, const void *, int, int,
		long long, const void *, int, int, long long, const void *, void *, int, int, long long, int, int, int))f)(
		(cublasHandle_t)h, ta, tb, m, n, k, &alpha, (const void *)(uintptr_t)A, at, lda, sa,
		(const void *)(uintptr_t)B, bt, ldb, sb, &beta, (void *)(uintptr_t)C, ct, ldc, sc, batch, compute, algo);
}

// NVRTC
static nvrtcResult t_nvrtcVersion(void *f, int *maj, int *min) { return ((nvrtcResult (*)(int *, int *))f)(maj, min); }
static nvrtcResult t_nvrtcCreateProgram(void *f, nvrtcProgram *p, const char *src, const char *name) {
	return ((nvrtcResult (*)(nvrtcProgram *, const char *, const char *, int, const char *const *, const char *const *))f)(
		p, src, name, 0, NULL, NULL);
}
static nvrtcResult t_nvrtcDestroyProgram(void *f, nvrtcProgram *p) { return ((nvrtcResult (*)(nvrtcProgram *))f)(p); }
static nvrtcResult t_nvrtcCompileProgram(void *f, nvrtcProgram p, int n, char **opts) {
	return ((nvrtcResult (*)(nvrtcProgram, int, const char *const *))f)(p, n, (const char *const *)opts);
}
static nvrtcResult t_nvrtcGetSize(void *f, nvrtcProgram p, size_t *n) { return ((nvrtcResult (*)(nvrtcProgram, size_t *))f)(p, n); }
static nvrtcResult t_nvrtcGetBytes(void *f, nvrtcProgram p, char *out) { return ((nvrtcResult (*)(nvrtcProgram, char *))f)(p, out); }
static const char *t_nvrtcGetErrorString(void *f, nvrtcResult r) { return ((const char *(*)(nvrtcResult))f)(r); }
*/
import "C"

import (
	"unsafe"
)

const cgoEnabled = true

// dlopen opens path (a bare soname uses the dynamic loader's search); on
// failure it returns nil and dlerror's message.
func dlopen(path string) (unsafe.Pointer, string) {
	cs := C.CString(path)
	defer C.free(unsafe.Pointer(cs))
	h := C.cs_dlopen(cs)
	if h == nil {
		return nil, C.GoString(C.cs_dlerror())
	}
	return h, ""
}

func dlsym(h unsafe.Pointer, name string) unsafe.Pointer {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	return C.cs_dlsym(h, cs)
}

// ---- driver ----

func (d *driver) check(call string, r C.CUresult) error {
	if r == 0 {
		return nil
	}
	var name string
	if d.cuGetErrorName != nil {
		var s *C.char
		if C.t_cuGetErrorName(d.cuGetErrorName, r, &s) == 0 && s != nil {
			name = C.GoString(s)
		}
	}
	var desc string
	if d.cuGetErrorString != nil {
		var s *C.char
		if C.t_cuGetErrorName(d.cuGetErrorString, r, &s) == 0 && s != nil { // same prototype
			desc = C.GoString(s)
		}
	}
	return cuError(call, int(r), name, desc)
}

func (d *driver) init() error { return d.check("cuInit", C.t_cuInit(d.cuInit, 0)) }

func (d *driver) driverVersion() (int, error) {
	var v C.int
	err := d.check("cuDriverGetVersion", C.t_cuDriverGetVersion(d.cuDriverGetVersion, &v))
	return int(v), err
}

func (d *driver) deviceCount() (int, error) {
	var n C.int
	err := d.check("cuDeviceGetCount", C.t_cuDeviceGetCount(d.cuDeviceGetCount, &n))
	return int(n), err
}

func (d *driver) device(ordinal int) (int32, error) {
	var dev C.CUdevice
	err := d.check("cuDeviceGet", C.t_cuDeviceGet(d.cuDeviceGet, &dev, C.int(ordinal)))
	return int32(dev), err
}

func (d *driver) deviceName(dev int32) (string, error) {
	buf := (*C.char)(C.malloc(256))
	defer C.free(unsafe.Pointer(buf))
	if err := d.check("cuDeviceGetName", C.t_cuDeviceGetName(d.cuDeviceGetName, buf, 256, C.CUdevice(dev))); err != nil {
		return "", err
	}
	return C.GoString(buf), nil
}

func (d *driver) deviceAttr(attr int, dev int32) (int, error) {
	var v C.int
	err := d.check("cuDeviceGetAttribute", C.t_cuDeviceGetAttribute(d.cuDeviceGetAttribute, &v, C.int(attr), C.CUdevice(dev)))
	return int(v), err
}

func (d *driver) deviceTotalMem(dev int32) (uint64, error) {
	var n C.size_t
	err := d.check("cuDeviceTotalMem_v2", C.t_cuDeviceTotalMem(d.cuDeviceTotalMem, &n, C.CUdevice(dev)))
	return uint64(n), err
}

func (d *driver) primaryCtxRetain(dev int32) (cuContext, error) {
	var c C.CUcontext
	err := d.check("cuDevicePrimaryCtxRetain", C.t_cuDevicePrimaryCtxRetain(d.cuDevicePrimaryCtxRetain, &c, C.CUdevice(dev)))
	return cuContext(uintptr(c)), err
}

func (d *driver) primaryCtxRelease(dev int32) error {
	return d.check("cuDevicePrimaryCtxRelease_v2", C.t_cuDevicePrimaryCtxRelease(d.cuDevicePrimaryCtxRelease, C.CUdevice(dev)))
}

func (d *driver) ctxSetCurrent(c cuContext) error {
	return d.check("cuCtxSetCurrent", C.t_cuCtxSetCurrent(d.cuCtxSetCurrent, C.uintptr_t(c)))
}

func (d *driver) ctxSynchronize() error {
	return d.check("cuCtxSynchronize", C.t_cuCtxSynchronize(d.cuCtxSynchronize))
}

func (d *driver) memAlloc(n uint64) (devicePtr, error) {
	var p C.CUdeviceptr
	err := d.check("cuMemAlloc_v2", C.t_cuMemAlloc(d.cuMemAlloc, &p, C.size_t(n)))
	return devicePtr(p), err
}

func (d *driver) memFree(p devicePtr) error {
	return d.check("cuMemFree_v2", C.t_cuMemFree(d.cuMemFree, C.CUdeviceptr(p)))
}

func (d *driver) memAllocHost(n uint64) (unsafe.Pointer, error) {
	var p unsafe.Pointer
	err := d.check("cuMemAllocHost_v2", C.t_cuMemAllocHost(d.cuMemAllocHost, &p, C.size_t(n)))
	return p, err
}

func (d *driver) memFreeHost(p unsafe.Pointer) error {
	return d.check("cuMemFreeHost", C.t_cuMemFreeHost(d.cuMemFreeHost, p))
}

// memcpyHtoD copies from src, which must be pinned memory from memAllocHost
// (the copy is asynchronous).
func (d *driver) memcpyHtoD(dst devicePtr, src unsafe.Pointer, n uint64, s cuStream) error {
	return d.check("cuMemcpyHtoDAsync_v2", C.t_cuMemcpyHtoDAsync(d.cuMemcpyHtoDAsync, C.CUdeviceptr(dst), src, C.size_t(n), C.uintptr_t(s)))
}

// memcpyDtoH copies into dst, which must be pinned memory.
func (d *driver) memcpyDtoH(dst unsafe.Pointer, src devicePtr, n uint64, s cuStream) error {
	return d.check("cuMemcpyDtoHAsync_v2", C.t_cuMemcpyDtoHAsync(d.cuMemcpyDtoHAsync, dst, C.CUdeviceptr(src), C.size_t(n), C.uintptr_t(s)))
}

func (d *driver) memcpyDtoD(dst, src devicePtr, n uint64, s cuStream) error {
	return d.check("cuMemcpyDtoDAsync_v2", C.t_cuMemcpyDtoDAsync(d.cuMemcpyDtoDAsync, C.CUdeviceptr(dst), C.CUdeviceptr(src), C.size_t(n), C.uintptr_t(s)))
}

func (d *driver) memsetD32(dst devicePtr, v uint32, n uint64, s cuStream) error {
	return d.check("cuMemsetD32Async", C.t_cuMemsetD32Async(d.cuMemsetD32Async, C.CUdeviceptr(dst), C.uint(v), C.size_t(n), C.uintptr_t(s)))
}

func (d *driver) streamCreate(flags uint32) (cuStream, error) {
	var s C.CUstream
	err := d.check("cuStreamCreate", C.t_cuStreamCreate(d.cuStreamCreate, &s, C.uint(flags)))
	return cuStream(uintptr(s)), err
}

func (d *driver) streamDestroy(s cuStream) error {
	return d.check("cuStreamDestroy_v2", C.t_cuStreamDestroy(d.cuStreamDestroy, C.uintptr_t(s)))
}

func (d *driver) streamSynchronize(s cuStream) error {
	return d.check("cuStreamSynchronize", C.t_cuStreamSynchronize(d.cuStreamSynchronize, C.uintptr_t(s)))
}

func (d *driver) streamWaitEvent(s cuStream, e cuEvent) error {
	return d.check("cuStreamWaitEvent", C.t_cuStreamWaitEvent(d.cuStreamWaitEvent, C.uintptr_t(s), C.uintptr_t(e), 0))
}

func (d *driver) eventCreate(flags uint32) (cuEvent, error) {
	var e C.CUevent
	err := d.check("cuEventCreate", C.t_cuEventCreate(d.cuEventCreate, &e, C.uint(flags)))
	return cuEvent(uintptr(e)), err
}

func (d *driver) eventRecord(e cuEvent, s cuStream) error {
	return d.check("cuEventRecord", C.t_cuEventRecord(d.cuEventRecord, C.uintptr_t(e), C.uintptr_t(s)))
}

func (d *driver) eventSynchronize(e cuEvent) error {
	return d.check("cuEventSynchronize", C.t_cuEventSynchronize(d.cuEventSynchronize, C.uintptr_t(e)))
}

func (d *driver) eventDestroy(e cuEvent) error {
	return d.check("cuEventDestroy_v2", C.t_cuEventDestroy(d.cuEventDestroy, C.uintptr_t(e)))
}

func (d *driver) eventElapsed(a, b cuEvent) (float32, error) {
	if d.cuEventElapsedTime == nil {
		return 0, cuError("cuEventElapsedTime", 500, "", "symbol not in this driver")
	}
	var ms C.float
	err := d.check("cuEventElapsedTime", C.t_cuEventElapsedTime(d.cuEventElapsedTime, &ms, C.uintptr_t(a), C.uintptr_t(b)))
	return float32(ms), err
}

// moduleLoadData loads a cubin, or PTX (which must end in a NUL byte).
func (d *driver) moduleLoadData(image []byte) (cuModule, error) {
	if len(image) == 0 {
		return 0, cuError("cuModuleLoadData", 200, "", "empty image")
	}
	p := C.CBytes(image)
	defer C.free(p)
	var m C.CUmodule
	err := d.check("cuModuleLoadData", C.t_cuModuleLoadData(d.cuModuleLoadData, &m, p))
	return cuModule(uintptr(m)), err
}

func (d *driver) moduleUnload(m cuModule) error {
	return d.check("cuModuleUnload", C.t_cuModuleUnload(d.cuModuleUnload, C.uintptr_t(m)))
}

func (d *driver) moduleGetFunction(m cuModule, name string) (cuFunction, error) {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	var f C.CUfunction
	err := d.check("cuModuleGetFunction("+name+")", C.t_cuModuleGetFunction(d.cuModuleGetFunction, &f, C.uintptr_t(m), cs))
	return cuFunction(uintptr(f)), err
}

func (d *driver) launch(f cuFunction, grid, block [3]uint32, shmem uint32, s cuStream, a *argPack) error {
	var buf *C.char
	var offs *C.int
	if len(a.offs) > 0 {
		buf = (*C.char)(unsafe.Pointer(&a.buf[0]))
		offs = (*C.int)(unsafe.Pointer(&a.offs[0]))
	}
	return d.check("cuLaunchKernel", C.t_cuLaunchKernel(d.cuLaunchKernel, C.uintptr_t(f),
		C.uint(grid[0]), C.uint(grid[1]), C.uint(grid[2]), C.uint(block[0]), C.uint(block[1]), C.uint(block[2]),
		C.uint(shmem), C.uintptr_t(s), buf, offs, C.int(len(a.offs))))
}

// ---- cuBLAS ----

func (c *cublas) newHandle() (uintptr, error) {
	var h C.cublasHandle_t
	err := cublasError("cublasCreate_v2", int(C.t_cublasCreate(c.create, &h)))
	return uintptr(h), err
}

func (c *cublas) destroyHandle(h uintptr) error {
	return cublasError("cublasDestroy_v2", int(C.t_cublasDestroy(c.destroy, C.uintptr_t(h))))
}

func (c *cublas) setStreamOf(h uintptr, s cuStream) error {
	return cublasError("cublasSetStream_v2", int(C.t_cublasSetStream(c.setStream, C.uintptr_t(h), C.uintptr_t(s))))
}

func (c *cublas) setMath(h uintptr, mode int) error {
	return cublasError("cublasSetMathMode", int(C.t_cublasSetMathMode(c.setMathMode, C.uintptr_t(h), C.int(mode))))
}

func (c *cublas) versionOf(h uintptr) (int, error) {
	if c.getVersion == nil {
		return 0, nil
	}
	var v C.int
	err := cublasError("cublasGetVersion_v2", int(C.t_cublasGetVersion(c.getVersion, C.uintptr_t(h), &v)))
	return int(v), err
}

func (c *cublas) workspace(h uintptr, p devicePtr, n uint64) error {
	if c.setWorkspace == nil {
		return nil
	}
	return cublasError("cublasSetWorkspace_v2", int(C.t_cublasSetWorkspace(c.setWorkspace, C.uintptr_t(h), C.CUdeviceptr(p), C.size_t(n))))
}

// gemm runs g (column-major, as cuBLAS sees it); batched when g.batch > 0.
func (c *cublas) gemm(h uintptr, g gemmCall) error {
	if g.batch > 0 {
		return cublasError("cublasGemmStridedBatchedEx", int(C.t_cublasGemmStridedBatchedEx(c.gemmStridedBatchedEx, C.uintptr_t(h),
			C.int(g.opA), C.int(g.opB), C.int(g.m), C.int(g.n), C.int(g.k), C.float(g.alpha),
			C.CUdeviceptr(g.a), C.int(g.abType), C.int(g.lda), C.longlong(g.strideA),
			C.CUdeviceptr(g.b), C.int(g.abType), C.int(g.ldb), C.longlong(g.strideB),
			C.float(g.beta), C.CUdeviceptr(g.c), C.int(g.cType), C.int(g.ldc), C.longlong(g.strideC),
			C.int(g.batch), C.int(g.compute), C.int(cublasGemmDefault))))
	}
	return cublasError("cublasGemmEx", int(C.t_cublasGemmEx(c.gemmEx, C.uintptr_t(h),
		C.int(g.opA), C.int(g.opB), C.int(g.m), C.int(g.n), C.int(g.k), C.float(g.alpha),
		C.CUdeviceptr(g.a), C.int(g.abType), C.int(g.lda), C.CUdeviceptr(g.b), C.int(g.abType), C.int(g.ldb),
		C.float(g.beta), C.CUdeviceptr(g.c), C.int(g.cType), C.int(g.ldc), C.int(g.compute), C.int(cublasGemmDefault))))
}

// ---- NVRTC ----

func (n *nvrtc) check(call string, r C.nvrtcResult) error {
	if r == 0 {
		return nil
	}
	err := nvrtcError(call, int(r))
	if n.getErrorString != nil {
		if s := C.t_nvrtcGetErrorString(n.getErrorString, r); s != nil {
			err.(*Error).Name = C.GoString(s)
		}
	}
	return err
}

func (n *nvrtc) versionOf() (major, minor int, err error) {
	var a, b C.int
	err = n.check("nvrtcVersion", C.t_nvrtcVersion(n.version, &a, &b))
	return int(a), int(b), err
}

// compileProgram compiles src (named name in messages) with opts. It returns
// the PTX (NUL-terminated), the CUBIN when the library can give one and the
// options name a real architecture (sm_XX), and the compiler's log.
func (n *nvrtc) compileSource(src, name string, opts []string) (ptx, cubin []byte, log string, err error) {
	csrc, cname := C.CString(src), C.CString(name)
	defer C.free(unsafe.Pointer(csrc))
	defer C.free(unsafe.Pointer(cname))
	var prog C.nvrtcProgram
	if err := n.check("nvrtcCreateProgram", C.t_nvrtcCreateProgram(n.createProgram, &prog, csrc, cname)); err != nil {
		return nil, nil, "", err
	}
	defer C.t_nvrtcDestroyProgram(n.destroyProgram, &prog)
	copts := (**C.char)(C.malloc(C.size_t(len(opts)+1) * C.size_t(unsafe.Sizeof(uintptr(0)))))
	defer C.free(unsafe.Pointer(copts))
	list := unsafe.Slice(copts, len(opts)+1)
	for i, o := range opts {
		list[i] = C.CString(o)
	}
	defer func() {
		for i := range opts {
			C.free(unsafe.Pointer(list[i]))
		}
	}()
	cerr := n.check("nvrtcCompileProgram", C.t_nvrtcCompileProgram(n.compileProgram, prog, C.int(len(opts)), copts))
	log = string(n.bytes(prog, n.getProgramLogSize, n.getProgramLog))
	if cerr != nil {
		return nil, nil, log, cerr
	}
	ptx = n.bytes(prog, n.getPTXSize, n.getPTX)
	if n.getCUBIN != nil && n.getCUBINSize != nil {
		cubin = n.bytes(prog, n.getCUBINSize, n.getCUBIN)
	}
	return ptx, cubin, log, nil
}

// bytes reads one of the program's outputs through its size and copy
// functions; nil when there is none.
func (n *nvrtc) bytes(prog C.nvrtcProgram, sizeFn, getFn unsafe.Pointer) []byte {
	var size C.size_t
	if C.t_nvrtcGetSize(sizeFn, prog, &size) != 0 || size == 0 {
		return nil
	}
	buf := C.malloc(size)
	defer C.free(buf)
	if C.t_nvrtcGetBytes(getFn, prog, (*C.char)(buf)) != 0 {
		return nil
	}
	out := C.GoBytes(buf, C.int(size))
	// the log is NUL-terminated; keep PTX's NUL (cuModuleLoadData needs it)
	if getFn == n.getProgramLog && len(out) > 0 && out[len(out)-1] == 0 {
		out = out[:len(out)-1]
	}
	return out
}
