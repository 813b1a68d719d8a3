// CLIP's symmetric InfoNCE, the pieces around the two GEMMs. logits
// ([B,B]) first holds img·txtᵀ; contrastive_rows scales it by
// s = exp(logitScale) in place.

// contrastive_rows: one block per row i: scale, softmax over j into
// probsRow, terms[i] = log softmax(logits[i,:])[i].
extern "C" __global__ void contrastive_rows(float* logits, float* probsRow, float* terms, const float* logitScale, int B) {
    const int i = blockIdx.x;
    const float s = expf(logitScale[0]);
    float* l = logits + (long long)i * B;
    float m = NEG_INF;
    for (int j = threadIdx.x; j < B; j += blockDim.x) {
        const float v = l[j] * s;
        l[j] = v;
        m = fmaxf(m, v);
    }
    m = block_max(m);
    float z = 0.0f;
    for (int j = threadIdx.x; j < B; j += blockDim.x) z += expf(l[j] - m);
    z = block_sum(z);
    for (int j = threadIdx.x; j < B; j += blockDim.x) probsRow[(long long)i * B + j] = expf(l[j] - m) / z;
    if (threadIdx.x == 0) terms[i] = l[i] - m - logf(z);
}

// contrastive_cols: one block per column j (after contrastive_rows):
// softmax over i into probsCol, terms[B+j] = log softmax(logits[:,j])[j].
extern "C" __global__ void contrastive_cols(float* probsCol, float* terms, const float* logits, int B) {
    const int j = blockIdx.x;
    float m = NEG_INF;
    for (int i = threadIdx.x; i < B; i += blockDim.x) m = fmaxf(m, logits[(long long)i * B + j]);
    m = block_max(m);
    float z = 0.0f;
    for (int i = threadIdx.x; i < B; i += blockDim.x) z += expf(logits[(long long)i * B + j] - m);
    z = block_sum(z);
    for (int i = threadIdx.x; i < B; i += blockDim.x) probsCol[(long long)i * B + j] = expf(logits[(long long)i * B + j] - m) / z;
    if (threadIdx.x == 0) terms[B + j] = logits[(long long)j * B + j] - m - logf(z);
}

// contrastive_loss: one block; loss[0] = −Σ terms / (2B).
extern "C" __global__ void contrastive_loss(float* loss, const float* terms, int B) {
    float s = 0.0f;
    for (int i = threadIdx.x; i < 2 * B; i += blockDim.x) s += terms[i];
    s = block_sum(s);
    if (threadIdx.x == 0) loss[0] = -s / (2.0f * B);
}

// contrastive_grad: one block per row i. g = c·(probsRow + probsCol − 2·[i=j])
// (c = dloss/2B); partial[i] = Σⱼ g·logits (for dlogitScale); logits := s·g.
extern "C" __global__ void contrastive_grad(float* logits, float* partial, const float* probsRow, const float* probsCol,
                                            const float* logitScale, float c, int B) {
    const int i = blockIdx.x;
    const float s = expf(logitScale[0]);
    float acc = 0.0f;
    for (int j = threadIdx.x; j < B; j += blockDim.x) {
        const long long k = (long long)i * B + j;
        float g = probsRow[k] + probsCol[k];
        if (i == j) g -= 2.0f;
        g *= c;
        acc += g * logits[k];
        logits[k] = g * s;
    }
    acc = block_sum(acc);
    if (threadIdx.x == 0) partial[i] = acc;
}

// contrastive_dscale: one block; dlogitScale[0] += Σ partial.
extern "C" __global__ void contrastive_dscale(float* dlogitScale, const float* partial, int B) {
    float s = 0.0f;
    for (int i = threadIdx.x; i < B; i += blockDim.x) s += partial[i];
    s = block_sum(s);
    if (threadIdx.x == 0) dlogitScale[0] += s;
}
