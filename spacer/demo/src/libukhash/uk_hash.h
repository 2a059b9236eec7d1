#ifndef UK_HASH_H
#define UK_HASH_H
#include <stdint.h>
#include <stddef.h>
uint32_t uk_crc32(const void *buf, size_t len);
uint32_t uk_fnv1a(const void *buf, size_t len);
/* Thread-local FNV offset basis (.tdata): this library brings its own TLS. */
extern __thread uint32_t uk_hash_seed;
#endif
