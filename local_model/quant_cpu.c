/* Weight-only quantized matrix-vector products for CPU decode (local_model/quant_cpu.py builds and loads this).
 *
 *   q8_gemv: y[m, n] = s[n] * sum_k x[m, k] * q[n, k]           q int8 [N, K], one scale per output row
 *   q4_gemv: y[m, n] = sum_k x[m, k] * (q[n, k] * sc[n, g] + of[n, g]),  g = k / 128, q in [0, 15]
 *
 * Exact for what they compute, at float32 activations. Each activation row is written as an
 * integer X = round(x * L / max|x|) in three signed digits d0 + B d1 + B^2 d2: base B = 256,
 * digits in [-128, 127], L = 127 * 256^2 (23 bits) with AVX-512 VNNI and in portable C; base
 * 128, digits in [-64, 63], L = 63 * 128^2 (20 bits) with AVX2, whose vpmaddubsw sums pairs of
 * products in int16 (int8 weights offset to unsigned by +128, times a 7-bit digit, never overflow
 * it). The weight bytes multiply the digit bytes in integer arithmetic (vpdpbusd, or vpmaddubsw
 * + vpmaddwd), the three digit sums recombine exactly, and only the final sum is scaled to float.
 * The weight is read once for all three digits and never converted to float: a byte (int8) or
 * half a byte (int4) per weight. The only rounding besides float32's own is X's: half a unit
 * of 2^-23 (2^-20 with AVX2) of the row's largest value.
 *
 * int4 layout, per row n and group g of 128 inputs: 64 bytes; byte j holds input g*128 + j in
 * its low nibble and g*128 + 64 + j in its high nibble. Rows hold ceil(K / 128) groups; inputs
 * past K are zero on the activation side.
 *
 * Limits (checked by the caller): K <= 65536, so that no int32 sum can overflow (per digit at most
 * K * 255 * 128 < 2^31; an int4 group's recombined lane at most 8 * 15 * 128 * (1 + 256 + 65536)).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#define GROUP 128
#define HALF 64

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)
#define ISA 2
#elif defined(__AVX2__)
#define ISA 1
#else
#define ISA 0
#endif

#if ISA == 1
#define BITS 7
#else
#define BITS 8
#endif
#define BASE (1 << BITS)
#define LIMIT ((BASE / 2 - 1) * BASE * BASE)

#if defined(__GNUC__)
#define _PREFETCH(p) __builtin_prefetch((p), 0, 0)
#else
#define _PREFETCH(p) ((void)0)
#endif

/* Weight bytes read ahead of use: a single core keeps too few misses in flight to stream DRAM at full
 * speed while it computes; prefetching this far ahead (rows are contiguous) keeps more in flight. */
#ifndef PREFETCH_AHEAD
#define PREFETCH_AHEAD 1024
#endif

int qk_isa(void) { return ISA; }
int qk_limit(void) { return LIMIT; }  /* |X| <= this: activations are rounded to max|x| / LIMIT */

/* One activation row: digits d[3][kp] (zero past k), its X sum, the factor back to float. */
static void digits(const float *x, int64_t k, int64_t kp, int8_t *d, int64_t *xsum, float *factor) {
    float amax = 0.f;
    for (int64_t i = 0; i < k; i++) amax = fmaxf(amax, fabsf(x[i]));
    float to_int = amax > 0.f ? (float)LIMIT / amax : 0.f;
    int64_t sum = 0;
    memset(d, 0, (size_t)(3 * kp));
    int64_t i = 0;
#if ISA == 2
    const __m512 scale = _mm512_set1_ps(to_int);
    const __m512i half = _mm512_set1_epi32(BASE / 2), mask = _mm512_set1_epi32(BASE - 1);
    const __m512i lim = _mm512_set1_epi32(LIMIT), nlim = _mm512_set1_epi32(-LIMIT);
    __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0;  /* digit sums: |lane| <= 128 * k / 16, no overflow */
    for (; i + 16 <= k; i += 16) {  /* cvtps rounds to nearest even, as lrintf does */
        __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + i), scale));
        v = _mm512_max_epi32(_mm512_min_epi32(v, lim), nlim);
        __m512i d0 = _mm512_sub_epi32(_mm512_and_si512(_mm512_add_epi32(v, half), mask), half);
        __m512i v1 = _mm512_srai_epi32(_mm512_sub_epi32(v, d0), BITS);
        __m512i d1 = _mm512_sub_epi32(_mm512_and_si512(_mm512_add_epi32(v1, half), mask), half);
        __m512i d2 = _mm512_srai_epi32(_mm512_sub_epi32(v1, d1), BITS);
        s0 = _mm512_add_epi32(s0, d0), s1 = _mm512_add_epi32(s1, d1), s2 = _mm512_add_epi32(s2, d2);
        _mm_storeu_si128((__m128i *)(d + i), _mm512_cvtepi32_epi8(d0));
        _mm_storeu_si128((__m128i *)(d + kp + i), _mm512_cvtepi32_epi8(d1));
        _mm_storeu_si128((__m128i *)(d + 2 * kp + i), _mm512_cvtepi32_epi8(d2));
    }
    sum = _mm512_reduce_add_epi32(s0) + (int64_t)BASE * _mm512_reduce_add_epi32(s1)
          + (int64_t)BASE * BASE * _mm512_reduce_add_epi32(s2);
#endif
    for (; i < k; i++) {
        int32_t v = (int32_t)lrintf(x[i] * to_int);
        if (v > LIMIT) v = LIMIT;
        if (v < -LIMIT) v = -LIMIT;
        sum += v;
        int32_t d0 = ((v + BASE / 2) & (BASE - 1)) - BASE / 2;
        int32_t v1 = (v - d0) / BASE;
        int32_t d1 = ((v1 + BASE / 2) & (BASE - 1)) - BASE / 2;
        d[i] = (int8_t)d0;
        d[kp + i] = (int8_t)d1;
        d[2 * kp + i] = (int8_t)((v1 - d1) / BASE);
    }
    *xsum = sum;
    *factor = amax > 0.f ? amax / (float)LIMIT : 0.f;
}

#if ISA == 2
static inline int32_t hsum512(__m512i v) { return _mm512_reduce_add_epi32(v); }
#elif ISA == 1
static inline int32_t hsum256(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}
static inline float hsum256f(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#endif

/* sum_k (q[k] + 128) * digit_j[k] for the three digit rows of d (stride kp): out[3]. */
static void dot_q8(const int8_t *q, const int8_t *d, int64_t k, int64_t kp, int64_t out[3]) {
    int64_t i = 0;
    int64_t s0 = 0, s1 = 0, s2 = 0;
#if ISA == 2
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0;
    for (; i + 64 <= k; i += 64) {
        _PREFETCH(q + i + PREFETCH_AHEAD);
        __m512i u = _mm512_xor_si512(_mm512_loadu_si512(q + i), flip);
        a0 = _mm512_dpbusd_epi32(a0, u, _mm512_loadu_si512(d + i));
        a1 = _mm512_dpbusd_epi32(a1, u, _mm512_loadu_si512(d + kp + i));
        a2 = _mm512_dpbusd_epi32(a2, u, _mm512_loadu_si512(d + 2 * kp + i));
    }
    if (i < k) {
        __mmask64 m = _cvtu64_mask64((~0ULL) >> (64 - (k - i)));
        __m512i u = _mm512_maskz_mov_epi8(m, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, q + i), flip));
        a0 = _mm512_dpbusd_epi32(a0, u, _mm512_maskz_loadu_epi8(m, d + i));
        a1 = _mm512_dpbusd_epi32(a1, u, _mm512_maskz_loadu_epi8(m, d + kp + i));
        a2 = _mm512_dpbusd_epi32(a2, u, _mm512_maskz_loadu_epi8(m, d + 2 * kp + i));
        i = k;
    }
    s0 = hsum512(a0), s1 = hsum512(a1), s2 = hsum512(a2);
#elif ISA == 1
    const __m256i flip = _mm256_set1_epi8((char)0x80), ones = _mm256_set1_epi16(1);
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0;
    for (; i + 32 <= k; i += 32) {
        if (!(i & 63)) _PREFETCH(q + i + PREFETCH_AHEAD);
        __m256i u = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(q + i)), flip);
        a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_maddubs_epi16(u, _mm256_loadu_si256((const __m256i *)(d + i))), ones));
        a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_maddubs_epi16(u, _mm256_loadu_si256((const __m256i *)(d + kp + i))), ones));
        a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(_mm256_maddubs_epi16(u, _mm256_loadu_si256((const __m256i *)(d + 2 * kp + i))), ones));
    }
    s0 = hsum256(a0), s1 = hsum256(a1), s2 = hsum256(a2);
#endif
    for (; i < k; i++) {
        int32_t u = (int32_t)q[i] + 128;
        s0 += u * d[i], s1 += u * d[kp + i], s2 += u * d[2 * kp + i];
    }
    out[0] = s0, out[1] = s1, out[2] = s2;
}

/* sum over one group of 128 of q * (d0 + B d1 + B^2 d2), q the nibbles of p[0..64). */
#if ISA == 0
static int64_t dot_q4_group(const uint8_t *p, const int8_t *d, int64_t kp) {
    int64_t s[3] = {0, 0, 0};
    for (int j = 0; j < 3; j++)
        for (int i = 0; i < HALF; i++)
            s[j] += (p[i] & 15) * d[j * kp + i] + (p[i] >> 4) * d[j * kp + HALF + i];
    return s[0] + BASE * s[1] + BASE * BASE * s[2];
}
#endif

/* The products, over "heads": x [m, heads, k]; head h multiplies weight rows h * stride + [0, n) (the
 * plain product is heads = 1); y [m, heads, n]. */
static void q8_run(const float *x, int64_t m, int64_t heads, int64_t k, const int8_t *q, const float *s, int64_t n,
                   int64_t stride, float *y, int threads) {
    int64_t kp = (k + 63) / 64 * 64, mh = m * heads;
    int8_t *d = aligned_alloc(64, (size_t)(mh * 3 * kp));
    int64_t *xsum = malloc(sizeof(int64_t) * mh);
    float *factor = malloc(sizeof(float) * mh);
    for (int64_t r = 0; r < mh; r++) digits(x + r * k, k, kp, d + r * 3 * kp, xsum + r, factor + r);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t hj = 0; hj < heads * n; hj++) {
        int64_t h = hj / n, row = h * stride + hj % n;
        const int8_t *w = q + row * k;
        for (int64_t r = 0; r < m; r++) {
            int64_t t[3], rh = r * heads + h;
            dot_q8(w, d + rh * 3 * kp, k, kp, t);
            int64_t total = t[0] + BASE * t[1] + (int64_t)BASE * BASE * t[2] - 128 * xsum[rh];
            y[rh * n + hj % n] = (float)((double)total * factor[rh]) * s[row];
        }
    }
    free(d), free(xsum), free(factor);
}

void q8_gemv(const float *x, int64_t m, int64_t k, const int8_t *q, const float *s, int64_t n, float *y, int threads) {
    q8_run(x, m, 1, k, q, s, n, 0, y, threads);
}

void q8_gemv_heads(const float *x, int64_t m, int64_t heads, int64_t k, const int8_t *q, const float *s, int64_t n,
                   int64_t stride, float *y, int threads) {
    q8_run(x, m, heads, k, q, s, n, stride, y, threads);
}

static void q4_run(const float *x, int64_t m, int64_t heads, int64_t k, const uint8_t *p, const float *sc,
                   const float *of, int64_t n, int64_t stride, float *y, int threads) {
    int64_t ng = (k + GROUP - 1) / GROUP, kp = ng * GROUP, mh = m * heads;
    int8_t *d = aligned_alloc(64, (size_t)(mh * 3 * kp));
    int64_t *xsum = malloc(sizeof(int64_t) * mh);
    float *factor = malloc(sizeof(float) * mh), *xs = malloc(sizeof(float) * mh * ng);
    for (int64_t r = 0; r < mh; r++) {
        digits(x + r * k, k, kp, d + r * 3 * kp, xsum + r, factor + r);
        for (int64_t g = 0; g < ng; g++) {  /* the float sum of each group, for the offsets */
            float acc = 0.f;
            for (int64_t i = g * GROUP; i < k && i < (g + 1) * GROUP; i++) acc += x[r * k + i];
            xs[r * ng + g] = acc;
        }
    }
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t hj = 0; hj < heads * n; hj++) {
        int64_t h = hj / n, j = h * stride + hj % n;
        const uint8_t *row = p + j * (kp / 2);
        const float *scj = sc + j * ng, *ofj = of + j * ng;
        for (int64_t r = 0; r < m; r++) {
            int64_t rh = r * heads + h;
            const int8_t *dr = d + rh * 3 * kp;
            float offsets = 0.f, acc = 0.f;
            for (int64_t g = 0; g < ng; g++) offsets += ofj[g] * xs[rh * ng + g];
#if ISA == 2
            const __m512i low = _mm512_set1_epi8(15);
            __m512 accv = _mm512_setzero_ps();
            for (int64_t g = 0; g < ng; g++) {
                const int8_t *dg = dr + g * GROUP;
                _PREFETCH(row + g * HALF + PREFETCH_AHEAD);
                __m512i b = _mm512_loadu_si512(row + g * HALF);
                __m512i lo = _mm512_and_si512(b, low), hi = _mm512_and_si512(_mm512_srli_epi16(b, 4), low);
                __m512i z = _mm512_setzero_si512();
                __m512i a0 = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(z, lo, _mm512_loadu_si512(dg)), hi,
                                                 _mm512_loadu_si512(dg + HALF));
                __m512i a1 = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(z, lo, _mm512_loadu_si512(dg + kp)), hi,
                                                 _mm512_loadu_si512(dg + kp + HALF));
                __m512i a2 = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(z, lo, _mm512_loadu_si512(dg + 2 * kp)), hi,
                                                 _mm512_loadu_si512(dg + 2 * kp + HALF));
                __m512i t = _mm512_add_epi32(_mm512_add_epi32(a0, _mm512_slli_epi32(a1, BITS)),
                                             _mm512_slli_epi32(a2, 2 * BITS));
                accv = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t), _mm512_set1_ps(scj[g]), accv);
            }
            acc = _mm512_reduce_add_ps(accv);
#elif ISA == 1
            const __m256i low = _mm256_set1_epi8(15), ones = _mm256_set1_epi16(1);
            __m256 accv = _mm256_setzero_ps();
            for (int64_t g = 0; g < ng; g++) {
                const int8_t *dg = dr + g * GROUP;
                _PREFETCH(row + g * HALF + PREFETCH_AHEAD);
                __m256i b0 = _mm256_loadu_si256((const __m256i *)(row + g * HALF));
                __m256i b1 = _mm256_loadu_si256((const __m256i *)(row + g * HALF + 32));
                __m256i l0 = _mm256_and_si256(b0, low), l1 = _mm256_and_si256(b1, low);
                __m256i h0 = _mm256_and_si256(_mm256_srli_epi16(b0, 4), low);
                __m256i h1 = _mm256_and_si256(_mm256_srli_epi16(b1, 4), low);
                __m256i t = _mm256_setzero_si256();
                for (int j3 = 0; j3 < 3; j3++) {  /* int16 sums of 8 products of at most 15 * 64: no overflow */
                    const int8_t *dd = dg + j3 * kp;
                    __m256i s16 = _mm256_add_epi16(
                        _mm256_add_epi16(_mm256_maddubs_epi16(l0, _mm256_loadu_si256((const __m256i *)dd)),
                                         _mm256_maddubs_epi16(l1, _mm256_loadu_si256((const __m256i *)(dd + 32)))),
                        _mm256_add_epi16(_mm256_maddubs_epi16(h0, _mm256_loadu_si256((const __m256i *)(dd + HALF))),
                                         _mm256_maddubs_epi16(h1, _mm256_loadu_si256((const __m256i *)(dd + HALF + 32)))));
                    t = _mm256_add_epi32(t, _mm256_slli_epi32(_mm256_madd_epi16(s16, ones), BITS * j3));
                }
                accv = _mm256_add_ps(accv, _mm256_mul_ps(_mm256_cvtepi32_ps(t), _mm256_set1_ps(scj[g])));
            }
            acc = hsum256f(accv);
#else
            for (int64_t g = 0; g < ng; g++) acc += (float)dot_q4_group(row + g * HALF, dr + g * GROUP, kp) * scj[g];
#endif
            y[rh * n + hj % n] = acc * factor[rh] + offsets;
        }
    }
    free(d), free(xsum), free(factor), free(xs);
}

void q4_gemv(const float *x, int64_t m, int64_t k, const uint8_t *p, const float *sc, const float *of, int64_t n,
             float *y, int threads) {
    q4_run(x, m, 1, k, p, sc, of, n, 0, y, threads);
}

void q4_gemv_heads(const float *x, int64_t m, int64_t heads, int64_t k, const uint8_t *p, const float *sc,
                   const float *of, int64_t n, int64_t stride, float *y, int threads) {
    q4_run(x, m, heads, k, p, sc, of, n, stride, y, threads);
}

/* The transposed products over heads, in float32 arithmetic (the rows are the reduction here, so the
 * integer digits do not apply): x [m, heads, n]; y [m, heads, k];
 *   y[r, h, c] = sum_{i < n} x[r, h, i] * W[h * stride + i, c]
 * with W the dequantized weight. Absorbed MLA multiplies W_UK^T this way (W_UK: kv_b_proj's rows). */
void q8_gemv_t_heads(const float *x, int64_t m, int64_t heads, int64_t k, const int8_t *q, const float *s, int64_t n,
                     int64_t stride, float *y, int threads) {
    int64_t ng = (k + GROUP - 1) / GROUP;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t hg = 0; hg < heads * ng; hg++) {
        int64_t h = hg / ng, c0 = (hg % ng) * GROUP, len = k - c0 < GROUP ? k - c0 : GROUP;
        for (int64_t r = 0; r < m; r++) {
            float acc[GROUP] = {0};
            const float *xr = x + (r * heads + h) * n;
            for (int64_t i = 0; i < n; i++) {
                int64_t row = h * stride + i;
                const int8_t *w = q + row * k + c0;
                float c = xr[i] * s[row];
                for (int64_t t = 0; t < len; t++) acc[t] += c * (float)w[t];
            }
            memcpy(y + (r * heads + h) * k + c0, acc, sizeof(float) * (size_t)len);
        }
    }
}

void q4_gemv_t_heads(const float *x, int64_t m, int64_t heads, int64_t k, const uint8_t *p, const float *sc,
                     const float *of, int64_t n, int64_t stride, float *y, int threads) {
    int64_t ng = (k + GROUP - 1) / GROUP;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t hg = 0; hg < heads * ng; hg++) {
        int64_t h = hg / ng, g = hg % ng, c0 = g * GROUP, len = k - c0 < GROUP ? k - c0 : GROUP;
        for (int64_t r = 0; r < m; r++) {
            float acc[GROUP] = {0}, constant = 0.f;
            const float *xr = x + (r * heads + h) * n;
            for (int64_t i = 0; i < n; i++) {
                int64_t row = h * stride + i;
                const uint8_t *pg = p + row * ng * HALF + g * HALF;
                float a = xr[i] * sc[row * ng + g];
                constant += xr[i] * of[row * ng + g];
                for (int t = 0; t < HALF; t++) {
                    acc[t] += a * (float)(pg[t] & 15);
                    acc[HALF + t] += a * (float)(pg[t] >> 4);
                }
            }
            float *out = y + (r * heads + h) * k + c0;
            for (int64_t t = 0; t < len; t++) out[t] = acc[t] + constant;
        }
    }
}

/* Rows [0, n) of a weight, dequantized to float32 into out [n, k] (the blocked path of larger products). */
void q8_dequant(const int8_t *q, const float *s, int64_t n, int64_t k, float *out, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t j = 0; j < n; j++) {
        const int8_t *row = q + j * k;
        float *o = out + j * k, sj = s[j];
        for (int64_t i = 0; i < k; i++) o[i] = (float)row[i] * sj;
    }
}

void q4_dequant(const uint8_t *p, const float *sc, const float *of, int64_t n, int64_t k, float *out, int threads) {
    int64_t ng = (k + GROUP - 1) / GROUP;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t j = 0; j < n; j++) {
        const uint8_t *row = p + j * ng * HALF;
        float *o = out + j * k;
        for (int64_t g = 0; g < ng; g++) {
            float a = sc[j * ng + g], b = of[j * ng + g];
            const uint8_t *pg = row + g * HALF;
            int64_t base = g * GROUP;
            if (base + GROUP <= k) {
                for (int i = 0; i < HALF; i++) {
                    o[base + i] = (float)(pg[i] & 15) * a + b;
                    o[base + HALF + i] = (float)(pg[i] >> 4) * a + b;
                }
            } else {
                for (int64_t i = 0; base + i < k; i++)
                    o[base + i] = (float)(i < HALF ? pg[i] & 15 : pg[i - HALF] >> 4) * a + b;
            }
        }
    }
}
