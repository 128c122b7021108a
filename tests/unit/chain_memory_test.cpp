// How many chains run at once when --threads is automatic (host/api/chain_memory.hpp).

#include "api/chain_memory.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <fstream>
#include <optional>

namespace hbglm::detail {
namespace {

TEST(ChainMemory, BytesPerChainFollowTheSamplersLayout) {
  // 12 + 4 per level from 1 to max_depth - 1, plus 10, vectors of dim doubles; 8 B per row.
  EXPECT_EQ(cpu_chain_bytes(0, 1000, 1, 0), 8u * 1000 * 22);
  EXPECT_EQ(cpu_chain_bytes(0, 1000, 10, 0), 8u * 1000 * (22 + 4 * 9));
  EXPECT_EQ(cpu_chain_bytes(500, 0, 10, 0), 8u * 500);
  EXPECT_EQ(cpu_chain_bytes(0, 0, 10, 58), 3u * 8 * 58 * 58);
  // Where the rows make more than one chunk (8,192 rows), a vector of dim per thread, up to 16.
  EXPECT_EQ(cpu_chain_bytes(8191, 1000, 1, 0, 4), 8u * 8191 + 8u * 1000 * 22);
  EXPECT_EQ(cpu_chain_bytes(8192, 1000, 1, 0, 4), 8u * 8192 + 8u * 1000 * (22 + 4));
  EXPECT_EQ(cpu_chain_bytes(8192, 1000, 1, 0, 64), 8u * 8192 + 8u * 1000 * (22 + 16));
  // The election model at 10M rows (dim 3,333,865): about 1.6 GB per chain at depth 10.
  const double gb = static_cast<double>(cpu_chain_bytes(10000000, 3333865, 10, 58)) / 1e9;
  EXPECT_GT(gb, 1.5);
  EXPECT_LT(gb, 1.7);
}

TEST(ChainMemory, ChainsAtOnceAreCappedByCoresAndMemory) {
  constexpr std::size_t gb = 1000000000;
  // Memory unknown or plentiful: min(chains, hardware threads).
  EXPECT_EQ(automatic_chains_at_once(4, 16, 2 * gb, std::nullopt), 4);
  EXPECT_EQ(automatic_chains_at_once(4, 2, 2 * gb, std::nullopt), 2);
  EXPECT_EQ(automatic_chains_at_once(4, 16, 2 * gb, 100 * gb), 4);
  EXPECT_EQ(automatic_chains_at_once(4, 0, 2 * gb, 100 * gb), 1);  // hardware unknown
  // 90% of the available memory: 5 GB holds two 2 GB chains (4.5 GB), 4 GB only one.
  EXPECT_EQ(automatic_chains_at_once(4, 16, 2 * gb, 5 * gb), 2);
  EXPECT_EQ(automatic_chains_at_once(4, 16, 2 * gb, 4 * gb), 1);
  // Never fewer than one: a chain that does not fit still runs (and may fail with a message).
  EXPECT_EQ(automatic_chains_at_once(4, 16, 2 * gb, gb / 2), 1);
  EXPECT_EQ(automatic_chains_at_once(1, 16, 2 * gb, 100 * gb), 1);
}

TEST(ChainMemory, BytesAreWrittenForPeople) {
  EXPECT_EQ(format_bytes(2370000000u), "2.4 GB");
  EXPECT_EQ(format_bytes(310400000u), "310 MB");
  EXPECT_EQ(format_bytes(12345u), "12 kB");
  EXPECT_EQ(format_bytes(0u), "0 kB");
}

TEST(ChainMemory, AvailableMemoryIsReadWhereLinuxHasIt) {
  const std::optional<std::size_t> available = available_memory_bytes();
  std::ifstream probe("/proc/meminfo");
  if (!probe) GTEST_SKIP() << "no /proc/meminfo";
  ASSERT_TRUE(available.has_value());
  EXPECT_GT(*available, 1000000u);  // at least a megabyte on any machine that runs the tests
}

}  // namespace
}  // namespace hbglm::detail
