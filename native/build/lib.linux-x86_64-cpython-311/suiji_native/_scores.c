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
/* The same for two independent (state, blocks) pairs with the same number of blocks. */
typedef void (*compress2_fn)(uint32_t a[8], const uint8_t *pa, uint32_t b[8], const uint8_t *pb, size_t nblocks);

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

static void compress_portable(uint32_t st[8], const uint8_t *p, size_t nblocks)
{
    uint32_t w[64];
    while (nblocks--) {
        for (int i = 0; i < 16; i++)
            w[i] = load_be32(p + 4 * i);
        for (int i = 16; i < 64; i++) {
            uint32_t s0 = ROR32(w[i - 15], 7) ^ ROR32(w[i - 15], 18) ^ (w[i - 15] >> 3);
            uint32_t s1 = ROR32(w[i - 2], 17) ^ ROR32(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        uint32_t a = st[0], b = st[1], c = st[2], d = st[3], e = st[4], f = st[5], g = st[6], h = st[7];
        for (int i = 0; i < 64; i++) {
            uint32_t t1 = h + (ROR32(e, 6) ^ ROR32(e, 11) ^ ROR32(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
            uint32_t t2 = (ROR32(a, 2) ^ ROR32(a, 13) ^ ROR32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            h = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        st[0] += a;
        st[1] += b;
        st[2] += c;
        st[3] += d;
        st[4] += e;
        st[5] += f;
        st[6] += g;
        st[7] += h;
        p += 64;
    }
}

static void compress2_portable(uint32_t a[8], const uint8_t *pa, uint32_t b[8], const uint8_t *pb, size_t nblocks)
{
    compress_portable(a, pa, nblocks);
    compress_portable(b, pb, nblocks);
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

#define SHANI_STORE_STATE(st, S0, S1) do {                                  \
        __m128i t_ = _mm_shuffle_epi32(S0, 0x1B);                          \
        S1 = _mm_shuffle_epi32(S1, 0xB1);                                  \
        S0 = _mm_blend_epi16(t_, S1, 0xF0);                                \
        S1 = _mm_alignr_epi8(S1, t_, 8);                                   \
        _mm_storeu_si128((__m128i *)&(st)[0], S0);                         \
        _mm_storeu_si128((__m128i *)&(st)[4], S1);                         \
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

#define SHANI_LOAD_MSG(W, p, MASK) do {                                     \
        W[0] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)((p) + 0)), MASK);  \
        W[1] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)((p) + 16)), MASK); \
        W[2] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)((p) + 32)), MASK); \
        W[3] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)((p) + 48)), MASK); \
    } while (0)

SHANI_TARGET static void compress_shani(uint32_t st[8], const uint8_t *p, size_t nblocks)
{
    const __m128i MASK = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i S0, S1, W[4];
    SHANI_LOAD_STATE(st, S0, S1);
    while (nblocks--) {
        const __m128i save0 = S0, save1 = S1;
        SHANI_LOAD_MSG(W, p, MASK);
        SHANI_ROUNDS(S0, S1, W[0], 0);
        SHANI_ROUNDS(S0, S1, W[1], 1);
        SHANI_ROUNDS(S0, S1, W[2], 2);
        SHANI_ROUNDS(S0, S1, W[3], 3);
#define G1(g) SHANI_SCHEDULE(W, g); SHANI_ROUNDS(S0, S1, W[(g) & 3], g)
        G1(4); G1(5); G1(6); G1(7); G1(8); G1(9); G1(10); G1(11);
        G1(12); G1(13); G1(14); G1(15);
#undef G1
        S0 = _mm_add_epi32(S0, save0);
        S1 = _mm_add_epi32(S1, save1);
        p += 64;
    }
    SHANI_STORE_STATE(st, S0, S1);
}

SHANI_TARGET static void compress2_shani(uint32_t a[8], const uint8_t *pa, uint32_t b[8], const uint8_t *pb,
                                         size_t nblocks)
{
    const __m128i MASK = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i A0, A1, B0, B1, WA[4], WB[4];
    SHANI_LOAD_STATE(a, A0, A1);
    SHANI_LOAD_STATE(b, B0, B1);
    while (nblocks--) {
        const __m128i sa0 = A0, sa1 = A1, sb0 = B0, sb1 = B1;
        SHANI_LOAD_MSG(WA, pa, MASK);
        SHANI_LOAD_MSG(WB, pb, MASK);
#define G0(g) SHANI_ROUNDS(A0, A1, WA[g], g); SHANI_ROUNDS(B0, B1, WB[g], g)
        G0(0); G0(1); G0(2); G0(3);
#undef G0
#define G2(g) SHANI_SCHEDULE(WA, g); SHANI_SCHEDULE(WB, g); \
        SHANI_ROUNDS(A0, A1, WA[(g) & 3], g); SHANI_ROUNDS(B0, B1, WB[(g) & 3], g)
        G2(4); G2(5); G2(6); G2(7); G2(8); G2(9); G2(10); G2(11);
        G2(12); G2(13); G2(14); G2(15);
#undef G2
        A0 = _mm_add_epi32(A0, sa0);
        A1 = _mm_add_epi32(A1, sa1);
        B0 = _mm_add_epi32(B0, sb0);
        B1 = _mm_add_epi32(B1, sb1);
        pa += 64;
        pb += 64;
    }
    SHANI_STORE_STATE(a, A0, A1);
    SHANI_STORE_STATE(b, B0, B1);
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
    compress2_fn two;
} backend_t;

static const backend_t PORTABLE = {"portable", compress_portable, compress2_portable};
#if SUIJI_HAVE_SHANI
static const backend_t SHANI = {"sha-ni", compress_shani, compress2_shani};
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
    for (int i = 0; i < 8; i++)
        store_be32(out + 4 * i, st[i]);
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

/* The final inner blocks (rest of prefix, message, padding) in buf; their count, 0 if too long. */
static inline size_t build_tail(const prefix_state *p, const uint8_t *msg, size_t len, uint8_t *buf)
{
    size_t n = p->remlen + len;
    if (len > TAIL_MAX || n + 9 > TAIL_MAX)
        return 0;
    size_t blocks = (n + 9 + 63) / 64;
    memcpy(buf, p->rem, p->remlen);
    memcpy(buf + p->remlen, msg, len);
    buf[n] = 0x80;
    memset(buf + n + 1, 0, blocks * 64 - 8 - (n + 1));
    store_be64(buf + blocks * 64 - 8, (p->absorbed + n) * 8);
    return blocks;
}

/* The outer block over a 32-byte inner digest: bytes 32..63 (padding, length 96 bytes) are fixed. */
static inline void outer_block_init(uint8_t blk[64])
{
    memset(blk, 0, 64);
    blk[32] = 0x80;
    store_be64(blk + 56, (64 + 32) * 8);
}

static inline void state_to_bytes(const uint32_t st[8], uint8_t *out)
{
    for (int i = 0; i < 8; i++)
        store_be32(out + 4 * i, st[i]);
}

/* HMAC(key, prefix || msg) into out. */
static void hmac_one(const hmac_key *k, const prefix_state *p, const uint8_t *msg, size_t len, uint8_t out[32],
                     const backend_t *be)
{
    uint32_t st[8], os[8];
    uint8_t buf[TAIL_MAX], ob[64];
    memcpy(st, p->state, sizeof st);
    size_t nb = build_tail(p, msg, len, buf);
    if (nb)
        be->one(st, buf, nb);
    else
        finish_stream(st, p, msg, len, be->one);
    outer_block_init(ob);
    state_to_bytes(st, ob);
    memcpy(os, k->outer, sizeof os);
    be->one(os, ob, 1);
    state_to_bytes(os, out);
}

/* Two HMACs with the same key and prefix, interleaved when their tails have as many blocks. */
static void hmac_two(const hmac_key *k, const prefix_state *p, const uint8_t *ma, size_t la, uint8_t outa[32],
                     const uint8_t *mb, size_t lb, uint8_t outb[32], const backend_t *be)
{
    uint8_t bufa[TAIL_MAX], bufb[TAIL_MAX];
    size_t na = build_tail(p, ma, la, bufa);
    size_t nb = na ? build_tail(p, mb, lb, bufb) : 0;
    if (!na || na != nb) {
        hmac_one(k, p, ma, la, outa, be);
        hmac_one(k, p, mb, lb, outb, be);
        return;
    }
    uint32_t sa[8], sb[8];
    uint8_t oa[64], ob[64];
    memcpy(sa, p->state, sizeof sa);
    memcpy(sb, p->state, sizeof sb);
    be->two(sa, bufa, sb, bufb, na);
    outer_block_init(oa);
    outer_block_init(ob);
    state_to_bytes(sa, oa);
    state_to_bytes(sb, ob);
    memcpy(sa, k->outer, sizeof sa);
    memcpy(sb, k->outer, sizeof sb);
    be->two(sa, oa, sb, ob, 1);
    state_to_bytes(sa, outa);
    state_to_bytes(sb, outb);
}

/* Python's bytes order: digest < limit. */
static inline int below(const uint8_t d[32], const uint8_t *limit, size_t limitlen)
{
    size_t m = limitlen < 32 ? limitlen : 32;
    int c = memcmp(d, limit, m);
    return c < 0 || (c == 0 && limitlen > 32);
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
    result = PyBytes_FromStringAndSize(NULL, 32 * msgs.n);
    if (result != NULL) {
        uint8_t *out = (uint8_t *)PyBytes_AS_STRING(result);
        const backend_t *be = g_backend;
        Py_BEGIN_ALLOW_THREADS
        hmac_key k;
        prefix_state p;
        hmac_key_init(&k, key.buf, (size_t)key.len, be->one);
        prefix_init(&p, &k, prefix, (size_t)prefixlen, be->one);
        Py_ssize_t i = 0;
        for (; i + 1 < msgs.n; i += 2)
            hmac_two(&k, &p, msgs.ptr[i], (size_t)msgs.len[i], out + 32 * i, msgs.ptr[i + 1],
                     (size_t)msgs.len[i + 1], out + 32 * (i + 1), be);
        if (i < msgs.n)
            hmac_one(&k, &p, msgs.ptr[i], (size_t)msgs.len[i], out + 32 * i, be);
        Py_END_ALLOW_THREADS
    }
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

typedef struct {
    uint32_t i;
    uint8_t d[32];
} scored;

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
    scored *kept = NULL;
    size_t nkept = 0, cap = 0;
    int nomem = 0;
    const backend_t *be = g_backend;
    Py_BEGIN_ALLOW_THREADS
    hmac_key k;
    prefix_state p;
    hmac_key_init(&k, key.buf, (size_t)key.len, be->one);
    prefix_init(&p, &k, prefix, (size_t)prefixlen, be->one);
    Py_ssize_t pending = -1; /* an index waiting for a partner to be hashed with */
    uint8_t da[32], db[32];
    for (Py_ssize_t i = 0; i <= msgs.n && !nomem; i++) {
        Py_ssize_t a, b;
        if (i == msgs.n) {
            if (pending < 0)
                break;
            hmac_one(&k, &p, msgs.ptr[pending], (size_t)msgs.len[pending], da, be);
            a = pending;
            b = -1;
        } else {
            if (limits.ptr[i] == NULL)
                continue;
            if (pending < 0) {
                pending = i;
                continue;
            }
            hmac_two(&k, &p, msgs.ptr[pending], (size_t)msgs.len[pending], da, msgs.ptr[i], (size_t)msgs.len[i],
                     db, be);
            a = pending;
            b = i;
        }
        pending = -1;
        for (int t = 0; t < 2; t++) {
            Py_ssize_t j = t ? b : a;
            const uint8_t *d = t ? db : da;
            if (j < 0 || !below(d, limits.ptr[j], (size_t)limits.len[j]))
                continue;
            if (nkept == cap) {
                size_t ncap = cap ? 2 * cap : 1024;
                scored *grown = realloc(kept, ncap * sizeof *kept);
                if (grown == NULL) {
                    nomem = 1;
                    break;
                }
                kept = grown;
                cap = ncap;
            }
            kept[nkept].i = (uint32_t)j;
            memcpy(kept[nkept].d, d, 32);
            nkept++;
        }
    }
    Py_END_ALLOW_THREADS
    if (nomem) {
        PyErr_NoMemory();
    } else if ((result = PyList_New((Py_ssize_t)nkept)) != NULL) {
        for (size_t j = 0; j < nkept; j++) {
            PyObject *item = Py_BuildValue("(Iy#)", (unsigned int)kept[j].i, (const char *)kept[j].d, (Py_ssize_t)32);
            if (item == NULL) {
                Py_CLEAR(result);
                break;
            }
            PyList_SET_ITEM(result, (Py_ssize_t)j, item);
        }
    }
    free(kept);
done:
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

static int cmp_scored(const void *x, const void *y)
{
    const scored *a = x, *b = y;
    int c = memcmp(a->d, b->d, 32);
    if (c)
        return c;
    return (a->i > b->i) - (a->i < b->i);
}

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
    const uint8_t *limit = NULL;
    size_t limitlen = 0;
    if (limit_obj != Py_None) {
        if (!PyBytes_Check(limit_obj)) {
            PyErr_SetString(PyExc_TypeError, "limit must be bytes or None");
            PyBuffer_Release(&key);
            return NULL;
        }
        limit = (const uint8_t *)PyBytes_AS_STRING(limit_obj);
        limitlen = (size_t)PyBytes_GET_SIZE(limit_obj);
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
    size_t *offsets = malloc(sizeof(size_t) * ((size_t)prefixes.n + 1));
    scored *work = malloc(sizeof(scored) * (size_t)(certs.n ? certs.n : 1));
    uint32_t *out = NULL;
    size_t nout = 0, cap = 0;
    int nomem = offsets == NULL || work == NULL;
    const backend_t *be = g_backend;
    Py_BEGIN_ALLOW_THREADS
    hmac_key k;
    hmac_key_init(&k, key.buf, (size_t)key.len, be->one);
    for (Py_ssize_t e = 0; e < prefixes.n && !nomem; e++) {
        prefix_state p;
        prefix_init(&p, &k, prefixes.ptr[e], (size_t)prefixes.len[e], be->one);
        const uint8_t *mask = masks.tuple ? masks.ptr[e] : NULL;
        size_t nk = 0;
        Py_ssize_t pending = -1;
        for (Py_ssize_t i = 0; i <= certs.n; i++) {
            Py_ssize_t a = -1, b = -1;
            if (i == certs.n) {
                if (pending < 0)
                    break;
                a = pending;
                hmac_one(&k, &p, certs.ptr[a], (size_t)certs.len[a], work[nk].d, be);
                work[nk].i = (uint32_t)a;
                nk += limit == NULL || below(work[nk].d, limit, limitlen);
                break;
            }
            if (mask != NULL && mask[i])
                continue;
            if (pending < 0) {
                pending = i;
                continue;
            }
            a = pending;
            b = i;
            pending = -1;
            /* work has room: at most certs.n entries are ever written, two per pair. */
            hmac_two(&k, &p, certs.ptr[a], (size_t)certs.len[a], work[nk].d, certs.ptr[b], (size_t)certs.len[b],
                     work[nk + 1].d, be);
            work[nk].i = (uint32_t)a;
            work[nk + 1].i = (uint32_t)b;
            if (limit == NULL) {
                nk += 2;
            } else {
                int keep_a = below(work[nk].d, limit, limitlen);
                int keep_b = below(work[nk + 1].d, limit, limitlen);
                if (keep_a) {
                    nk++;
                    if (keep_b)
                        nk++;
                } else if (keep_b) {
                    work[nk] = work[nk + 1];
                    nk++;
                }
            }
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
        for (Py_ssize_t e = 0; e < prefixes.n; e++) {
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
            if (result == NULL)
                break;
        }
    }
    free(out);
    free(work);
    free(offsets);
done:
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
