/*
 * The host-side accounting: folding the guest's counter pages (untrusted)
 * into widened totals, histogram buckets, the paths (slot, registration,
 * userspace exit, timer, wake-up) and their quantiles, the readings Python
 * takes, health, and resets.
 */
#define _GNU_SOURCE

#include "lab_internal.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(CTR_HIST + HIST_BUCKETS * 4 <= CTR_STRIDE, "a histogram overflows its counter page");

/* lab_hist_bucket() of the largest u32 must be a valid index (see guest_abi.h). */
_Static_assert((0xffffffffu >> (31 - HIST_SUB_BITS)) + ((31 - HIST_SUB_BITS) << HIST_SUB_BITS) <
                   HIST_BUCKETS,
               "HIST_BUCKETS too small for a u32 cycle count");

/* native_reads.py reads an array of these as u64 words (signals, rings, samples, cycles, loop, reads). */
_Static_assert(sizeof(struct lab_path_stats) == 6 * sizeof(uint64_t) &&
                   offsetof(struct lab_path_stats, reads) == 5 * sizeof(uint64_t),
               "lab_path_stats is six u64s");

_Static_assert(sizeof(struct lab_wake_stats) == 7 * sizeof(uint64_t),
               "native_reads.py reads lab_wake_stats as seven u64s");

/* ----------------------------------------------------------- folding -- */

/* The accumulator of `r` for `mode`, allocated on first use; `mu` held. */
static struct accum *reg_acc(struct reg *r, int mode)
{
    if (!r->acc[mode])
        r->acc[mode] = calloc(1, sizeof(*r->acc[mode]));
    return r->acc[mode];
}

static void accum_add(struct accum *a, uint64_t rings, uint64_t samples, uint64_t cycles)
{
    a->rings += rings;
    a->samples += samples;
    a->cycles += cycles;
}

/*
 * Fold the guest's counter pages into the host totals; `mu` held.
 * The pages are untrusted: only fixed offsets are read, every delta is a
 * u32, and a page that contradicts itself is counted as garbage.
 *
 * A live fold can land inside the guest's HIST_ADD, after its `inc samples`
 * and before its `inc hist[b]`: the page is then read with one sample more
 * than its histogram holds.  While what was read disagrees (hist_lag != 0)
 * the page is read whole at every fold, even if no scalar counter moved
 * since; otherwise the late bucket would never be read, and check_pages
 * would call the page garbage at the next pause.
 */
static void fold_vcpu(struct lab *lab, struct vcpu *v)
{
    for (int p = 0; p < CTR_COUNT; p++) {
        volatile uint32_t *pg = vcpu_u32(lab, v->index, CTR_BASE + (uint32_t)p * CTR_STRIDE);
        struct page_prev *pv = &v->prev[p];
        uint32_t rings = pg[CTR_RINGS / 4], samples = pg[CTR_SAMPLES / 4];
        uint32_t cycles = pg[CTR_CYCLES / 4], loop = pg[CTR_LOOP / 4];
        uint32_t dr = rings - pv->rings, ds = samples - pv->samples, dc = cycles - pv->cycles;
        uint32_t dl = p == CTR_CAL ? loop - pv->loop : 0;
        if (dr == 0 && ds == 0 && dc == 0 && dl == 0 && pv->hist_lag == 0)
            continue;
        pv->rings = rings;
        pv->samples = samples;
        pv->cycles = cycles;
        if (p == CTR_CAL)
            pv->loop = loop;

        int mode = current_mode(lab);
        struct accum *dst[3] = {NULL, NULL, NULL};
        struct slot *s = p < MAX_SLOTS ? &lab->slots[v->index * MAX_SLOTS + p] : NULL;
        if (p == CTR_CAL) {
            dst[0] = &lab->cal[mode];
            lab->cal[mode].loop_cycles += dl;
        } else if (s && s->defined) {
            dst[0] = &s->acc;
            if (s->route == LAB_ROUTE_ZONE) {
                dst[1] = lab_zone_accum(lab, s->kind, mode);
                s->rings_zone += dr;
            } else if (s->route < 0) {
                dst[1] = &lab->user[s->kind][mode];
                s->rings_user += dr;
            } else {
                struct reg *r = reg_get(lab, s->route);
                dst[1] = r ? reg_acc(r, mode) : NULL;
            }
        }
        uint32_t dh = 0; /* the histogram's new samples, mod 2^32 as the guest counts */
        for (int b = 0; b < HIST_BUCKETS; b++) {
            uint32_t h = pg[CTR_HIST / 4 + b];
            uint32_t d = h - pv->hist[b];
            if (!d)
                continue;
            pv->hist[b] = h;
            dh += d;
            for (int k = 0; k < 3; k++)
                if (dst[k])
                    dst[k]->hist[b] += d;
        }
        pv->hist_lag += ds - dh;
        for (int k = 0; k < 3; k++)
            if (dst[k])
                accum_add(dst[k], p == CTR_CAL ? 0 : dr, ds, dc);
    }
}

/* Every vCPU's pages; `mu` held. */
void lab_fold(struct lab *lab)
{
    for (int k = 0; k < lab->nvcpus; k++)
        fold_vcpu(lab, &lab->vcpus[k]);
    lab_cpl_fold(lab);
    clock_gettime(CLOCK_MONOTONIC, &lab->last_fold);
}

/*
 * Fold the guest's "issued" counters; `mu` held.  Kept apart from lab_fold() so
 * a live reading can take them last: rings done (read first) <= signals +
 * exits (read next) <= rings issued (read last) holds at every instant.
 */
void lab_fold_issued(struct lab *lab)
{
    for (int k = 0; k < lab->nvcpus; k++) {
        struct vcpu *v = &lab->vcpus[k];
        for (int p = 0; p < MAX_SLOTS; p++) {
            uint32_t raw = *vcpu_u32(lab, k, CTR_BASE + (uint32_t)p * CTR_STRIDE + CTR_ISSUED);
            uint32_t d = raw - v->prev[p].issued;
            v->prev[p].issued = raw;
            if (lab->slots[k * MAX_SLOTS + p].defined)
                lab->slots[k * MAX_SLOTS + p].issued += d;
        }
    }
}

/*
 * At a quiescent point every counter page must agree with itself: one
 * histogram bucket per timed sample (mod 2^32, as the guest's counters
 * wrap), and no page the plan does not use may move.  Live folds cannot
 * check this, since they may land in the middle of the guest's update.
 */
static void check_pages(struct lab *lab)
{
    uint32_t bad = 0;
    for (int k = 0; k < lab->nvcpus; k++) {
        const struct vcpu *v = &lab->vcpus[k];
        for (int p = 0; p < CTR_COUNT; p++) {
            const struct page_prev *pv = &v->prev[p];
            uint32_t sum = 0;
            for (int b = 0; b < HIST_BUCKETS; b++)
                sum += pv->hist[b];
            int unused = p < MAX_SLOTS && !lab->slots[k * MAX_SLOTS + p].defined &&
                         pv->rings != v->unused_rings[p];
            /* Parked between visits: every announced ring has been counted. */
            int unsettled = p < MAX_SLOTS && pv->issued != pv->rings;
            if (sum != pv->samples || (p == CTR_CAL && pv->rings != 0) || unused || unsettled)
                bad++;
        }
    }
    lab->health.garbage_pages = bad;
}

/* The guest is parked or stopped: take every count, then check the pages. */
void lab_sync_counters(struct lab *lab)
{
    pthread_mutex_lock(&lab->mu);
    lab_drain_all(lab);
    lab_zone_settle(lab);
    lab_fold(lab);
    lab_fold_issued(lab);
    check_pages(lab);
    pthread_mutex_unlock(&lab->mu);
}

/* -------------------------------------------------------- histograms -- */

/* Bucket of a cycle count, as the guest's HIST_ADD computes it. */
int lab_hist_bucket(uint32_t v)
{
    if (v < 128)
        return (int)v;
    int msb = 31 - __builtin_clz(v);
    int shift = msb - HIST_SUB_BITS;
    return (int)(v >> shift) + (shift << HIST_SUB_BITS);
}

/* Lower bound, in cycles, of a histogram bucket (see guest_abi.h). */
double lab_hist_value(int bucket)
{
    if (bucket < 0)
        return 0;
    if (bucket < 128)
        return bucket;
    int shift = bucket / 64 - 1;
    return (double)((uint64_t)(bucket - 64 * shift) << shift);
}

/* ------------------------------------------------------------- paths -- */

/* A slot's host-side totals, as lab_read_slots gives them; `mu` held. */
void lab_slot_final(struct slot *s, struct lab_slot_stats *out)
{
    out->rings = s->acc.rings;
    out->exits = __atomic_load_n(&s->exits, __ATOMIC_RELAXED);
    out->issued = s->issued;
    out->rings_user = s->rings_user;
    out->samples = s->acc.samples;
    out->cycles = s->acc.cycles;
    out->entries = __atomic_load_n(&s->entries, __ATOMIC_RELAXED);
    out->ring_full = __atomic_load_n(&s->ring_full, __ATOMIC_RELAXED);
    out->rings_zone = s->rings_zone;
}

static void path_from(struct lab_path_stats *out, uint64_t signals, const struct accum *a)
{
    memset(out, 0, sizeof(*out));
    out->signals = signals;
    out->rings = a ? a->rings : 0;
    out->samples = a ? a->samples : 0;
    out->cycles = a ? a->cycles : 0;
    out->loop_cycles = a ? a->loop_cycles : 0;
}

/* Every mode's rings of a registration: its final count as a path. */
void lab_reg_final(const struct reg *r, struct lab_path_stats *out)
{
    path_from(out, r->signals, NULL);
    for (int m = 0; m < LAB_MODES; m++) {
        const struct accum *a = r->acc[m];
        if (!a)
            continue;
        out->rings += a->rings;
        out->samples += a->samples;
        out->cycles += a->cycles;
    }
    for (int k = 0; k < LAB_READERS; k++)
        out->reads += r->reads[k];
}

/* Free a registration's accumulators (deassigned, or reset); `mu` held. */
void lab_reg_free(struct reg *r)
{
    for (int m = 0; m < LAB_MODES; m++) {
        free(r->acc[m]);
        r->acc[m] = NULL;
    }
    for (int k = 0; k < LAB_READERS; k++) {
        free(r->wake_acc[k]);
        r->wake_acc[k] = NULL;
    }
}

/* LAB_MODE_CURRENT or a valid mode; -1 when out of range. `mu` held. */
static int resolve_mode(struct lab *lab, int mode)
{
    if (mode == LAB_MODE_CURRENT)
        return current_mode(lab);
    return mode >= 0 && mode < LAB_MODES ? mode : -1;
}

/* `mu` held.  `mode`: enum lab_mode, LAB_MODE_CURRENT resolved here. */
static const struct accum *path_accum(struct lab *lab, int kind, int id, int mode,
                                      uint64_t *signals, uint64_t *reads, int *err)
{
    *signals = 0;
    *reads = 0;
    *err = 0;
    mode = resolve_mode(lab, mode);
    if (mode < 0) {
        *err = -EINVAL;
        return NULL;
    }
    switch (kind) {
    case LAB_PATH_SLOT:
        if (slot_ok(lab, id))
            return &lab->slots[id].acc;
        break;
    case LAB_PATH_REG: {
        struct reg *r = reg_get(lab, id);
        if (r) {
            *signals = r->signals;
            *reads = r->reads[mode % LAB_READERS];
            return r->acc[mode]; /* NULL until a slot routed to it rings in this mode */
        }
        break;
    }
    case LAB_PATH_USER:
        if (id >= 0 && id < NKINDS)
            return &lab->user[id][mode];
        break;
    case LAB_PATH_CAL:
        return &lab->cal[mode];
    case LAB_PATH_ZONE:
        if (id >= 0 && id < NKINDS)
            return lab_zone_accum(lab, id, mode); /* NULL before the first zone */
        break;
    case LAB_PATH_WAKE: {
        struct reg *r = reg_get(lab, id);
        if (r)
            return r->wake_acc[mode % LAB_READERS]; /* NULL until its first sample */
        break;
    }
    }
    *err = -ENOENT;
    return NULL;
}

/* ----------------------------------------------------------- reading -- */

int lab_read_slots(struct lab *lab, struct lab_slot_stats *out, int n)
{
    if (n > NSLOTS_ALL)
        n = NSLOTS_ALL;
    pthread_mutex_lock(&lab->mu);
    lab_fold(lab);
    for (int i = 0; i < n; i++)
        lab_slot_final(&lab->slots[i], &out[i]);
    pthread_mutex_unlock(&lab->mu);
    return n;
}

/*
 * One live reading, in the order that makes conservation checkable while the
 * guest runs: rings done first (every vCPU's), then every pending eventfd
 * count and the exits, then the rings issued (every vCPU's).  A lost or
 * invented count breaks done <= signals + exits <= issued at once, per
 * doorbell, even when both vCPUs ring it.
 */
int lab_read_live(struct lab *lab, struct lab_slot_stats *out, int n, const int *reg_ids,
                  uint64_t *signals, struct lab_wake_stats *wakes, int nregs)
{
    if (n > NSLOTS_ALL)
        n = NSLOTS_ALL;
    pthread_mutex_lock(&lab->mu);
    lab_fold(lab);
    lab_drain_listed(lab, reg_ids, nregs);
    lab_zone_drain(lab);
    for (int i = 0; i < n; i++)
        lab_slot_final(&lab->slots[i], &out[i]);
    for (int i = 0; i < nregs; i++) {
        const struct reg *r = reg_get(lab, reg_ids[i]);
        signals[i] = r ? r->signals : 0;
        if (wakes) {
            memset(&wakes[i], 0, sizeof(wakes[i]));
            if (r)
                wakes[i] = r->wake[reader_of(lab)];
        }
    }
    lab_fold_issued(lab);
    for (int i = 0; i < n; i++)
        out[i].issued = lab->slots[i].issued;
    pthread_mutex_unlock(&lab->mu);
    return n;
}

int lab_read_regs(struct lab *lab, const int *ids, int n, struct lab_path_stats *out)
{
    pthread_mutex_lock(&lab->mu);
    for (int i = 0; i < n; i++) {
        const struct reg *r = reg_get(lab, ids[i]);
        for (int m = 0; m < LAB_MODES; m++) {
            struct lab_path_stats *p = &out[(size_t)i * LAB_MODES + m];
            path_from(p, r ? r->signals : 0, r ? r->acc[m] : NULL);
            p->reads = r ? r->reads[m % LAB_READERS] : 0;
        }
    }
    pthread_mutex_unlock(&lab->mu);
    return n;
}

int lab_read_path(struct lab *lab, int kind, int id, int mode, struct lab_path_stats *out)
{
    uint64_t signals, reads;
    int err;
    pthread_mutex_lock(&lab->mu);
    const struct accum *a = path_accum(lab, kind, id, mode, &signals, &reads, &err);
    if (!err) {
        path_from(out, signals, a);
        out->reads = reads;
    }
    pthread_mutex_unlock(&lab->mu);
    return err;
}

int lab_read_hist(struct lab *lab, int kind, int id, int mode, uint64_t *out, int n)
{
    uint64_t signals, reads;
    int err;
    if (n > HIST_BUCKETS)
        n = HIST_BUCKETS;
    pthread_mutex_lock(&lab->mu);
    const struct accum *a = path_accum(lab, kind, id, mode, &signals, &reads, &err);
    for (int b = 0; !err && b < n; b++)
        out[b] = a ? a->hist[b] : 0;
    pthread_mutex_unlock(&lab->mu);
    return err ? err : n;
}

/*
 * The value at each quantile of `a` (NULL: no samples, every value -1): the
 * midpoint of the bucket that holds it.
 */
void accum_quantiles(const struct accum *a, const double *q, int nq, double *out)
{
    uint64_t total = 0;
    for (int b = 0; a && b < HIST_BUCKETS; b++)
        total += a->hist[b];
    for (int i = 0; i < nq; i++) {
        out[i] = -1;
        if (!a || total == 0)
            continue;
        double want = q[i] * (double)total;
        uint64_t seen = 0;
        for (int b = 0; b < HIST_BUCKETS; b++) {
            seen += a->hist[b];
            if ((double)seen >= want && seen > 0) {
                double lo = lab_hist_value(b), hi = lab_hist_value(b + 1);
                out[i] = b < 128 ? lo : (lo + hi) / 2;
                break;
            }
        }
    }
}

int lab_quantiles(struct lab *lab, int kind, int id, int mode, const double *q, int nq, double *out)
{
    uint64_t signals, reads;
    int err;
    pthread_mutex_lock(&lab->mu);
    const struct accum *a = path_accum(lab, kind, id, mode, &signals, &reads, &err);
    accum_quantiles(err ? NULL : a, q, nq, out);
    pthread_mutex_unlock(&lab->mu);
    return err;
}

/* Bounds of one lab_quantiles_many call: far above any use, and the lock is
 * held for the whole pass, so a runaway size is refused rather than served. */
#define QUANTILES_MAX_IDS 65536
#define QUANTILES_MAX_MODES 64
#define QUANTILES_MAX_Q 256
#define QUANTILES_MAX_OUT (1 << 20)

int lab_quantiles_many(struct lab *lab, int kind, const int *ids, int n, const int *modes,
                       int nmodes, const double *q, int nq, double *out)
{
    if (n < 0 || nmodes < 0 || nq < 0 || n > QUANTILES_MAX_IDS || nmodes > QUANTILES_MAX_MODES ||
        nq > QUANTILES_MAX_Q || (size_t)n * (size_t)nmodes * (size_t)nq > QUANTILES_MAX_OUT)
        return -EINVAL;
    if (kind < LAB_PATH_SLOT || kind > LAB_PATH_ZONE)
        return -EINVAL;
    if ((n && !ids) || (nmodes && !modes) || (nq && !q) || (n && nmodes && nq && !out))
        return -EINVAL;
    /* A bad mode fails the whole call, as it fails lab_quantiles. */
    for (int m = 0; m < nmodes; m++)
        if (modes[m] != LAB_MODE_CURRENT && (modes[m] < 0 || modes[m] >= LAB_MODES))
            return -EINVAL;
    pthread_mutex_lock(&lab->mu);
    for (int i = 0; i < n; i++) {
        for (int m = 0; m < nmodes; m++) {
            uint64_t signals, reads;
            int err;
            const struct accum *a = path_accum(lab, kind, ids[i], modes[m], &signals, &reads, &err);
            /* An id that is gone (or never was) has no samples: -1s. */
            accum_quantiles(err ? NULL : a, q, nq, &out[((size_t)i * nmodes + m) * nq]);
        }
    }
    pthread_mutex_unlock(&lab->mu);
    return 0;
}

int lab_read_health(struct lab *lab, struct lab_health *out)
{
    pthread_mutex_lock(&lab->mu);
    *out = lab->health;
    pthread_mutex_unlock(&lab->mu);
    /* The park counters and the state are the vCPU state machine's: under `ctl`. */
    pthread_mutex_lock(&lab->ctl);
    out->state = lab->state;
    out->forced_parks = lab->forced_parks;
    out->unsolicited_parks = lab->unsolicited_parks;
    pthread_mutex_unlock(&lab->ctl);
    return 0;
}

int lab_reset_counters(struct lab *lab)
{
    if (!lab_quiescent(lab))
        return -EBUSY;
    pthread_mutex_lock(&lab->ctl);
    lab->forced_parks = lab->unsolicited_parks = 0;
    pthread_mutex_unlock(&lab->ctl);
    pthread_mutex_lock(&lab->mu);
    lab_drain_all(lab);
    lab_zone_settle(lab);
    lab_fold(lab);
    lab_fold_issued(lab);
    lab_zone_reset(lab);
    for (int i = 0; i < NSLOTS_ALL; i++) {
        struct slot *s = &lab->slots[i];
        memset(&s->acc, 0, sizeof(s->acc));
        s->rings_user = 0;
        s->issued = 0;
        __atomic_store_n(&s->exits, 0, __ATOMIC_RELAXED);
    }
    for (int i = 0; i < lab->nregs; i++) {
        struct reg *r = &lab->regs[i];
        if (r->efd < 0)
            continue;
        r->signals = 0;
        r->consumer_mark = 0;
        memset(r->wake, 0, sizeof(r->wake));
        memset(r->reads, 0, sizeof(r->reads));
        lab_reg_free(r);
    }
    memset(lab->user, 0, sizeof(lab->user));
    memset(lab->cal, 0, sizeof(lab->cal));
    lab->reader_wakeups = 0;
    memset(&lab->health, 0, sizeof(lab->health));
    lab_cpl_reset(lab);
    pthread_mutex_unlock(&lab->mu);
    return 0;
}
