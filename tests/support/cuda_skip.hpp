#pragma once
/** @file GPU tests skip visibly (GTEST_SKIP, reported by CTest as skipped) when CUDA was not
 *  compiled in or no device is present. Probing happens inside the test body, never at static
 *  initialization or test discovery. */

#include <gtest/gtest.h>

#include "hbglm/backend.hpp"

#define HBGLM_SKIP_WITHOUT_CUDA_DEVICE()                                              \
  do {                                                                                \
    if (!::hbglm::backend_available(::hbglm::backend_kind::cuda)) {                   \
      GTEST_SKIP() << ::hbglm::backend_unavailable_reason(::hbglm::backend_kind::cuda); \
    }                                                                                 \
  } while (0)
