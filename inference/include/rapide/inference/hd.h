// RAPIDE_HD marks small maths functions that both backends call: plain inline functions for the
// C++ compiler, __host__ __device__ under nvcc, so the CPU test suite covers the arithmetic the
// CUDA kernels run.
#pragma once

#if defined(__CUDACC__)
#define RAPIDE_HD __host__ __device__ __forceinline__
#else
#define RAPIDE_HD inline
#endif
