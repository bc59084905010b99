/*
 * test_rand.h - the unit tests' deterministic generator (xorshift64), so
 * that a failing run can be replayed from its seed. *state must not be 0.
 */
#ifndef ITEMFS_TEST_RAND_H
#define ITEMFS_TEST_RAND_H

#include <stdint.h>

static inline uint64_t test_rand(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

#endif
