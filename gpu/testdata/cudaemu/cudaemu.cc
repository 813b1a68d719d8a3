// cudaemu: the parts of the CUDA driver API and cuBLAS that the gpu
// package calls, run on the host, for testing the package's device code
// (the kernels, their launches, the GEMM mapping, the streams and events)
// on a machine without a GPU. It is built by the package's tests into one
// shared library that is both libcuda.so.1 and libcublas.so.13.
//
// Memory: device memory is host memory. Each allocation ends at a
// PROT_NONE guard page, so a kernel writing past its buffer faults, and
// starts as NaN (all bits set, in fp32 and bf16), as does dynamic shared
// memory, so a result that read memory nothing wrote shows.
//
// Streams: work is queued per stream and run only when the host has to see
// it (a stream, event or context synchronisation, a free), and then in an
// order chosen to expose missing dependencies: CUDAEMU_ORDER=compute-first
// (default) runs the earliest-created stream's work as far as its event
// waits allow before any other stream's, copy-first the reverse. A copy
// not ordered before the kernel that reads it, or a staging buffer reused
// before its copy ran, then gives wrong values instead of passing by luck.
//
// Kernels: each block's threads are fibers on the calling thread, switched
// at __syncthreads and warp shuffles (a hand-written switch on x86-64,
// ucontext elsewhere); a kernel without barriers runs its threads as plain
// calls. copy-first also runs blocks and threads in reverse order.
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

#include "emu.h"

typedef int CUresult;
typedef unsigned long long CUdeviceptr;

enum {
    OK = 0,
    ERR_INVALID_VALUE = 1,
    ERR_OUT_OF_MEMORY = 2,
    ERR_INVALID_HANDLE = 400,
    ERR_NOT_FOUND = 500,
    ERR_LAUNCH_FAILED = 719,
};

static void fail(const char* what) {
    fprintf(stderr, "cudaemu: %s\n", what);
}

// ------------------------------------------------------------- kernels

static std::map<std::string, const emu_kernel*>& kernels() {
    static std::map<std::string, const emu_kernel*> m;
    return m;
}

extern "C" void emu_register(const emu_kernel* k) { kernels()[k->name] = k; }

// ---------------------------------------------------------------- fibers

struct fiber {
    void* sp = nullptr;
#if !defined(__x86_64__)
    ucontext_t uc;
#endif
    emu_dim3 tid{};
    int lane = 0, warp = 0;
    int shfl_phase = 0;
    bool done = false;
    char* stack = nullptr;
};

static const size_t stackBytes = 64 << 10;
static const int maxThreads = 1024;

struct barrier {
    int arrived = 0;
    unsigned long gen = 0;
};

static struct {
    fiber fibers[maxThreads];
    int n = 0;
    int cur = -1;
    void* sched_sp = nullptr;
#if !defined(__x86_64__)
    ucontext_t sched_uc;
#endif
    barrier block;
    barrier warps[maxThreads / 32];
    int warp_size[maxThreads / 32];
    int warp_live[maxThreads / 32];
    int live = 0;
    float shfl[2][maxThreads / 32][32];
    std::vector<char> dyn;
    const emu_kernel* k = nullptr;
    void* args = nullptr;
    bool deadlock = false;
} B;

extern "C" emu_dim3 emu_block_idx, emu_block_dim, emu_grid_dim;
emu_dim3 emu_block_idx, emu_block_dim, emu_grid_dim;

extern "C" const emu_dim3* emu_thread_idx() { return &B.fibers[B.cur].tid; }
extern "C" void* emu_dyn_shared() { return B.dyn.data(); }

#if defined(__x86_64__)
// emu_switch saves the callee-saved registers on the current stack, stores
// the stack pointer in *from and continues on the stack to.
extern "C" void emu_switch(void** from, void* to);
asm(R"(
.text
.globl emu_switch
.type emu_switch,@function
emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
.size emu_switch, .-emu_switch
.section .note.GNU-stack,"",@progbits
.text
)");
#endif

// copy_first: CUDAEMU_ORDER=copy-first runs the latest-created stream's
// work first (see step) and also blocks and the threads of a block in
// reverse order, so a kernel whose result depends on the order its threads
// run in (a race) differs between the two runs.
static bool copy_first() {
    static int r = -1;
    if (r < 0) {
        const char* o = getenv("CUDAEMU_ORDER");
        r = o && strcmp(o, "copy-first") == 0;
    }
    return r;
}

static void to_scheduler() {
    fiber& f = B.fibers[B.cur];
#if defined(__x86_64__)
    emu_switch(&f.sp, B.sched_sp);
#else
    swapcontext(&f.uc, &B.sched_uc);
#endif
}

static void fiber_main() {
    B.k->run(B.args);
    fiber& f = B.fibers[B.cur];
    f.done = true;
    B.live--;
    B.warp_live[f.warp]--;
    to_scheduler();
    abort();  // a finished fiber is never resumed
}

// wait_at blocks the current fiber at b until want fibers (those still
// running) have arrived.
static void wait_at(barrier& b, const int* want) {
    const unsigned long gen = b.gen;
    if (++b.arrived >= *want) {
        b.arrived = 0;
        b.gen++;
        return;
    }
    while (b.gen == gen) {
        to_scheduler();
        if (B.deadlock) return;
    }
}

// direct is set while a kernel without barriers runs its threads as plain
// calls; a barrier then means the generator misjudged the kernel.
static bool direct = false;

static void no_barrier() {
    fprintf(stderr, "cudaemu: kernel %s waits at a barrier but was run without fibers\n", B.k->name);
    abort();
}

extern "C" void emu_syncthreads() {
    if (direct) no_barrier();
    wait_at(B.block, &B.live);
}

// emu_shfl_xor exchanges v across the warp with one barrier: each shuffle
// writes the other of two buffers (a lane cannot write a buffer again
// before every lane has passed the barrier after which it is read).
extern "C" float emu_shfl_xor(float v, int mask) {
    if (direct) no_barrier();
    fiber& f = B.fibers[B.cur];
    const int buf = f.shfl_phase;
    f.shfl_phase ^= 1;
    B.shfl[buf][f.warp][f.lane] = v;
    wait_at(B.warps[f.warp], &B.warp_live[f.warp]);
    const int src = f.lane ^ mask;
    return src < B.warp_size[f.warp] ? B.shfl[buf][f.warp][src] : v;
}

static char* stacks() {
    static char* s = nullptr;
    if (!s) {
        s = (char*)mmap(nullptr, stackBytes * maxThreads, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (s == MAP_FAILED) {
            fail("no memory for fiber stacks");
            abort();
        }
    }
    return s;
}

// run_block runs one block of the launch in B to the end; false on a
// deadlock (some threads wait at a barrier the others never reach).
static bool run_block(int n) {
    if (!B.k->fibers) {
        // No barriers: each thread runs to its end in turn.
        direct = true;
        const int bx = emu_block_dim.x, by = emu_block_dim.y;
        B.cur = 0;
        for (int k = 0; k < n; k++) {
            const int i = copy_first() ? n - 1 - k : k;
            B.fibers[0].tid = emu_dim3{(unsigned)(i % bx), (unsigned)((i / bx) % by), (unsigned)(i / (bx * by))};
            B.k->run(B.args);
        }
        direct = false;
        B.cur = -1;
        return true;
    }
    char* st = stacks();
    B.n = n;
    B.live = n;
    B.block = barrier{};
    B.deadlock = false;
    const int bx = emu_block_dim.x, by = emu_block_dim.y;
    for (int w = 0; w < (n + 31) / 32; w++) {
        B.warps[w] = barrier{};
        B.warp_size[w] = n - 32 * w < 32 ? n - 32 * w : 32;
        B.warp_live[w] = B.warp_size[w];
    }
    for (int i = 0; i < n; i++) {
        fiber& f = B.fibers[i];
        f.tid = emu_dim3{(unsigned)(i % bx), (unsigned)((i / bx) % by), (unsigned)(i / (bx * by))};
        f.lane = i & 31;
        f.warp = i >> 5;
        f.shfl_phase = 0;
        f.done = false;
        f.stack = st + (size_t)i * stackBytes;
#if defined(__x86_64__)
        uintptr_t top = ((uintptr_t)(f.stack + stackBytes)) & ~(uintptr_t)15;
        void** sp = (void**)top;
        *--sp = nullptr;                // fiber_main's return address (never used)
        *--sp = (void*)&fiber_main;     // where emu_switch's ret goes
        for (int r = 0; r < 6; r++) *--sp = nullptr;  // rbp rbx r12 r13 r14 r15
        f.sp = sp;
#else
        getcontext(&f.uc);
        f.uc.uc_stack.ss_sp = f.stack;
        f.uc.uc_stack.ss_size = stackBytes;
        f.uc.uc_link = nullptr;
        makecontext(&f.uc, fiber_main, 0);
#endif
    }
    int stuck = 0;
    while (B.live > 0) {
        bool progress = false;
        for (int k = 0; k < n; k++) {
            const int i = copy_first() ? n - 1 - k : k;
            fiber& f = B.fibers[i];
            if (f.done) continue;
            const unsigned long g0 = B.block.gen, w0 = B.warps[f.warp].gen;
            const int a0 = B.block.arrived, wa0 = B.warps[f.warp].arrived;
            B.cur = i;
#if defined(__x86_64__)
            emu_switch(&B.sched_sp, f.sp);
#else
            swapcontext(&B.sched_uc, &f.uc);
#endif
            if (f.done || B.block.gen != g0 || B.warps[f.warp].gen != w0 || B.block.arrived != a0 ||
                B.warps[f.warp].arrived != wa0)
                progress = true;
        }
        if (!progress && ++stuck > 2) {
            // Let every waiting fiber return from its barrier, then give up.
            B.deadlock = true;
            for (int i = 0; i < n; i++) {
                if (B.fibers[i].done) continue;
                B.cur = i;
#if defined(__x86_64__)
                emu_switch(&B.sched_sp, B.fibers[i].sp);
#else
                swapcontext(&B.sched_uc, &B.fibers[i].uc);
#endif
            }
            return false;
        } else if (progress) {
            stuck = 0;
        }
    }
    B.cur = -1;
    return true;
}

// ---------------------------------------------------------------- memory

struct alloc_info {
    void* base;
    size_t mapped;
};
static std::map<uintptr_t, alloc_info> allocs;  // by user pointer

static void* guarded_alloc(size_t n) {
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t body = (n + page - 1) / page * page;
    const size_t mapped = body + page;
    void* base = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return nullptr;
    mprotect((char*)base + body, page, PROT_NONE);
    // The buffer ends 16-byte aligned just before the guard page.
    uintptr_t p = ((uintptr_t)base + body - n) & ~(uintptr_t)15;
    memset((void*)p, 0xFF, n);  // NaN (fp32 and bf16): a kernel must not read memory nothing wrote
    allocs[p] = alloc_info{base, mapped};
    return (void*)p;
}

static bool guarded_free(void* p) {
    auto it = allocs.find((uintptr_t)p);
    if (it == allocs.end()) return false;
    munmap(it->second.base, it->second.mapped);
    allocs.erase(it);
    return true;
}

// --------------------------------------------------------------- streams

struct event {
    unsigned long recorded = 0;  // records enqueued
    unsigned long done = 0;      // records executed
};

struct op {
    std::string what;  // for CUDAEMU_TRACE
    std::function<CUresult()> run;
    event* record = nullptr;  // an event record: done = seq when run
    event* wait = nullptr;    // a wait: runnable once wait->done >= seq
    unsigned long seq = 0;
};

struct stream {
    int order;  // creation order
    std::deque<op> q;
};

static std::vector<stream*> streams;
static int created = 0;
static CUresult sticky = OK;  // a failed kernel poisons the context, as on a GPU


static bool trace() {
    static int t = -1;
    if (t < 0) t = getenv("CUDAEMU_TRACE") != nullptr;
    return t;
}

static bool runnable(const op& o) { return !o.wait || o.wait->done >= o.seq; }

// step runs the first runnable op of the stream the order prefers; false
// when no stream has a runnable op.
static bool step() {
    std::vector<stream*> order(streams);
    if (copy_first()) {
        std::vector<stream*> r(order.rbegin(), order.rend());
        order.swap(r);
    }
    for (stream* s : order) {
        if (s->q.empty() || !runnable(s->q.front())) continue;
        op o = std::move(s->q.front());
        s->q.pop_front();
        if (trace()) fprintf(stderr, "cudaemu: stream %d runs %s\n", s->order, o.what.c_str());
        if (o.record) {
            o.record->done = o.seq;
        } else if (o.run && sticky == OK) {
            CUresult r = o.run();
            if (r != OK) sticky = r;
        }
        return true;
    }
    return false;
}

// drain runs queued work until done() holds.
static CUresult drain(const std::function<bool()>& done) {
    while (!done()) {
        if (!step()) {
            fail("deadlock: streams wait on events that are never recorded");
            return ERR_LAUNCH_FAILED;
        }
    }
    return sticky;
}

static CUresult drain_all() {
    return drain([] {
        for (stream* s : streams)
            if (!s->q.empty()) return false;
        return true;
    });
}

static stream* S(void* s) {
    if (!s) {
        fail("the NULL stream is not emulated");
        return nullptr;
    }
    return (stream*)s;
}

static CUresult enqueue(void* s, std::string what, std::function<CUresult()> fn) {
    stream* st = S(s);
    if (!st) return ERR_INVALID_HANDLE;
    op o;
    o.what = std::move(what);
    o.run = std::move(fn);
    st->q.push_back(std::move(o));
    return sticky;
}

// ------------------------------------------------------------ driver API

extern "C" {

CUresult cuInit(unsigned int) { return OK; }
CUresult cuDriverGetVersion(int* v) {
    *v = 13000;
    return OK;
}
CUresult cuDeviceGetCount(int* n) {
    *n = 1;
    return OK;
}
CUresult cuDeviceGet(int* d, int ordinal) {
    if (ordinal != 0) return ERR_INVALID_VALUE;
    *d = 0;
    return OK;
}
CUresult cuDeviceGetName(char* name, int len, int) {
    snprintf(name, len, "cudaemu (host emulation)");
    return OK;
}
CUresult cuDeviceGetAttribute(int* v, int attr, int) {
    switch (attr) {
        case 16: *v = 4; return OK;   // multiprocessors
        case 75: *v = 9; return OK;   // compute capability major
        case 76: *v = 0; return OK;   // minor
    }
    return ERR_INVALID_VALUE;
}
CUresult cuDeviceTotalMem_v2(size_t* b, int) {
    *b = (size_t)8 << 30;
    return OK;
}
static int ctx_token;
CUresult cuDevicePrimaryCtxRetain(void** c, int) {
    *c = &ctx_token;
    return OK;
}
CUresult cuDevicePrimaryCtxRelease_v2(int) { return OK; }
CUresult cuCtxSetCurrent(void*) { return OK; }
CUresult cuCtxSynchronize() { return drain_all(); }

CUresult cuMemAlloc_v2(CUdeviceptr* p, size_t n) {
    void* q = guarded_alloc(n ? n : 1);
    if (!q) return ERR_OUT_OF_MEMORY;
    *p = (CUdeviceptr)(uintptr_t)q;
    return OK;
}
CUresult cuMemFree_v2(CUdeviceptr p) {
    CUresult r = drain_all();  // cuMemFree waits for the work that may use p
    if (!guarded_free((void*)(uintptr_t)p)) {
        fail("cuMemFree of a pointer cuMemAlloc did not return");
        return ERR_INVALID_VALUE;
    }
    return r;
}
CUresult cuMemAllocHost_v2(void** p, size_t n) {
    *p = guarded_alloc(n ? n : 1);
    return *p ? OK : ERR_OUT_OF_MEMORY;
}
CUresult cuMemFreeHost(void* p) {
    CUresult r = drain_all();
    if (!guarded_free(p)) return ERR_INVALID_VALUE;
    return r;
}
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void* src, size_t n, void* s) {
    // Like the real call from pinned memory, the copy reads src when it
    // runs, not now: the host must not reuse src before then.
    return enqueue(s, "HtoD " + std::to_string(n) + " bytes to " + std::to_string(dst), [=] {
        memcpy((void*)(uintptr_t)dst, src, n);
        return OK;
    });
}
CUresult cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, size_t n, void* s) {
    return enqueue(s, "DtoH " + std::to_string(n) + " bytes", [=] {
        memcpy(dst, (const void*)(uintptr_t)src, n);
        return OK;
    });
}
CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, void* s) {
    return enqueue(s, "DtoD", [=] {
        memmove((void*)(uintptr_t)dst, (const void*)(uintptr_t)src, n);
        return OK;
    });
}
CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned int v, size_t n, void* s) {
    return enqueue(s, "memset", [=] {
        unsigned int* p = (unsigned int*)(uintptr_t)dst;
        for (size_t i = 0; i < n; i++) p[i] = v;
        return OK;
    });
}

CUresult cuStreamCreate(void** s, unsigned int) {
    stream* st = new stream{created++, {}};
    streams.push_back(st);
    *s = st;
    return OK;
}
CUresult cuStreamDestroy_v2(void* s) {
    stream* st = S(s);
    if (!st) return ERR_INVALID_HANDLE;
    CUresult r = drain([st] { return st->q.empty(); });
    for (size_t i = 0; i < streams.size(); i++)
        if (streams[i] == st) streams.erase(streams.begin() + i);
    delete st;
    return r;
}
CUresult cuStreamSynchronize(void* s) {
    stream* st = S(s);
    if (!st) return ERR_INVALID_HANDLE;
    return drain([st] { return st->q.empty(); });
}
// enqueue_event queues on stream s a record of event e (record) or a wait
// for its latest record.
static CUresult enqueue_event(void* s, void* e, bool record) {
    stream* st = S(s);
    if (!st || !e) return ERR_INVALID_HANDLE;
    event* ev = (event*)e;
    op o;
    o.what = std::string(record ? "record" : "wait for") + " event " + std::to_string((uintptr_t)ev);
    if (record) {
        o.record = ev;
        o.seq = ++ev->recorded;
    } else {
        o.wait = ev;
        o.seq = ev->recorded;  // the latest record at the time of the call (0: none, no wait)
    }
    st->q.push_back(std::move(o));
    return sticky;
}
CUresult cuStreamWaitEvent(void* s, void* e, unsigned int) { return enqueue_event(s, e, false); }
CUresult cuEventCreate(void** e, unsigned int) {
    *e = new event;
    return OK;
}
CUresult cuEventRecord(void* e, void* s) { return enqueue_event(s, e, true); }
CUresult cuEventSynchronize(void* e) {
    event* ev = (event*)e;
    if (!ev) return ERR_INVALID_HANDLE;
    const unsigned long want = ev->recorded;
    return drain([ev, want] { return ev->done >= want; });
}
CUresult cuEventDestroy_v2(void* e) {
    delete (event*)e;
    return OK;
}
CUresult cuEventElapsedTime(float* ms, void*, void*) {
    *ms = 0;
    return OK;
}

static int module_token;
CUresult cuModuleLoadData(void** m, const void*) {
    // The image (PTX or CUBIN from NVRTC) is not run: the same sources,
    // compiled for the host, are linked into this library.
    *m = &module_token;
    return OK;
}
CUresult cuModuleUnload(void*) { return OK; }
CUresult cuModuleGetFunction(void** f, void*, const char* name) {
    auto it = kernels().find(name);
    if (it == kernels().end()) return ERR_NOT_FOUND;
    *f = (void*)it->second;
    return OK;
}

CUresult cuLaunchKernel(void* f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx, unsigned int by,
                        unsigned int bz, unsigned int shmem, void* s, void** params, void** extra) {
    const emu_kernel* k = (const emu_kernel*)f;
    if (!k || extra) return ERR_INVALID_VALUE;
    const unsigned long threads = (unsigned long)bx * by * bz;
    // The limits of a real launch, so a bad launch fails here too.
    if (threads == 0 || threads > 1024 || bz > 64 || gx == 0 || gy == 0 || gz == 0 || gy > 65535 || gz > 65535 ||
        gx > 2147483647u || shmem > 48 * 1024) {
        fprintf(stderr, "cudaemu: %s: launch (%u,%u,%u)x(%u,%u,%u) shmem %u out of limits\n", k->name, gx, gy, gz, bx,
                by, bz, shmem);
        return ERR_INVALID_VALUE;
    }
    void* args = k->capture(params);
    return enqueue(s, std::string("kernel ") + k->name, [=]() -> CUresult {
        emu_grid_dim = emu_dim3{gx, gy, gz};
        emu_block_dim = emu_dim3{bx, by, bz};
        B.dyn.assign(shmem ? shmem : 1, 0);
        memset(B.dyn.data(), 0xFF, B.dyn.size());
        B.k = k;
        B.args = args;
        CUresult r = OK;
        const bool rev = copy_first();
        for (unsigned z = 0; z < gz && r == OK; z++)
            for (unsigned y = 0; y < gy && r == OK; y++)
                for (unsigned x = 0; x < gx && r == OK; x++) {
                    emu_block_idx = rev ? emu_dim3{gx - 1 - x, gy - 1 - y, gz - 1 - z} : emu_dim3{x, y, z};
                    if (!run_block((int)threads)) {
                        fprintf(stderr, "cudaemu: %s: block (%u,%u,%u): threads wait at a barrier the others never reach\n",
                                k->name, x, y, z);
                        r = ERR_LAUNCH_FAILED;
                    }
                }
        k->release(args);
        return r;
    });
}

CUresult cuGetErrorName(CUresult r, const char** s) {
    switch (r) {
        case OK: *s = "CUDA_SUCCESS"; return OK;
        case ERR_INVALID_VALUE: *s = "CUDA_ERROR_INVALID_VALUE"; return OK;
        case ERR_OUT_OF_MEMORY: *s = "CUDA_ERROR_OUT_OF_MEMORY"; return OK;
        case ERR_INVALID_HANDLE: *s = "CUDA_ERROR_INVALID_HANDLE"; return OK;
        case ERR_NOT_FOUND: *s = "CUDA_ERROR_NOT_FOUND"; return OK;
        case ERR_LAUNCH_FAILED: *s = "CUDA_ERROR_LAUNCH_FAILED"; return OK;
    }
    *s = "CUDA_ERROR_UNKNOWN";
    return OK;
}
CUresult cuGetErrorString(CUresult r, const char** s) { return cuGetErrorName(r, s); }

// ---------------------------------------------------------------- cuBLAS

struct blas_handle {
    void* stream = nullptr;
};

int cublasCreate_v2(void** h) {
    *h = new blas_handle;
    return 0;
}
int cublasDestroy_v2(void* h) {
    delete (blas_handle*)h;
    return 0;
}
int cublasSetStream_v2(void* h, void* s) {
    ((blas_handle*)h)->stream = s;
    return 0;
}
int cublasSetMathMode(void*, int) { return 0; }
int cublasGetVersion_v2(void*, int* v) {
    *v = 130000;
    return 0;
}
int cublasSetWorkspace_v2(void*, void*, size_t) { return 0; }

enum { R32F = 0, R16BF = 14, OP_N = 0, OP_T = 1, CUBLAS_INVALID_VALUE = 7, CUBLAS_EXECUTION_FAILED = 13 };

static float load(const void* p, int type, long long i) {
    if (type == R32F) return ((const float*)p)[i];
    const unsigned int u = (unsigned int)((const unsigned short*)p)[i] << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// gemm: column-major C = alpha·op(A)·op(B) + beta·C over batch matrices,
// accumulated in fp32 as the GPU does (op(A)'s rows and op(B)'s columns
// are first unpacked to contiguous floats, so each element is one dot
// product with eight partial sums); with beta = 0, C is not read (it may
// hold NaN).
static int gemm(void* h, int ta, int tb, int m, int n, int k, const float* alpha, const void* A, int at, int lda,
                long long sa, const void* Bm, int bt, int ldb, long long sb, const float* beta, void* C, int ct, int ldc,
                long long sc, int batch) {
    if (!h || (ta != OP_N && ta != OP_T) || (tb != OP_N && tb != OP_T) || m < 0 || n < 0 || k < 0 || batch < 1 ||
        (at != R32F && at != R16BF) || (bt != R32F && bt != R16BF) || ct != R32F)
        return CUBLAS_INVALID_VALUE;
    const int rowsA = ta == OP_N ? m : k, rowsB = tb == OP_N ? k : n;
    if (lda < (rowsA > 1 ? rowsA : 1) || ldb < (rowsB > 1 ? rowsB : 1) || ldc < (m > 1 ? m : 1))
        return CUBLAS_INVALID_VALUE;
    const float al = *alpha, be = *beta;
    CUresult r = enqueue(((blas_handle*)h)->stream, "gemm", [=]() -> CUresult {
        std::vector<float> ap((size_t)m * k), bp((size_t)n * k);
        for (int b = 0; b < batch; b++) {
            const long long oa = b * sa, ob = b * sb, oc = b * sc;
            for (int i = 0; i < m; i++)
                for (int p = 0; p < k; p++)
                    ap[(size_t)i * k + p] = load(A, at, oa + (ta == OP_N ? i + (long long)p * lda : p + (long long)i * lda));
            for (int j = 0; j < n; j++)
                for (int p = 0; p < k; p++)
                    bp[(size_t)j * k + p] = load(Bm, bt, ob + (tb == OP_N ? p + (long long)j * ldb : j + (long long)p * ldb));
            float* c = (float*)C + oc;
            for (int j = 0; j < n; j++) {
                const float* bj = &bp[(size_t)j * k];
                for (int i = 0; i < m; i++) {
                    const float* ai = &ap[(size_t)i * k];
                    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
                    int p = 0;
                    for (; p + 8 <= k; p += 8)
                        for (int q = 0; q < 8; q++) acc[q] += ai[p + q] * bj[p + q];
                    float s = 0;
                    for (; p < k; p++) s += ai[p] * bj[p];
                    s += ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
                    float& out = c[i + (long long)j * ldc];
                    out = be == 0 ? al * s : al * s + be * out;
                }
            }
        }
        return OK;
    });
    return r == OK ? 0 : CUBLAS_EXECUTION_FAILED;
}

int cublasGemmEx(void* h, int ta, int tb, int m, int n, int k, const void* alpha, const void* A, int at, int lda,
                 const void* Bm, int bt, int ldb, const void* beta, void* C, int ct, int ldc, int, int) {
    return gemm(h, ta, tb, m, n, k, (const float*)alpha, A, at, lda, 0, Bm, bt, ldb, 0, (const float*)beta, C, ct,
                ldc, 0, 1);
}

int cublasGemmStridedBatchedEx(void* h, int ta, int tb, int m, int n, int k, const void* alpha, const void* A, int at,
                               int lda, long long sa, const void* Bm, int bt, int ldb, long long sb, const void* beta,
                               void* C, int ct, int ldc, long long sc, int batch, int, int) {
    return gemm(h, ta, tb, m, n, k, (const float*)alpha, A, at, lda, sa, Bm, bt, ldb, sb, (const float*)beta, C, ct,
                ldc, sc, batch);
}

}  // extern "C"
