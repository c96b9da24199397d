// The doctest main(), compiled once into attngan_doctest_main and linked into
// every test suite (see cmake/attngan_testing.cmake).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
