#include "backend/cuda/cuda_context.hpp"

namespace hbglm::detail::cuda {

cuda_context::cuda_context() {
  try {
    HBGLM_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    HBGLM_CUDA_CHECK(cublasCreate(&cublas_));
    HBGLM_CUDA_CHECK(cublasSetStream(cublas_, stream_));
    HBGLM_CUDA_CHECK(cublasSetPointerMode(cublas_, CUBLAS_POINTER_MODE_HOST));
    HBGLM_CUDA_CHECK(cublasSetAtomicsMode(cublas_, CUBLAS_ATOMICS_NOT_ALLOWED));
    HBGLM_CUDA_CHECK(cusparseCreate(&cusparse_));
    HBGLM_CUDA_CHECK(cusparseSetStream(cusparse_, stream_));
    HBGLM_CUDA_CHECK(cusparseSetPointerMode(cusparse_, CUSPARSE_POINTER_MODE_HOST));
  } catch (...) {
    release();
    throw;
  }
}

cuda_context::~cuda_context() { release(); }

void cuda_context::release() noexcept {
  if (stream_ != nullptr) cudaStreamSynchronize(stream_);
  if (cusparse_ != nullptr) cusparseDestroy(cusparse_);
  if (cublas_ != nullptr) cublasDestroy(cublas_);
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
  cusparse_ = nullptr;
  cublas_ = nullptr;
  stream_ = nullptr;
}

void cuda_context::synchronize() const { HBGLM_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

}  // namespace hbglm::detail::cuda
