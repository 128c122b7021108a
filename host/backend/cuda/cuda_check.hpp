#pragma once
/** @file HBGLM_CUDA_CHECK: every CUDA runtime, cuBLAS and cuSPARSE call goes through it; a failure
 *  throws hbglm::backend_error with the call, the library's error string, and file:line. The
 *  status type picks the overload of detail::cuda::check_status, so one macro serves all three
 *  libraries (STYLE §5). */

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusparse.h>

#include <string>

#include "hbglm/error.hpp"

namespace hbglm::detail::cuda {

[[noreturn]] inline void throw_cuda_failure(const char* call, const char* what, const char* file,
                                            int line) {
  throw ::hbglm::backend_error(std::string(call) + " failed: " + what + " (" + file + ":" +
                               std::to_string(line) + ")");
}

inline void check_status(cudaError_t status, const char* call, const char* file, int line) {
  if (status != cudaSuccess) throw_cuda_failure(call, cudaGetErrorString(status), file, line);
}

inline void check_status(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    throw_cuda_failure(call, cublasGetStatusString(status), file, line);
  }
}

inline void check_status(cusparseStatus_t status, const char* call, const char* file, int line) {
  if (status != CUSPARSE_STATUS_SUCCESS) {
    throw_cuda_failure(call, cusparseGetErrorString(status), file, line);
  }
}

}  // namespace hbglm::detail::cuda

#define HBGLM_CUDA_CHECK(call) \
  ::hbglm::detail::cuda::check_status((call), #call, __FILE__, __LINE__)

/** After a kernel launch: a bad configuration shows up here (cudaGetLastError), a fault in the
 *  kernel at the next synchronizing call. */
#define HBGLM_CUDA_CHECK_LAUNCH() HBGLM_CUDA_CHECK(cudaGetLastError())
