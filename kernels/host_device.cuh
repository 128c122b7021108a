#pragma once
/** @file HBGLM_HOST_DEVICE: marks functions shared by the CPU backend (host compiler) and the CUDA
 *  kernels (nvcc), so both backends run the same per-observation math. */

#if defined(__CUDACC__)
#define HBGLM_HOST_DEVICE __host__ __device__
#else
#define HBGLM_HOST_DEVICE
#endif
