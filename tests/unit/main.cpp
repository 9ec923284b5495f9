// Catch2's main for the unit tests: one binary, every tests/unit/*.cpp file.
// Unit tests touch no daemon; integration tests live in tests/integration/.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
