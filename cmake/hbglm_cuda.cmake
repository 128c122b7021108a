# CUDA set-up. Never uses `native`: configuring must not need a GPU (that is the dev-native preset).
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  # A100 and H100/H200 machine code, plus sm_90 PTX so newer GPUs can JIT it.
  set(CMAKE_CUDA_ARCHITECTURES "80-real;90-real;90-virtual")
endif()
enable_language(CUDA)
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
set(CMAKE_CUDA_EXTENSIONS OFF)
find_package(CUDAToolkit REQUIRED)
# Static CUDA runtime: the binaries run on a GPU machine that has only a driver.
set(CMAKE_CUDA_RUNTIME_LIBRARY Static)

function(hbglm_configure_cuda_target target)
  target_link_libraries(${target} PRIVATE CUDA::cudart_static CUDA::cublas CUDA::cusparse
                                          CUDA::cusolver)
  set_target_properties(${target} PROPERTIES CUDA_SEPARABLE_COMPILATION OFF
                                             POSITION_INDEPENDENT_CODE ON)
  target_include_directories(${target} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/kernels)
endfunction()
