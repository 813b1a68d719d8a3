//go:build !cgo

package gpu

import "unsafe"

// The build without cgo: no library can be opened, so openLib fails with
// ErrNoCUDA (errNoCgo) before any of the methods below could be reached.
// They exist so that the portable code compiles, and return errNoCgo.

const cgoEnabled = false

func dlopen(_ string) (unsafe.Pointer, string) { return nil, errNoCgo.Error() }

func dlsym(_ unsafe.Pointer, _ string) unsafe.Pointer { return nil }

func (d *driver) init() error { return errNoCgo }

func (d *driver) driverVersion() (int, error) { return 0, errNoCgo }

func (d *driver) deviceCount() (int, error) { return 0, errNoCgo }

func (d *driver) device(_ int) (int32, error) { return 0, errNoCgo }

func (d *driver) deviceName(_ int32) (string, error) { return "", errNoCgo }

func (d *driver) deviceAttr(_ int, _ int32) (int, error) { return 0, errNoCgo }

func (d *driver) deviceTotalMem(_ int32) (uint64, error) { return 0, errNoCgo }

func (d *driver) primaryCtxRetain(_ int32) (cuContext, error) { return 0, errNoCgo }

func (d *driver) primaryCtxRelease(_ int32) error { return errNoCgo }

func (d *driver) ctxSetCurrent(_ cuContext) error { return errNoCgo }

func (d *driver) ctxSynchronize() error { return errNoCgo }

func (d *driver) memAlloc(_ uint64) (devicePtr, error) { return 0, errNoCgo }

func (d *driver) memFree(_ devicePtr) error { return errNoCgo }

func (d *driver) memAllocHost(_ uint64) (unsafe.Pointer, error) { return nil, errNoCgo }

func (d *driver) memFreeHost(_ unsafe.Pointer) error { return errNoCgo }

func (d *driver) memcpyHtoD(_ devicePtr, _ unsafe.Pointer, _ uint64, _ cuStream) error {
	return errNoCgo
}

func (d *driver) memcpyDtoH(_ unsafe.Pointer, _ devicePtr, _ uint64, _ cuStream) error {
	return errNoCgo
}

func (d *driver) memcpyDtoD(_, _ devicePtr, _ uint64, _ cuStream) error { return errNoCgo }

func (d *driver) memsetD32(_ devicePtr, _ uint32, _ uint64, _ cuStream) error { return errNoCgo }

func (d *driver) streamCreate(_ uint32) (cuStream, error) { return 0, errNoCgo }

func (d *driver) streamDestroy(_ cuStream) error { return errNoCgo }

func (d *driver) streamSynchronize(_ cuStream) error { return errNoCgo }

func (d *driver) streamWaitEvent(_ cuStream, _ cuEvent) error { return errNoCgo }

func (d *driver) eventCreate(_ uint32) (cuEvent, error) { return 0, errNoCgo }

func (d *driver) eventRecord(_ cuEvent, _ cuStream) error { return errNoCgo }

func (d *driver) eventSynchronize(_ cuEvent) error { return errNoCgo }

func (d *driver) eventDestroy(_ cuEvent) error { return errNoCgo }

func (d *driver) eventElapsed(_, _ cuEvent) (float32, error) { return 0, errNoCgo }

func (d *driver) moduleLoadData(_ []byte) (cuModule, error) { return 0, errNoCgo }

func (d *driver) moduleUnload(_ cuModule) error { return errNoCgo }

func (d *driver) moduleGetFunction(_ cuModule, _ string) (cuFunction, error) { return 0, errNoCgo }

func (d *driver) launch(_ cuFunction, _, _ [3]uint32, _ uint32, _ cuStream, _ *argPack) error {
	return errNoCgo
}

func (c *cublas) newHandle() (uintptr, error) { return 0, errNoCgo }

func (c *cublas) destroyHandle(_ uintptr) error { return errNoCgo }

func (c *cublas) setStreamOf(_ uintptr, _ cuStream) error { return errNoCgo }

func (c *cublas) setMath(_ uintptr, _ int) error { return errNoCgo }

func (c *cublas) versionOf(_ uintptr) (int, error) { return 0, errNoCgo }

func (c *cublas) workspace(_ uintptr, _ devicePtr, _ uint64) error { return errNoCgo }

func (c *cublas) gemm(_ uintptr, _ gemmCall) error { return errNoCgo }

func (n *nvrtc) versionOf() (major, minor int, err error) { return 0, 0, errNoCgo }

func (n *nvrtc) compileSource(_, _ string, _ []string) (ptx, cubin []byte, log string, err error) {
	return nil, nil, "", errNoCgo
}
