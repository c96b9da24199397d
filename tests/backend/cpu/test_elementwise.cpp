// for_each_index visits each index exactly once, serial and parallel.
#include "test_support.hpp"

#include <atomic>

namespace test_elementwise {

using namespace attngan;
using namespace attngan::test;

namespace {
struct mark {
  int* hits;
  void operator()(index_t i) const { hits[i] += 1; }
};
}  // namespace

TEST_CASE("for_each_index covers every index of 0..n-1 exactly once") {
  for (index_t n : {1, 1000, 16383, 16384, 1'000'003}) {
    CAPTURE(n);
    std::vector<int> hits(std::size_t(n), 0);
    primitives::for_each_index<cpu>(n, mark{hits.data()});
    bool all_once = std::all_of(hits.begin(), hits.end(), [](int h) { return h == 1; });
    CHECK(all_once);
  }
  primitives::for_each_index<cpu>(0, mark{nullptr});  // no work, no access
  CHECK_THROWS_AS(primitives::for_each_index<cpu>(-1, mark{nullptr}), value_error);
}

TEST_CASE("the CPU backend uses every OpenMP thread it is given") {
  // CI and developer machines have 2 cores; OMP_NUM_THREADS may lower it.
  CHECK(cpu::threads() >= 1);
  std::vector<int> owner(1 << 20, -1);
  struct who {
    int* owner;
    void operator()(index_t i) const {
#if defined(_OPENMP)
      owner[i] = omp_get_thread_num();
#else
      owner[i] = 0;
#endif
    }
  };
  primitives::for_each_index<cpu>(index_t(owner.size()), who{owner.data()});
  int distinct = 1 + *std::max_element(owner.begin(), owner.end());
  CHECK(distinct == cpu::threads());
}

}  // namespace test_elementwise
