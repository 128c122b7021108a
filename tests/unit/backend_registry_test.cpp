// The registry and the "not compiled" / "no device" paths (issue 2): availability never throws,
// and making an unavailable backend throws backend_error with the reason.

#include <gtest/gtest.h>

#include "backend/registry.hpp"
#include "hbglm/backend.hpp"
#include "hbglm/error.hpp"
#include "support/model_fixtures.hpp"

namespace hbglm {
namespace {

TEST(BackendRegistry, CpuIsAlwaysAvailable) {
  EXPECT_TRUE(backend_compiled(backend_kind::cpu));
  EXPECT_TRUE(backend_available(backend_kind::cpu));
  EXPECT_EQ(backend_unavailable_reason(backend_kind::cpu), "");
  const table data = test::random_table(20, 3, 2, 1);
  auto b = detail::make_backend(backend_kind::cpu, test::make_model(data, "y_gaussian ~ x1 + (1 | g1)",
                                                                     family::gaussian));
  EXPECT_EQ(b->kind(), backend_kind::cpu);
}

TEST(BackendRegistry, CudaReportsWhyItIsUnavailable) {
  const std::string reason = backend_unavailable_reason(backend_kind::cuda);
#if HBGLM_HAVE_CUDA
  EXPECT_TRUE(backend_compiled(backend_kind::cuda));
  if (!reason.empty()) {
    EXPECT_EQ(reason.rfind("no CUDA device found", 0), 0u) << reason;
  }
#else
  EXPECT_FALSE(backend_compiled(backend_kind::cuda));
  EXPECT_NE(reason.find("CUDA support was not compiled in"), std::string::npos) << reason;
#endif
  EXPECT_EQ(backend_available(backend_kind::cuda), reason.empty());
  if (!reason.empty()) {
    const table data = test::random_table(20, 3, 2, 1);
    const auto m = test::make_model(data, "y_gaussian ~ x1 + (1 | g1)", family::gaussian);
    try {
      detail::make_backend(backend_kind::cuda, m);
      FAIL() << "make_backend(cuda) should throw";
    } catch (const backend_error& e) {
      EXPECT_EQ(std::string(e.what()), reason);
    }
  }
}

TEST(BackendRegistry, ParsesKindNames) {
  EXPECT_EQ(parse_backend_kind("cpu"), backend_kind::cpu);
  EXPECT_EQ(parse_backend_kind("cuda"), backend_kind::cuda);
  EXPECT_THROW(parse_backend_kind("tpu"), option_error);
}

}  // namespace
}  // namespace hbglm
