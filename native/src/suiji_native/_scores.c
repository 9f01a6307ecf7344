/*
 * suiji_native._scores: the HMAC-SHA256 scores of the draw algorithm "suiji-draw-v1" in C.
 *
 * The draw needs one HMAC-SHA256(seed, message) per (selected entity, eligible inspector):
 * 60 million for 30,000 selected entities and 2,000 inspectors. This module computes them
 * without the CPython per-call overhead, with the GIL released, so that threads can use
 * every core. Results are bit-identical to hmac.new(key, message, hashlib.sha256).digest();
 * app/draws/algorithm.py keeps the pure-Python path as the reference and the fallback.
 *
 * SHA-256 is implemented here (no third-party library): a portable C compression function
 * and one using the x86 SHA extensions (SHA-NI), chosen at import by CPUID; set_backend()
 * forces either (tests). Two independent messages are hashed interleaved, which hides the
 * latency of the SHA round instructions.
 *
 * HMAC (RFC 2104) = H(K^opad || H(K^ipad || m)). The states after the key blocks are
 * computed once per call; for each prefix (e.g. "inspector:<task>:<uscc>:") the inner state
 * also absorbs the prefix's whole 64-byte blocks, and per message only the tail (rest of
 * the prefix, the message, padding) and the outer block over the 32-byte inner digest are
 * compressed.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define SUIJI_HAVE_SHANI 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define SUIJI_HAVE_SHANI 0
#endif

#define API_VERSION 1

/* --- SHA-256 ------------------------------------------------------------------------------- */

static const uint32_t K256[64] __attribute__((aligned(16))) = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static const uint32_t IV256[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

/* Compress nblocks consecutive 64-byte blocks into state. */
typedef void (*compress_fn)(uint32_t state[8], const uint8_t *blocks, size_t nblocks);

static inline uint32_t load_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline void store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void store_be64(uint8_t *p, uint64_t v)
{
    store_be32(p, (uint32_t)(v >> 32));
    store_be32(p + 4, (uint32_t)v);
}

#define ROR32(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

#define BSIG0(x) (ROR32(x, 2) ^ ROR32(x, 13) ^ ROR32(x, 22))
#define BSIG1(x) (ROR32(x, 6) ^ ROR32(x, 11) ^ ROR32(x, 25))
#define SSIG0(x) (ROR32(x, 7) ^ ROR32(x, 18) ^ ((x) >> 3))
#define SSIG1(x) (ROR32(x, 17) ^ ROR32(x, 19) ^ ((x) >> 10))
#define CH(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))
#define MAJ(x, y, z) (((x) & (y)) | ((z) & ((x) | (y))))

/* Round i; the eight working variables are renamed from round to round instead of moved. The
 * message schedule lives in a 16-word ring, extended in place from round 16 on. */
#define PORTABLE_ROUND(a, b, c, d, e, f, g, h, i) do {                                      \
        if ((i) >= 16)                                                                     \
            w[(i) & 15] += SSIG1(w[((i) - 2) & 15]) + w[((i) - 7) & 15] + SSIG0(w[((i) - 15) & 15]); \
        uint32_t t1_ = h + BSIG1(e) + CH(e, f, g) + K256[i] + w[(i) & 15];                \
        d += t1_;                                                                          \
        h = t1_ + BSIG0(a) + MAJ(a, b, c);                                                 \
    } while (0)

#define PORTABLE_8ROUNDS(i) do {                                                            \
        PORTABLE_ROUND(a, b, c, d, e, f, g, h, (i) + 0);                                   \
        PORTABLE_ROUND(h, a, b, c, d, e, f, g, (i) + 1);                                   \
        PORTABLE_ROUND(g, h, a, b, c, d, e, f, (i) + 2);                                   \
        PORTABLE_ROUND(f, g, h, a, b, c, d, e, (i) + 3);                                   \
        PORTABLE_ROUND(e, f, g, h, a, b, c, d, (i) + 4);                                   \
        PORTABLE_ROUND(d, e, f, g, h, a, b, c, (i) + 5);                                   \
        PORTABLE_ROUND(c, d, e, f, g, h, a, b, (i) + 6);                                   \
        PORTABLE_ROUND(b, c, d, e, f, g, h, a, (i) + 7);                                   \
    } while (0)

/* One block. Kept out of line: with it inlined into the loop over blocks, GCC 12 made the
 * second and later blocks of a call much slower (2 blocks 420 ns, 2 x 1 block 245 ns). */
__attribute__((noinline)) static void compress_block_portable(uint32_t st[8], const uint8_t *p)
{
    uint32_t w[16];
    for (int i = 0; i < 16; i++)
        w[i] = load_be32(p + 4 * i);
    uint32_t a = st[0], b = st[1], c = st[2], d = st[3], e = st[4], f = st[5], g = st[6], h = st[7];
    PORTABLE_8ROUNDS(0);
    PORTABLE_8ROUNDS(8);
    PORTABLE_8ROUNDS(16);
    PORTABLE_8ROUNDS(24);
    PORTABLE_8ROUNDS(32);
    PORTABLE_8ROUNDS(40);
    PORTABLE_8ROUNDS(48);
    PORTABLE_8ROUNDS(56);
    st[0] += a;
    st[1] += b;
    st[2] += c;
    st[3] += d;
    st[4] += e;
    st[5] += f;
    st[6] += g;
    st[7] += h;
}

static void compress_portable(uint32_t st[8], const uint8_t *p, size_t nblocks)
{
    for (; nblocks; nblocks--, p += 64)
        compress_block_portable(st, p);
}

/* HMAC-SHA256 of two messages with the same key and prefix: from the inner state (key block and
 * the prefix's whole blocks) through nblocks prebuilt tail blocks each (rest of the prefix,
 * message, padding), then the outer block over the inner digest; out: the digests as words.
 * wk, when not NULL, is the message schedule plus round constants of the last tail block, the
 * same for both (it holds only padding): its rounds then skip the schedule. */
typedef void (*hmac2_fn)(const uint32_t inner[8], const uint32_t outer[8], const uint8_t *ta, const uint8_t *tb,
                         size_t nblocks, const uint32_t *wk, uint32_t oa[8], uint32_t ob[8]);

/* W[t] + K[t] of a block, t = 0..63. */
static void schedule_plus_k(const uint8_t *block, uint32_t wk[64])
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = load_be32(block + 4 * i);
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR32(w[i - 15], 7) ^ ROR32(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR32(w[i - 2], 17) ^ ROR32(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    for (int i = 0; i < 64; i++)
        wk[i] = w[i] + K256[i];
}

static inline void store_words_be(uint8_t *out, const uint32_t w[8])
{
    for (int i = 0; i < 8; i++)
        store_be32(out + 4 * i, w[i]);
}

/* The outer hash: state after key ^ opad, then one block: the inner digest and fixed padding
 * (0x80, zeros, length 96 bytes = 768 bits). */
static void outer_portable(const uint32_t outer[8], const uint32_t inner_digest[8], uint32_t out[8], compress_fn f)
{
    uint8_t blk[64];
    memset(blk, 0, sizeof blk);
    store_words_be(blk, inner_digest);
    blk[32] = 0x80;
    store_be64(blk + 56, (64 + 32) * 8);
    memcpy(out, outer, 32);
    f(out, blk, 1);
}

static void hmac2_portable(const uint32_t inner[8], const uint32_t outer[8], const uint8_t *ta, const uint8_t *tb,
                           size_t nblocks, const uint32_t *wk, uint32_t oa[8], uint32_t ob[8])
{
    uint32_t sa[8], sb[8];
    memcpy(sa, inner, sizeof sa);
    memcpy(sb, inner, sizeof sb);
    compress_portable(sa, ta, nblocks);
    compress_portable(sb, tb, nblocks);
    outer_portable(outer, sa, oa, compress_portable);
    outer_portable(outer, sb, ob, compress_portable);
}

#if SUIJI_HAVE_SHANI

#define SHANI_TARGET __attribute__((target("sha,sse4.1,ssse3")))

/* The state as the SHA instructions want it: S0 = (A,B,E,F), S1 = (C,D,G,H) (high to low). */
#define SHANI_LOAD_STATE(st, S0, S1) do {                                   \
        __m128i t_ = _mm_loadu_si128((const __m128i *)&(st)[0]);           \
        S1 = _mm_loadu_si128((const __m128i *)&(st)[4]);                   \
        t_ = _mm_shuffle_epi32(t_, 0xB1);                                  \
        S1 = _mm_shuffle_epi32(S1, 0x1B);                                  \
        S0 = _mm_alignr_epi8(t_, S1, 8);                                   \
        S1 = _mm_blend_epi16(S1, t_, 0xF0);                                \
    } while (0)

/* Back to words: X = (A,B,C,D), Y = (E,F,G,H), lane 0 first. */
#define SHANI_TO_WORDS(S0, S1, X, Y) do {                                   \
        __m128i t_ = _mm_shuffle_epi32(S0, 0x1B);                          \
        __m128i u_ = _mm_shuffle_epi32(S1, 0xB1);                          \
        X = _mm_blend_epi16(t_, u_, 0xF0);                                 \
        Y = _mm_alignr_epi8(u_, t_, 8);                                    \
    } while (0)

#define SHANI_STORE_STATE(st, S0, S1) do {                                  \
        __m128i x_, y_;                                                    \
        SHANI_TO_WORDS(S0, S1, x_, y_);                                    \
        _mm_storeu_si128((__m128i *)&(st)[0], x_);                         \
        _mm_storeu_si128((__m128i *)&(st)[4], y_);                         \
    } while (0)

/* Four rounds g (0..15) with message words Wv. */
#define SHANI_ROUNDS(S0, S1, Wv, g) do {                                    \
        __m128i m_ = _mm_add_epi32((Wv), _mm_load_si128((const __m128i *)&K256[4 * (g)])); \
        S1 = _mm_sha256rnds2_epu32(S1, S0, m_);                            \
        m_ = _mm_shuffle_epi32(m_, 0x0E);                                  \
        S0 = _mm_sha256rnds2_epu32(S0, S1, m_);                            \
    } while (0)

/* Message words of group g >= 4 into W[g % 4] (which held group g - 4). */
#define SHANI_SCHEDULE(W, g)                                                \
    W[(g) & 3] = _mm_sha256msg2_epu32(                                      \
        _mm_add_epi32(_mm_sha256msg1_epu32(W[(g) & 3], W[((g) + 1) & 3]),   \
                      _mm_alignr_epi8(W[((g) + 3) & 3], W[((g) + 2) & 3], 4)), \
        W[((g) + 3) & 3])

/* The 16 big-endian message words of a block at p, lane 0 first. */
#define SHANI_LOAD_MSG(W, p, MASK) do {                                     \
        W[0] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)((p) + 0)), MASK);  \
        W[1] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)((p) + 16)), MASK); \
        W[2] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)((p) + 32)), MASK); \
        W[3] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)((p) + 48)), MASK); \
    } while (0)

#define SHANI_BSWAP_MASK _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL)

/* One block (64 rounds) into S0/S1 from the words in W[0..3] (consumed). */
#define SHANI_G1(S0, S1, W, g) SHANI_SCHEDULE(W, g); SHANI_ROUNDS(S0, S1, W[(g) & 3], g)
#define SHANI_BLOCK(S0, S1, W) do {                                         \
        const __m128i s0_ = S0, s1_ = S1;                                  \
        SHANI_ROUNDS(S0, S1, W[0], 0); SHANI_ROUNDS(S0, S1, W[1], 1);      \
        SHANI_ROUNDS(S0, S1, W[2], 2); SHANI_ROUNDS(S0, S1, W[3], 3);      \
        SHANI_G1(S0, S1, W, 4); SHANI_G1(S0, S1, W, 5); SHANI_G1(S0, S1, W, 6); SHANI_G1(S0, S1, W, 7);     \
        SHANI_G1(S0, S1, W, 8); SHANI_G1(S0, S1, W, 9); SHANI_G1(S0, S1, W, 10); SHANI_G1(S0, S1, W, 11);   \
        SHANI_G1(S0, S1, W, 12); SHANI_G1(S0, S1, W, 13); SHANI_G1(S0, S1, W, 14); SHANI_G1(S0, S1, W, 15); \
        S0 = _mm_add_epi32(S0, s0_);                                       \
        S1 = _mm_add_epi32(S1, s1_);                                       \
    } while (0)

/* Two independent blocks, interleaved: hides the latency of the round instructions. */
#define SHANI_G0_2(A0, A1, WA, B0, B1, WB, g)                               \
    SHANI_ROUNDS(A0, A1, WA[g], g); SHANI_ROUNDS(B0, B1, WB[g], g)
#define SHANI_G2_2(A0, A1, WA, B0, B1, WB, g)                               \
    SHANI_SCHEDULE(WA, g); SHANI_SCHEDULE(WB, g);                           \
    SHANI_ROUNDS(A0, A1, WA[(g) & 3], g); SHANI_ROUNDS(B0, B1, WB[(g) & 3], g)
#define SHANI_BLOCK2(A0, A1, WA, B0, B1, WB) do {                           \
        const __m128i sa0_ = A0, sa1_ = A1, sb0_ = B0, sb1_ = B1;          \
        SHANI_G0_2(A0, A1, WA, B0, B1, WB, 0); SHANI_G0_2(A0, A1, WA, B0, B1, WB, 1);   \
        SHANI_G0_2(A0, A1, WA, B0, B1, WB, 2); SHANI_G0_2(A0, A1, WA, B0, B1, WB, 3);   \
        SHANI_G2_2(A0, A1, WA, B0, B1, WB, 4); SHANI_G2_2(A0, A1, WA, B0, B1, WB, 5);   \
        SHANI_G2_2(A0, A1, WA, B0, B1, WB, 6); SHANI_G2_2(A0, A1, WA, B0, B1, WB, 7);   \
        SHANI_G2_2(A0, A1, WA, B0, B1, WB, 8); SHANI_G2_2(A0, A1, WA, B0, B1, WB, 9);   \
        SHANI_G2_2(A0, A1, WA, B0, B1, WB, 10); SHANI_G2_2(A0, A1, WA, B0, B1, WB, 11); \
        SHANI_G2_2(A0, A1, WA, B0, B1, WB, 12); SHANI_G2_2(A0, A1, WA, B0, B1, WB, 13); \
        SHANI_G2_2(A0, A1, WA, B0, B1, WB, 14); SHANI_G2_2(A0, A1, WA, B0, B1, WB, 15); \
        A0 = _mm_add_epi32(A0, sa0_);                                      \
        A1 = _mm_add_epi32(A1, sa1_);                                      \
        B0 = _mm_add_epi32(B0, sb0_);                                      \
        B1 = _mm_add_epi32(B1, sb1_);                                      \
    } while (0)

SHANI_TARGET static void compress_shani(uint32_t st[8], const uint8_t *p, size_t nblocks)
{
    const __m128i MASK = SHANI_BSWAP_MASK;
    __m128i S0, S1, W[4];
    SHANI_LOAD_STATE(st, S0, S1);
    while (nblocks--) {
        SHANI_LOAD_MSG(W, p, MASK);
        SHANI_BLOCK(S0, S1, W);
        p += 64;
    }
    SHANI_STORE_STATE(st, S0, S1);
}

SHANI_TARGET static void hmac2_shani(const uint32_t inner[8], const uint32_t outer[8], const uint8_t *ta,
                                     const uint8_t *tb, size_t nblocks, const uint32_t *wk, uint32_t oa[8],
                                     uint32_t ob[8])
{
    const __m128i MASK = SHANI_BSWAP_MASK;
    __m128i A0, A1, B0, B1, WA[4], WB[4];
    SHANI_LOAD_STATE(inner, A0, A1);
    B0 = A0;
    B1 = A1;
    if (wk != NULL)
        nblocks--;
    while (nblocks--) {
        SHANI_LOAD_MSG(WA, ta, MASK);
        SHANI_LOAD_MSG(WB, tb, MASK);
        SHANI_BLOCK2(A0, A1, WA, B0, B1, WB);
        ta += 64;
        tb += 64;
    }
    if (wk != NULL) {
        const __m128i sa0 = A0, sa1 = A1, sb0 = B0, sb1 = B1;
        for (int g = 0; g < 16; g++) {
            __m128i m = _mm_loadu_si128((const __m128i *)&wk[4 * g]);
            A1 = _mm_sha256rnds2_epu32(A1, A0, m);
            B1 = _mm_sha256rnds2_epu32(B1, B0, m);
            m = _mm_shuffle_epi32(m, 0x0E);
            A0 = _mm_sha256rnds2_epu32(A0, A1, m);
            B0 = _mm_sha256rnds2_epu32(B0, B1, m);
        }
        A0 = _mm_add_epi32(A0, sa0);
        A1 = _mm_add_epi32(A1, sa1);
        B0 = _mm_add_epi32(B0, sb0);
        B1 = _mm_add_epi32(B1, sb1);
    }
    /* The inner digests are the first eight words of the outer block; the rest is fixed. */
    SHANI_TO_WORDS(A0, A1, WA[0], WA[1]);
    SHANI_TO_WORDS(B0, B1, WB[0], WB[1]);
    WA[2] = WB[2] = _mm_set_epi32(0, 0, 0, (int)0x80000000u);
    WA[3] = WB[3] = _mm_set_epi32((64 + 32) * 8, 0, 0, 0);
    SHANI_LOAD_STATE(outer, A0, A1);
    B0 = A0;
    B1 = A1;
    SHANI_BLOCK2(A0, A1, WA, B0, B1, WB);
    SHANI_STORE_STATE(oa, A0, A1);
    SHANI_STORE_STATE(ob, B0, B1);
}

static int cpu_has_shani(void)
{
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    if (!(c & (1u << 9)) || !(c & (1u << 19))) /* SSSE3, SSE4.1 */
        return 0;
    if (__get_cpuid_max(0, NULL) < 7)
        return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b >> 29) & 1; /* SHA */
}

#else
static int cpu_has_shani(void) { return 0; }
#endif

/* The backend in use; read once at the start of each call (set_backend may change it). */
typedef struct {
    const char *name;
    compress_fn one;
    hmac2_fn hmac2;
} backend_t;

static const backend_t PORTABLE = {"portable", compress_portable, hmac2_portable};
#if SUIJI_HAVE_SHANI
static const backend_t SHANI = {"sha-ni", compress_shani, hmac2_shani};
#endif
static const backend_t *volatile g_backend = &PORTABLE;

/* --- HMAC-SHA256 ----------------------------------------------------------------------------- */

typedef struct {
    uint32_t inner[8]; /* after the block key ^ ipad */
    uint32_t outer[8]; /* after the block key ^ opad */
} hmac_key;

typedef struct {
    uint32_t state[8]; /* inner state: key block plus the prefix's whole 64-byte blocks */
    uint64_t absorbed; /* bytes compressed into state */
    size_t remlen;     /* the rest of the prefix, < 64 bytes */
    uint8_t rem[64];
} prefix_state;

/* state has absorbed p->absorbed bytes, then come p->rem and msg: finish the hash (any lengths). */
static void finish_stream(uint32_t st[8], const prefix_state *p, const uint8_t *msg, size_t len, compress_fn f)
{
    uint8_t buf[128];
    size_t fill = p->remlen;
    uint64_t total = p->absorbed + p->remlen + len;
    memcpy(buf, p->rem, fill);
    size_t take = 64 - fill;
    if (take > len)
        take = len;
    memcpy(buf + fill, msg, take);
    fill += take;
    msg += take;
    len -= take;
    if (fill == 64) {
        f(st, buf, 1);
        size_t nb = len / 64;
        if (nb) {
            f(st, msg, nb);
            msg += 64 * nb;
            len -= 64 * nb;
        }
        memcpy(buf, msg, len);
        fill = len;
    }
    buf[fill++] = 0x80;
    size_t end = fill <= 56 ? 64 : 128;
    memset(buf + fill, 0, end - 8 - fill);
    store_be64(buf + end - 8, total * 8);
    f(st, buf, end / 64);
}

static void sha256_buf(const uint8_t *data, size_t len, uint8_t out[32], compress_fn f)
{
    prefix_state p;
    memcpy(p.state, IV256, sizeof p.state);
    p.absorbed = 0;
    p.remlen = 0;
    uint32_t st[8];
    memcpy(st, IV256, sizeof st);
    finish_stream(st, &p, data, len, f);
    store_words_be(out, st);
}

static void hmac_key_init(hmac_key *k, const uint8_t *key, size_t keylen, compress_fn f)
{
    uint8_t block[64], pad[64];
    memset(block, 0, sizeof block);
    if (keylen > 64)
        sha256_buf(key, keylen, block, f);
    else
        memcpy(block, key, keylen);
    for (int i = 0; i < 64; i++)
        pad[i] = block[i] ^ 0x36;
    memcpy(k->inner, IV256, sizeof k->inner);
    f(k->inner, pad, 1);
    for (int i = 0; i < 64; i++)
        pad[i] = block[i] ^ 0x5c;
    memcpy(k->outer, IV256, sizeof k->outer);
    f(k->outer, pad, 1);
}

static void prefix_init(prefix_state *p, const hmac_key *k, const uint8_t *prefix, size_t len, compress_fn f)
{
    size_t whole = len / 64;
    memcpy(p->state, k->inner, sizeof p->state);
    if (whole)
        f(p->state, prefix, whole);
    p->absorbed = 64 + 64 * (uint64_t)whole;
    p->remlen = len - 64 * whole;
    memcpy(p->rem, prefix + 64 * whole, p->remlen);
}

#define TAIL_MAX 256

/* The final inner blocks: rest of the prefix, a message of len bytes, padding. Laid out once
 * per prefix and message length; then each message of that length only copies its bytes in. */
typedef struct {
    size_t len;    /* message length laid out; SIZE_MAX: none */
    size_t blocks; /* how many blocks */
    int padding_only; /* the last block holds no message byte: wk is its schedule plus constants */
    uint32_t wk[64];
    uint8_t buf[TAIL_MAX];
} tail_t;

static inline size_t tail_set(tail_t *t, const prefix_state *p, const uint8_t *msg, size_t len)
{
    if (len == t->len) {
        memcpy(t->buf + p->remlen, msg, len);
        return t->blocks;
    }
    size_t n = p->remlen + len;
    if (len > TAIL_MAX || n + 9 > TAIL_MAX) { /* too long: finish_stream instead */
        t->len = SIZE_MAX;
        return 0;
    }
    size_t blocks = (n + 9 + 63) / 64;
    memcpy(t->buf, p->rem, p->remlen);
    memcpy(t->buf + p->remlen, msg, len);
    t->buf[n] = 0x80;
    memset(t->buf + n + 1, 0, blocks * 64 - 8 - (n + 1));
    store_be64(t->buf + blocks * 64 - 8, (p->absorbed + n) * 8);
    t->len = len;
    t->blocks = blocks;
    t->padding_only = n <= (blocks - 1) * 64;
    if (t->padding_only)
        schedule_plus_k(t->buf + (blocks - 1) * 64, t->wk);
    return blocks;
}

/* Everything one call needs: key states, the current prefix, two tail buffers. */
typedef struct {
    const backend_t *be;
    hmac_key key;
    prefix_state prefix;
    tail_t ta, tb;
} hmac_ctx;

static void ctx_init(hmac_ctx *c, const backend_t *be, const uint8_t *key, size_t keylen)
{
    c->be = be;
    hmac_key_init(&c->key, key, keylen, be->one);
}

static void ctx_prefix(hmac_ctx *c, const uint8_t *prefix, size_t len)
{
    prefix_init(&c->prefix, &c->key, prefix, len, c->be->one);
    c->ta.len = c->tb.len = SIZE_MAX;
}

/* HMAC(key, prefix || msg) as eight words (the digest is their big-endian bytes). */
static void ctx_one(hmac_ctx *c, const uint8_t *msg, size_t len, uint32_t out[8])
{
    uint32_t st[8];
    memcpy(st, c->prefix.state, sizeof st);
    size_t nb = tail_set(&c->ta, &c->prefix, msg, len);
    if (nb)
        c->be->one(st, c->ta.buf, nb);
    else
        finish_stream(st, &c->prefix, msg, len, c->be->one);
    outer_portable(c->key.outer, st, out, c->be->one);
}

/* Two HMACs, interleaved when their tails have as many blocks (the usual case). */
static inline void ctx_two(hmac_ctx *c, const uint8_t *ma, size_t la, uint32_t oa[8], const uint8_t *mb, size_t lb,
                           uint32_t ob[8])
{
    size_t na = tail_set(&c->ta, &c->prefix, ma, la);
    size_t nb = na ? tail_set(&c->tb, &c->prefix, mb, lb) : 0;
    if (na && na == nb) {
        /* Equal lengths: equal last blocks, so a padding-only one is the same for both. */
        const uint32_t *wk = la == lb && c->ta.padding_only ? c->ta.wk : NULL;
        c->be->hmac2(c->prefix.state, c->key.outer, c->ta.buf, c->tb.buf, na, wk, oa, ob);
    } else {
        ctx_one(c, ma, la, oa);
        ctx_one(c, mb, lb, ob);
    }
}

/* digest < limit in Python's bytes order, the digest given as words; most are decided by word 0. */
typedef struct {
    const uint8_t *ptr; /* NULL: no limit */
    size_t len;
    uint32_t w0; /* the limit's first four bytes as a word, when len >= 4 */
} limit_t;

static inline void limit_init(limit_t *l, const uint8_t *ptr, size_t len)
{
    l->ptr = ptr;
    l->len = len;
    l->w0 = ptr != NULL && len >= 4 ? load_be32(ptr) : 0;
}

static inline int below(const uint32_t w[8], const limit_t *l)
{
    if (l->ptr == NULL)
        return 1;
    if (l->len >= 4 && w[0] != l->w0)
        return w[0] < l->w0;
    uint8_t d[32];
    store_words_be(d, w);
    size_t m = l->len < 32 ? l->len : 32;
    int c = memcmp(d, l->ptr, m);
    return c < 0 || (c == 0 && l->len > 32);
}

/* --- arguments ----------------------------------------------------------------------------------- */

/* bytes or str (as UTF-8) -> pointer and length, valid while obj lives. */
static int as_text(PyObject *obj, const uint8_t **ptr, Py_ssize_t *len, const char *what)
{
    if (PyBytes_Check(obj)) {
        *ptr = (const uint8_t *)PyBytes_AS_STRING(obj);
        *len = PyBytes_GET_SIZE(obj);
        return 0;
    }
    if (PyUnicode_Check(obj)) {
        const char *s = PyUnicode_AsUTF8AndSize(obj, len);
        if (s == NULL)
            return -1;
        *ptr = (const uint8_t *)s;
        return 0;
    }
    PyErr_Format(PyExc_TypeError, "%s must be bytes or str, not %.100s", what, Py_TYPE(obj)->tp_name);
    return -1;
}

/* A sequence of bytes/str (or None where allowed) as arrays of pointers and lengths. The tuple
 * keeps the items alive (and unchanged) while the GIL is released. */
typedef struct {
    PyObject *tuple;
    Py_ssize_t n;
    const uint8_t **ptr; /* NULL for None */
    Py_ssize_t *len;
} textvec;

static void textvec_free(textvec *v)
{
    Py_XDECREF(v->tuple);
    PyMem_Free(v->ptr);
    PyMem_Free(v->len);
    memset(v, 0, sizeof *v);
}

static int textvec_init(textvec *v, PyObject *seq, const char *what, int allow_none, int bytes_only)
{
    memset(v, 0, sizeof *v);
    v->tuple = PySequence_Tuple(seq);
    if (v->tuple == NULL)
        return -1;
    v->n = PyTuple_GET_SIZE(v->tuple);
    v->ptr = PyMem_Malloc(sizeof(*v->ptr) * (size_t)(v->n ? v->n : 1));
    v->len = PyMem_Malloc(sizeof(*v->len) * (size_t)(v->n ? v->n : 1));
    if (v->ptr == NULL || v->len == NULL) {
        textvec_free(v);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < v->n; i++) {
        PyObject *item = PyTuple_GET_ITEM(v->tuple, i);
        if (allow_none && item == Py_None) {
            v->ptr[i] = NULL;
            v->len[i] = 0;
            continue;
        }
        if (bytes_only && !PyBytes_Check(item)) {
            PyErr_Format(PyExc_TypeError, "%s must hold bytes%s, not %.100s", what, allow_none ? " or None" : "",
                         Py_TYPE(item)->tp_name);
            textvec_free(v);
            return -1;
        }
        if (as_text(item, &v->ptr[i], &v->len[i], what) < 0) {
            textvec_free(v);
            return -1;
        }
    }
    return 0;
}

/* --- sha256(data) -------------------------------------------------------------------------------- */

PyDoc_STRVAR(sha256_doc,
"sha256(data: bytes) -> bytes\n\n"
"SHA-256 of data with the current backend (for tests of the compression functions).");

static PyObject *py_sha256(PyObject *self, PyObject *args)
{
    Py_buffer data;
    if (!PyArg_ParseTuple(args, "y*:sha256", &data))
        return NULL;
    uint8_t out[32];
    const backend_t *be = g_backend;
    Py_BEGIN_ALLOW_THREADS
    sha256_buf(data.buf, (size_t)data.len, out, be->one);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    return PyBytes_FromStringAndSize((const char *)out, 32);
}

/* --- hmac_scores(key, prefix, messages) -------------------------------------------------------- */

PyDoc_STRVAR(hmac_scores_doc,
"hmac_scores(key: bytes, prefix: bytes | str, messages: Sequence[bytes | str]) -> bytes\n\n"
"HMAC-SHA256(key, prefix + message) of every message, concatenated: 32 bytes each, in order.\n"
"str is taken as its UTF-8 bytes. Runs without the GIL.");

static PyObject *py_hmac_scores(PyObject *self, PyObject *args)
{
    Py_buffer key;
    PyObject *prefix_obj, *messages;
    if (!PyArg_ParseTuple(args, "y*OO:hmac_scores", &key, &prefix_obj, &messages))
        return NULL;
    const uint8_t *prefix;
    Py_ssize_t prefixlen;
    textvec msgs;
    PyObject *result = NULL;
    if (as_text(prefix_obj, &prefix, &prefixlen, "prefix") < 0) {
        PyBuffer_Release(&key);
        return NULL;
    }
    if (textvec_init(&msgs, messages, "messages", 0, 0) < 0) {
        PyBuffer_Release(&key);
        return NULL;
    }
    hmac_ctx *c = PyMem_Malloc(sizeof *c);
    if (c == NULL)
        PyErr_NoMemory();
    else if ((result = PyBytes_FromStringAndSize(NULL, 32 * msgs.n)) != NULL) {
        uint8_t *out = (uint8_t *)PyBytes_AS_STRING(result);
        const backend_t *be = g_backend;
        Py_BEGIN_ALLOW_THREADS
        uint32_t wa[8], wb[8];
        ctx_init(c, be, key.buf, (size_t)key.len);
        ctx_prefix(c, prefix, (size_t)prefixlen);
        Py_ssize_t i = 0;
        for (; i + 1 < msgs.n; i += 2) {
            ctx_two(c, msgs.ptr[i], (size_t)msgs.len[i], wa, msgs.ptr[i + 1], (size_t)msgs.len[i + 1], wb);
            store_words_be(out + 32 * i, wa);
            store_words_be(out + 32 * (i + 1), wb);
        }
        if (i < msgs.n) {
            ctx_one(c, msgs.ptr[i], (size_t)msgs.len[i], wa);
            store_words_be(out + 32 * i, wa);
        }
        Py_END_ALLOW_THREADS
    }
    PyMem_Free(c);
    textvec_free(&msgs);
    PyBuffer_Release(&key);
    return result;
}

/* --- scores_below(key, prefix, messages, limits) ----------------------------------------------- */

PyDoc_STRVAR(scores_below_doc,
"scores_below(key: bytes, prefix: bytes | str, messages: Sequence[bytes | str],\n"
"             limits: Sequence[bytes | None]) -> list[tuple[int, bytes]]\n\n"
"(i, digest) for every i whose limits[i] is not None and whose digest\n"
"HMAC-SHA256(key, prefix + messages[i]) < limits[i] (Python's bytes order), ascending i.\n"
"Messages whose limit is None are not hashed. Runs without the GIL.");

/* A digest (as words) and the index of its message. */
typedef struct {
    uint32_t w[8];
    uint32_t i;
} scored;

static int cmp_scored(const void *x, const void *y)
{
    const scored *a = x, *b = y;
    for (int k = 0; k < 8; k++)
        if (a->w[k] != b->w[k])
            return a->w[k] < b->w[k] ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

/* Append to a growing array (malloc'd, no GIL needed); 0 when out of memory. */
static int push_scored(scored **arr, size_t *n, size_t *cap, const uint32_t w[8], size_t i)
{
    if (*n == *cap) {
        size_t ncap = *cap ? 2 * *cap : 1024;
        scored *grown = realloc(*arr, ncap * sizeof **arr);
        if (grown == NULL)
            return 0;
        *arr = grown;
        *cap = ncap;
    }
    memcpy((*arr)[*n].w, w, 32);
    (*arr)[*n].i = (uint32_t)i;
    (*n)++;
    return 1;
}

static PyObject *py_scores_below(PyObject *self, PyObject *args)
{
    Py_buffer key;
    PyObject *prefix_obj, *messages, *limits_obj;
    if (!PyArg_ParseTuple(args, "y*OOO:scores_below", &key, &prefix_obj, &messages, &limits_obj))
        return NULL;
    const uint8_t *prefix;
    Py_ssize_t prefixlen;
    textvec msgs, limits;
    PyObject *result = NULL;
    hmac_ctx *c = NULL;
    scored *kept = NULL;
    if (as_text(prefix_obj, &prefix, &prefixlen, "prefix") < 0) {
        PyBuffer_Release(&key);
        return NULL;
    }
    if (textvec_init(&msgs, messages, "messages", 0, 0) < 0) {
        PyBuffer_Release(&key);
        return NULL;
    }
    if (textvec_init(&limits, limits_obj, "limits", 1, 1) < 0) {
        textvec_free(&msgs);
        PyBuffer_Release(&key);
        return NULL;
    }
    if (limits.n != msgs.n) {
        PyErr_SetString(PyExc_ValueError, "limits and messages differ in length");
        goto done;
    }
    if (msgs.n > (Py_ssize_t)UINT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "too many messages");
        goto done;
    }
    if ((c = PyMem_Malloc(sizeof *c)) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    size_t nkept = 0, cap = 0;
    int nomem = 0;
    const backend_t *be = g_backend;
    Py_BEGIN_ALLOW_THREADS
    ctx_init(c, be, key.buf, (size_t)key.len);
    ctx_prefix(c, prefix, (size_t)prefixlen);
    Py_ssize_t pending = -1; /* a message waiting for a partner to be hashed with */
    uint32_t wa[8], wb[8];
    limit_t la, lb;
    for (Py_ssize_t i = 0; i <= msgs.n && !nomem; i++) {
        Py_ssize_t a = pending, b = i;
        if (i == msgs.n) {
            if (pending < 0)
                break;
            ctx_one(c, msgs.ptr[a], (size_t)msgs.len[a], wa);
            b = -1;
        } else {
            if (limits.ptr[i] == NULL)
                continue;
            if (pending < 0) {
                pending = i;
                continue;
            }
            ctx_two(c, msgs.ptr[a], (size_t)msgs.len[a], wa, msgs.ptr[b], (size_t)msgs.len[b], wb);
        }
        pending = -1;
        limit_init(&la, limits.ptr[a], (size_t)limits.len[a]);
        if (below(wa, &la) && !push_scored(&kept, &nkept, &cap, wa, (size_t)a))
            nomem = 1;
        if (b >= 0) {
            limit_init(&lb, limits.ptr[b], (size_t)limits.len[b]);
            if (below(wb, &lb) && !push_scored(&kept, &nkept, &cap, wb, (size_t)b))
                nomem = 1;
        }
    }
    Py_END_ALLOW_THREADS
    if (nomem) {
        PyErr_NoMemory();
    } else if ((result = PyList_New((Py_ssize_t)nkept)) != NULL) {
        for (size_t j = 0; j < nkept; j++) {
            uint8_t d[32];
            store_words_be(d, kept[j].w);
            PyObject *item = Py_BuildValue("(Iy#)", (unsigned int)kept[j].i, (const char *)d, (Py_ssize_t)32);
            if (item == NULL) {
                Py_CLEAR(result);
                break;
            }
            PyList_SET_ITEM(result, (Py_ssize_t)j, item);
        }
    }
done:
    free(kept);
    PyMem_Free(c);
    textvec_free(&limits);
    textvec_free(&msgs);
    PyBuffer_Release(&key);
    return result;
}

/* --- rank_inspectors(key, prefixes, certs, limit, masks) ---------------------------------------- */

PyDoc_STRVAR(rank_inspectors_doc,
"rank_inspectors(key: bytes, prefixes: Sequence[bytes | str], certs: Sequence[bytes | str],\n"
"                limit: bytes | None = None, masks: Sequence[bytes | None] | None = None)\n"
"    -> list[list[int]]\n\n"
"For each prefix (e.g. \"inspector:<task>:<uscc>:\"), the indices i of the certificates whose\n"
"score HMAC-SHA256(key, prefix + certs[i]) is below limit (Python's bytes order; None: all),\n"
"sorted by (score, i). masks[e], when given and not None, is a bytes of len(certs): a nonzero\n"
"byte excludes that certificate for prefix e (it is not hashed). Ties fall to the index, so\n"
"pass the certificates sorted when ties must fall to the certificate. Runs without the GIL.");

static PyObject *py_rank_inspectors(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"key", "prefixes", "certs", "limit", "masks", NULL};
    Py_buffer key;
    PyObject *prefixes_obj, *certs_obj, *limit_obj = Py_None, *masks_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*OO|OO:rank_inspectors", kwlist, &key, &prefixes_obj,
                                     &certs_obj, &limit_obj, &masks_obj))
        return NULL;
    textvec prefixes, certs, masks;
    memset(&masks, 0, sizeof masks);
    PyObject *result = NULL;
    limit_t limit;
    limit_init(&limit, NULL, 0);
    hmac_ctx *c = NULL;
    size_t *offsets = NULL;
    scored *work = NULL;
    uint32_t *out = NULL;
    if (limit_obj != Py_None) {
        if (!PyBytes_Check(limit_obj)) {
            PyErr_SetString(PyExc_TypeError, "limit must be bytes or None");
            PyBuffer_Release(&key);
            return NULL;
        }
        limit_init(&limit, (const uint8_t *)PyBytes_AS_STRING(limit_obj), (size_t)PyBytes_GET_SIZE(limit_obj));
    }
    if (textvec_init(&prefixes, prefixes_obj, "prefixes", 0, 0) < 0) {
        PyBuffer_Release(&key);
        return NULL;
    }
    if (textvec_init(&certs, certs_obj, "certs", 0, 0) < 0) {
        textvec_free(&prefixes);
        PyBuffer_Release(&key);
        return NULL;
    }
    if (masks_obj != Py_None) {
        if (textvec_init(&masks, masks_obj, "masks", 1, 1) < 0)
            goto done;
        if (masks.n != prefixes.n) {
            PyErr_SetString(PyExc_ValueError, "masks and prefixes differ in length");
            goto done;
        }
        for (Py_ssize_t e = 0; e < masks.n; e++) {
            if (masks.ptr[e] != NULL && masks.len[e] != certs.n) {
                PyErr_Format(PyExc_ValueError, "masks[%zd] has %zd bytes for %zd certificates", e, masks.len[e],
                             certs.n);
                goto done;
            }
        }
    }
    if (certs.n > (Py_ssize_t)UINT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "too many certificates");
        goto done;
    }
    /* All kept indices, entity after entity; entity e's are out[offsets[e] .. offsets[e + 1]). */
    c = PyMem_Malloc(sizeof *c);
    offsets = PyMem_Malloc(sizeof(size_t) * ((size_t)prefixes.n + 1));
    work = PyMem_Malloc(sizeof(scored) * (size_t)(certs.n ? certs.n : 1));
    if (c == NULL || offsets == NULL || work == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    size_t nout = 0, cap = 0;
    int nomem = 0;
    const backend_t *be = g_backend;
    Py_BEGIN_ALLOW_THREADS
    ctx_init(c, be, key.buf, (size_t)key.len);
    for (Py_ssize_t e = 0; e < prefixes.n && !nomem; e++) {
        ctx_prefix(c, prefixes.ptr[e], (size_t)prefixes.len[e]);
        const uint8_t *mask = masks.tuple ? masks.ptr[e] : NULL;
        size_t nk = 0;
        Py_ssize_t pending = -1;
        /* At most certs.n entries are ever written to work, so it has room for both of a pair. */
        for (Py_ssize_t i = 0; i < certs.n; i++) {
            if (mask != NULL && mask[i])
                continue;
            if (pending < 0) {
                pending = i;
                continue;
            }
            scored *x = &work[nk], *y = &work[nk + 1];
            ctx_two(c, certs.ptr[pending], (size_t)certs.len[pending], x->w, certs.ptr[i], (size_t)certs.len[i],
                    y->w);
            x->i = (uint32_t)pending;
            y->i = (uint32_t)i;
            pending = -1;
            int keep_x = below(x->w, &limit), keep_y = below(y->w, &limit);
            if (keep_x) {
                nk += 1 + keep_y;
            } else if (keep_y) {
                *x = *y;
                nk++;
            }
        }
        if (pending >= 0) {
            scored *x = &work[nk];
            ctx_one(c, certs.ptr[pending], (size_t)certs.len[pending], x->w);
            x->i = (uint32_t)pending;
            nk += below(x->w, &limit);
        }
        qsort(work, nk, sizeof *work, cmp_scored);
        if (nout + nk > cap) {
            size_t ncap = cap ? cap : 4096;
            while (ncap < nout + nk)
                ncap *= 2;
            uint32_t *grown = realloc(out, ncap * sizeof *out);
            if (grown == NULL) {
                nomem = 1;
                break;
            }
            out = grown;
            cap = ncap;
        }
        offsets[e] = nout;
        for (size_t j = 0; j < nk; j++)
            out[nout++] = work[j].i;
    }
    if (!nomem)
        offsets[prefixes.n] = nout;
    Py_END_ALLOW_THREADS
    if (nomem) {
        PyErr_NoMemory();
    } else if ((result = PyList_New(prefixes.n)) != NULL) {
        for (Py_ssize_t e = 0; e < prefixes.n && result != NULL; e++) {
            size_t lo = offsets[e], hi = offsets[e + 1];
            PyObject *row = PyList_New((Py_ssize_t)(hi - lo));
            if (row == NULL) {
                Py_CLEAR(result);
                break;
            }
            PyList_SET_ITEM(result, e, row);
            for (size_t j = lo; j < hi; j++) {
                PyObject *v = PyLong_FromUnsignedLong(out[j]);
                if (v == NULL) {
                    Py_CLEAR(result);
                    break;
                }
                PyList_SET_ITEM(row, (Py_ssize_t)(j - lo), v);
            }
        }
    }
done:
    free(out);
    PyMem_Free(work);
    PyMem_Free(offsets);
    PyMem_Free(c);
    textvec_free(&masks);
    textvec_free(&certs);
    textvec_free(&prefixes);
    PyBuffer_Release(&key);
    return result;
}

/* --- backends -------------------------------------------------------------------------------------- */

PyDoc_STRVAR(backend_doc, "backend() -> str\n\nThe SHA-256 compression in use: \"sha-ni\" or \"portable\".");

static PyObject *py_backend(PyObject *self, PyObject *unused)
{
    return PyUnicode_FromString(g_backend->name);
}

PyDoc_STRVAR(sha_ni_supported_doc,
"sha_ni_supported() -> bool\n\nWhether this build has the SHA-NI code and this CPU the SHA extensions.");

static PyObject *py_sha_ni_supported(PyObject *self, PyObject *unused)
{
    return PyBool_FromLong(SUIJI_HAVE_SHANI && cpu_has_shani());
}

PyDoc_STRVAR(set_backend_doc,
"set_backend(name: str) -> str\n\n"
"Use \"portable\", \"sha-ni\" (ValueError when unsupported) or \"auto\" (SHA-NI when supported);\n"
"returns the backend now in use. Process-wide; meant for tests and benchmarks.");

static PyObject *py_set_backend(PyObject *self, PyObject *arg)
{
    const char *name = PyUnicode_Check(arg) ? PyUnicode_AsUTF8(arg) : NULL;
    if (name == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "set_backend() takes a str");
        return NULL;
    }
    int shani = SUIJI_HAVE_SHANI && cpu_has_shani();
    if (strcmp(name, "portable") == 0) {
        g_backend = &PORTABLE;
    } else if (strcmp(name, "sha-ni") == 0 || strcmp(name, "auto") == 0) {
        if (!shani) {
            if (strcmp(name, "sha-ni") == 0) {
                PyErr_SetString(PyExc_ValueError, "SHA-NI is not supported by this CPU or build");
                return NULL;
            }
            g_backend = &PORTABLE;
        }
#if SUIJI_HAVE_SHANI
        else {
            g_backend = &SHANI;
        }
#endif
    } else {
        PyErr_Format(PyExc_ValueError, "unknown backend %R (portable, sha-ni, auto)", arg);
        return NULL;
    }
    return PyUnicode_FromString(g_backend->name);
}

/* --- module ------------------------------------------------------------------------------------------ */

static PyMethodDef methods[] = {
    {"sha256", py_sha256, METH_VARARGS, sha256_doc},
    {"hmac_scores", py_hmac_scores, METH_VARARGS, hmac_scores_doc},
    {"scores_below", py_scores_below, METH_VARARGS, scores_below_doc},
    {"rank_inspectors", (PyCFunction)(void (*)(void))py_rank_inspectors, METH_VARARGS | METH_KEYWORDS,
     rank_inspectors_doc},
    {"backend", py_backend, METH_NOARGS, backend_doc},
    {"sha_ni_supported", py_sha_ni_supported, METH_NOARGS, sha_ni_supported_doc},
    {"set_backend", py_set_backend, METH_O, set_backend_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "suiji_native._scores",
    "HMAC-SHA256 scores of suiji-draw-v1 (portable C and SHA-NI SHA-256, GIL released).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__scores(void)
{
#if SUIJI_HAVE_SHANI
    if (cpu_has_shani())
        g_backend = &SHANI;
#endif
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddIntConstant(m, "API_VERSION", API_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
