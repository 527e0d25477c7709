/* MKL runs its AVX2 branch (MKL_CBWR=AVX2) on Intel CPUs only; on any other CPU it silently runs AUTO, whose
 * float32 sqrt estimates with rsqrtps (AMD silicon rounds that estimate differently from Intel's). MKL asks
 * mkl_serv_intel_cpu_true() which one it is on; preloading this definition makes it answer "Intel", so an AMD CPU
 * with AVX2 runs the same AVX2 branch and, under colorbench.numeric's "portable" mode, gave the same weights as
 * Intel CPUs (under emulation: docs/reproducibility.md). Unsupported by Intel; needs torch's MKL to call the
 * function through the PLT (it does in torch 2.14.1's libtorch_cpu.so).
 *
 *   cc -shared -fPIC -O2 -o libmkl_intel_shim.so tests/cross_cpu/mkl_intel_shim.c
 *   LD_PRELOAD=$PWD/libmkl_intel_shim.so python ...      (set before the process starts)
 */
int mkl_serv_intel_cpu_true(void) { return 1; }
