// The JSON scanner's innermost loop, with SSE2 where the CPU has it (every x86-64 does).
// Header-only: Swift inlines these through the Clang importer. Swift's SIMD types do not compile to
// these instructions here (a generic SIMD16<UInt8> version ran 60 times slower than scalar code).
#ifndef AIMON_BYTE_SCAN_H
#define AIMON_BYTE_SCAN_H

#include <stddef.h>
#include <stdint.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/// The offset of the first byte in p[0..<n] that is special inside a JSON string: a quote, a
/// backslash, a control byte (< 0x20) or a non-ASCII byte (>= 0x80); n when there is none.
static inline size_t aimon_string_special(const uint8_t *p, size_t n) {
    size_t i = 0;
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        // As signed bytes, 0x80..0xFF are negative: one "less than 0x20" catches control and non-ASCII.
        __m128i special = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                                       _mm_cmplt_epi8(v, space));
        int mask = _mm_movemask_epi8(special);
        if (mask != 0) return i + (size_t)__builtin_ctz((unsigned)mask);
    }
#endif
    for (; i < n; i++) {
        uint8_t b = p[i];
        if (b == '"' || b == '\\' || b < 0x20 || b >= 0x80) return i;
    }
    return n;
}

#endif
