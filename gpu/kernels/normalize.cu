// Row L2 normalisation (F.normalize, eps 1e-12). One warp per row.

extern "C" __global__ void normalize_forward(float* out, float* norm, const float* inp, int N, int D) {
    WARP_ROW(row, lane);
    if (row >= N) return;
    const float* x = inp + row * D;
    float ss = 0.0f;
    for (int i = lane; i < D; i += 32) ss += x[i] * x[i];
    const float nrm = fmaxf(sqrtf(warp_sum(ss)), 1e-12f);
    float* y = out + row * D;
    for (int i = lane; i < D; i += 32) y[i] = x[i] / nrm;
    if (lane == 0) norm[row] = nrm;
}

// dinp += (dout − out·(dout·out)) / norm, or dout/eps where clamped.
extern "C" __global__ void normalize_backward(float* dinp, const float* dout, const float* out, const float* norm, int N, int D) {
    WARP_ROW(row, lane);
    if (row >= N) return;
    const float* dy = dout + row * D;
    const float* y = out + row * D;
    float* dx = dinp + row * D;
    const float nrm = norm[row];
    if (nrm <= 1e-12f) {
        for (int i = lane; i < D; i += 32) dx[i] += dy[i] / 1e-12f;
        return;
    }
    float dot = 0.0f;
    for (int i = lane; i < D; i += 32) dot += dy[i] * y[i];
    dot = warp_sum(dot);
    for (int i = lane; i < D; i += 32) dx[i] += (dy[i] - y[i] * dot) / nrm;
}
