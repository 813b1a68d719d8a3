// Precision casts and image normalisation.

extern "C" __global__ void f32_to_bf16_kernel(bf16_t* out, const float* in, long long n) {
    GRID_STRIDE(i, n) { out[i] = f32_to_bf16(in[i]); }
}

extern "C" __global__ void bf16_to_f32_kernel(float* out, const bf16_t* in, long long n) {
    GRID_STRIDE(i, n) { out[i] = bf16_to_f32(in[i]); }
}

// image_normalize: pix is N images of S×S×3 uint8 (HWC, RGB); out is
// N×3×S×S fp32 (NCHW) with out = pix·scale[c] + shift[c], where
// scale = 1/(255·std) and shift = −mean/std (the loader's transform).
extern "C" __global__ void image_normalize(float* out, const unsigned char* pix, int N, int S, float sc0, float sc1,
                                           float sc2, float sh0, float sh1, float sh2) {
    const long long plane = (long long)S * S;
    const long long n = (long long)N * 3 * plane;
    GRID_STRIDE(i, n) {
        const long long img = i / (3 * plane);
        const int c = (i / plane) % 3;
        const long long px = i % plane;
        const float sc = c == 0 ? sc0 : (c == 1 ? sc1 : sc2);
        const float sh = c == 0 ? sh0 : (c == 1 ? sh1 : sh2);
        out[i] = (float)pix[(img * plane + px) * 3 + c] * sc + sh;
    }
}

// image_patches: pix is B images of 3×S×S uint8 (NCHW, the loader's Uint8
// output); out is the vision tower's patch rows [B·G·G, 3·p·p] (G = S/p;
// patch (gy,gx) of image b at row (b·G+gy)·G+gx, value (c,i,j) at
// c·p²+i·p+j), each value pix·scale[c] + shift[c]. One thread per output
// value, so the writes are coalesced; the reads run along rows of p.
extern "C" __global__ void image_patches(float* out, const unsigned char* pix, int B, int S, int p, float sc0,
                                         float sc1, float sc2, float sh0, float sh1, float sh2) {
    const int G = S / p;
    const long long pd = 3LL * p * p;
    const long long n = (long long)B * G * G * pd;
    GRID_STRIDE(o, n) {
        const long long row = o / pd;
        const int col = (int)(o % pd);
        const long long b = row / (G * G);
        const int g = (int)(row % (G * G));
        const int gy = g / G, gx = g % G;
        const int c = col / (p * p);
        const int r = col % (p * p);
        const int i = r / p, j = r % p;
        const float sc = c == 0 ? sc0 : (c == 1 ? sc1 : sc2);
        const float sh = c == 0 ? sh0 : (c == 1 ? sh1 : sh2);
        out[o] = (float)pix[((b * 3 + c) * S + gy * p + i) * (long long)S + gx * p + j] * sc + sh;
    }
}
