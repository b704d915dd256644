#include "http/sse.hpp"

#include <gtest/gtest.h>
