// cronlock/export.hpp: CRONLOCK_API marks what libcronlock.so exports.
//
// The library is built with -fvisibility=hidden and a version script that exports
// only cronlock:: symbols: what is not marked is internal and may change without a
// new SONAME. What is marked is the ABI of libcronlock.so.2.
#pragma once

#define CRONLOCK_API __attribute__((visibility("default")))
