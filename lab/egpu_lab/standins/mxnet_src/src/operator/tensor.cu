/* Stand-in CUDA kernels, written in C so the lab's nvcc can compile them (see docs/rehearsal.md). */
int mxnet_ones_kernel(float *out, int n) {
    for (int i = 0; i < n; ++i) out[i] = 1.0f;
    return n;
}
