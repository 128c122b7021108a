#pragma once
/** @file RAII owners for the CUDA backend: device memory (device_buffer), page-locked host memory
 *  (pinned_buffer), and one cuda_context per backend instance (a stream with its cuBLAS and
 *  cuSPARSE handles bound to it). Destructors never throw: a failure while freeing is ignored,
 *  as there is nothing left to do with it. */

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusparse.h>

#include <cstddef>
#include <utility>
#include <vector>

#include "backend/cuda/cuda_check.hpp"

namespace hbglm::detail::cuda {

/** n elements of T in device memory (cudaMalloc). Empty buffers hold no allocation. Move-only. */
template <class T>
class device_buffer {
 public:
  device_buffer() = default;
  /** Allocates @p n elements (uninitialized). @throws backend_error when cudaMalloc fails. */
  explicit device_buffer(std::size_t n) : n_(n) {
    if (n > 0) HBGLM_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&ptr_), n * sizeof(T)));
  }
  /** Allocates and copies @p host; the copy has landed on return. (cudaMemcpy from pageable
   *  memory may return before its last DMA to the device has finished, and the backends' streams
   *  do not synchronize with the default stream, hence the device synchronization: uploads
   *  happen once per model or metric, not per evaluation.) */
  explicit device_buffer(const std::vector<T>& host) : device_buffer(host.size()) {
    if (n_ > 0) {
      HBGLM_CUDA_CHECK(cudaMemcpy(ptr_, host.data(), n_ * sizeof(T), cudaMemcpyHostToDevice));
      HBGLM_CUDA_CHECK(cudaDeviceSynchronize());
    }
  }
  ~device_buffer() { reset(); }
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;
  device_buffer(device_buffer&& other) noexcept
      : ptr_(std::exchange(other.ptr_, nullptr)), n_(std::exchange(other.n_, 0)) {}
  device_buffer& operator=(device_buffer&& other) noexcept {
    if (this != &other) {
      reset();
      ptr_ = std::exchange(other.ptr_, nullptr);
      n_ = std::exchange(other.n_, 0);
    }
    return *this;
  }

  T* get() noexcept { return ptr_; }
  const T* get() const noexcept { return ptr_; }
  std::size_t size() const noexcept { return n_; }
  std::size_t bytes() const noexcept { return n_ * sizeof(T); }
  bool empty() const noexcept { return n_ == 0; }

 private:
  void reset() noexcept {
    if (ptr_ != nullptr) cudaFree(ptr_);  // cudaFree waits for work that may still use it
    ptr_ = nullptr;
    n_ = 0;
  }
  T* ptr_ = nullptr;
  std::size_t n_ = 0;
};

/** n elements of T in page-locked host memory (cudaMallocHost), the staging area of the small
 *  per-evaluation transfers: asynchronous copies from and to pageable memory are staged by the
 *  driver and partly synchronous, from pinned memory they are plain DMA in stream order. */
template <class T>
class pinned_buffer {
 public:
  pinned_buffer() = default;
  explicit pinned_buffer(std::size_t n) : n_(n) {
    if (n > 0) HBGLM_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&ptr_), n * sizeof(T)));
  }
  ~pinned_buffer() {
    if (ptr_ != nullptr) cudaFreeHost(ptr_);
  }
  pinned_buffer(const pinned_buffer&) = delete;
  pinned_buffer& operator=(const pinned_buffer&) = delete;
  pinned_buffer(pinned_buffer&& other) noexcept
      : ptr_(std::exchange(other.ptr_, nullptr)), n_(std::exchange(other.n_, 0)) {}
  pinned_buffer& operator=(pinned_buffer&& other) noexcept {
    if (this != &other) {
      if (ptr_ != nullptr) cudaFreeHost(ptr_);
      ptr_ = std::exchange(other.ptr_, nullptr);
      n_ = std::exchange(other.n_, 0);
    }
    return *this;
  }

  T* get() noexcept { return ptr_; }
  const T* get() const noexcept { return ptr_; }
  T& operator[](std::size_t i) noexcept { return ptr_[i]; }
  const T& operator[](std::size_t i) const noexcept { return ptr_[i]; }
  std::size_t size() const noexcept { return n_; }

 private:
  T* ptr_ = nullptr;
  std::size_t n_ = 0;
};

/** A non-blocking stream with a cuBLAS and a cuSPARSE handle bound to it: one per backend
 *  instance (one chain), so chains run concurrently and every library call of a chain is ordered
 *  on its stream. cuBLAS atomics stay disallowed (cuBLAS is then bitwise reproducible for a
 *  given toolkit, GPU and handle-per-stream use, which is ours); pointer mode is host (alpha,
 *  beta are host scalars). Not copyable or movable: the handles refer to the stream. */
class cuda_context {
 public:
  /** Creates the stream and handles on the current device.
   *  @throws backend_error when any creation fails (what was made is released). */
  cuda_context();
  ~cuda_context();
  cuda_context(const cuda_context&) = delete;
  cuda_context& operator=(const cuda_context&) = delete;

  cudaStream_t stream() const noexcept { return stream_; }
  cublasHandle_t cublas() const noexcept { return cublas_; }
  cusparseHandle_t cusparse() const noexcept { return cusparse_; }
  /** Blocks until the stream's work is done. @throws backend_error with what went wrong in it. */
  void synchronize() const;

 private:
  void release() noexcept;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  cusparseHandle_t cusparse_ = nullptr;
};

}  // namespace hbglm::detail::cuda
