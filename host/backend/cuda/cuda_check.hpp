#pragma once
/** @file HBGLM_CUDA_CHECK: every CUDA runtime call goes through it; a failure throws
 *  hbglm::backend_error with the call, the error string, and file:line. */

#include <cuda_runtime.h>

#include <string>

#include "hbglm/error.hpp"

#define HBGLM_CUDA_CHECK(call)                                                               \
  do {                                                                                       \
    const cudaError_t hbglm_status_ = (call);                                                \
    if (hbglm_status_ != cudaSuccess) {                                                      \
      throw ::hbglm::backend_error(std::string(#call) + " failed: " +                        \
                                   cudaGetErrorString(hbglm_status_) + " (" + __FILE__ + ":" + \
                                   std::to_string(__LINE__) + ")");                          \
    }                                                                                        \
  } while (0)
