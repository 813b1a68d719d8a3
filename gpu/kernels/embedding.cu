// Token embedding lookup. ids are checked on the host to lie in [0, V).

extern "C" __global__ void embedding_forward(float* out, const float* table, const int* ids, int N, int C) {
    const long long n = (long long)N * C;
    GRID_STRIDE(i, n) {
        const long long r = i / C;
        out[i] = table[(long long)ids[r] * C + i % C];
    }
}

// embedding_backward adds dout rows into dtable (atomics: ids repeat).
extern "C" __global__ void embedding_backward(float* dtable, const float* dout, const int* ids, int N, int C) {
    const long long n = (long long)N * C;
    GRID_STRIDE(i, n) {
        const long long r = i / C;
        atomicAdd(&dtable[(long long)ids[r] * C + i % C], dout[i]);
    }
}
