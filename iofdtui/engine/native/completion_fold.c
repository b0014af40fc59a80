/*
 * Folding: the guest counts its handler's runs per vector and writes each
 * kick's record (kick and handler stamps) in its vCPU's area; here the runs
 * are widened to 64 bits and each answered kick's record goes into its
 * registration's per-stage histograms.  And what a reading reads of them.
 */
#define _GNU_SOURCE

#include "completion_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>


/* The guest's handler runs for our vector since the last look, widened; `mu` held. */
static void widen_runs(struct lab *lab, struct cpl *c)
{
    for (int k = 0; k < lab->nvcpus; k++) {
        uint32_t raw = *vcpu_u32(lab, k, CPL_VEC_COUNT + 4 * vector_of(c));
        c->handler_runs += raw - c->vec_prev[k];
        c->runs_on[k] += raw - c->vec_prev[k];
        c->vec_prev[k] = raw;
    }
}

static void stage_add(struct cpl *c, int stage, uint32_t cycles)
{
    struct accum *a = c->stage[stage];
    if (!a && !(a = c->stage[stage] = calloc(1, sizeof(*a))))
        return;
    a->samples++;
    a->cycles += cycles;
    a->hist[lab_hist_bucket(cycles)]++;
}

/* One answered kick's record into its registration's stage histograms. */
static void fold_record(struct lab *lab, int k, uint32_t idx)
{
    struct cpl_lab *L = lab->cpl;
    int owner = L->rec_owner[k][idx];
    L->rec_owner[k][idx] = -1;
    struct reg *r = reg_get(lab, owner);
    if (!r || !r->cpl)
        return;
    struct cpl *c = r->cpl;
    uint32_t kick = *rec_u32(lab, k, idx, RT_REC_KICK);
    uint32_t awake = *rec_u32(lab, k, idx, RT_REC_AWAKE);
    uint32_t written = *rec_u32(lab, k, idx, RT_REC_WRITTEN);
    uint32_t handler = *rec_u32(lab, k, idx, RT_REC_HANDLER);
    int32_t a = (int32_t)(awake - kick), w = (int32_t)(written - awake);
    int32_t h = (int32_t)(handler - written);
    if (a < 0 || w < 0 || h < 0) {
        c->negative++; /* a stage before its start: the clock mapping is wrong */
        return;
    }
    stage_add(c, LAB_CPL_AWAKE, (uint32_t)a);
    stage_add(c, LAB_CPL_WRITTEN, (uint32_t)w);
    stage_add(c, LAB_CPL_HANDLER, (uint32_t)h);
    stage_add(c, LAB_CPL_TOTAL, handler - kick);
    c->samples++;
}

/* The records of the kicks answered since the last fold; `mu` held (lab_fold). */
void lab_cpl_fold(struct lab *lab)
{
    struct cpl_lab *L = lab->cpl;
    if (!L)
        return;
    for (int k = 0; k < lab->nvcpus; k++) {
        uint32_t irqs = __atomic_load_n(vcpu_u32(lab, k, CPL_IRQS), __ATOMIC_ACQUIRE);
        uint32_t n = irqs - L->done[k];
        if (n > 0x7fffffffu) { /* behind what was folded: not a count we trust */
            L->done[k] = irqs;
            continue;
        }
        if (n > RT_RECORDS) {
            L->unrecorded += n - RT_RECORDS;
            L->done[k] += n - RT_RECORDS;
        }
        for (uint32_t i = L->done[k]; i != irqs; i++)
            fold_record(lab, k, i & (RT_RECORDS - 1));
        L->done[k] = irqs;
    }
    for (int i = 0; i < CPL_MAX; i++) {
        struct reg *r = L->owner[i] >= 0 ? reg_get(lab, L->owner[i]) : NULL;
        if (r && r->cpl)
            widen_runs(lab, r->cpl);
    }
}

/* Counters were zeroed; `mu` held, after the drain and the fold. */
void lab_cpl_reset(struct lab *lab)
{
    struct cpl_lab *L = lab->cpl;
    if (!L)
        return;
    L->unrecorded = 0;
    for (int i = 0; i < CPL_MAX; i++) {
        struct reg *r = L->owner[i] >= 0 ? reg_get(lab, L->owner[i]) : NULL;
        if (!r || !r->cpl)
            continue;
        struct cpl *c = r->cpl;
        drain_resamples(c);
        widen_runs(lab, c);
        c->signals_base = r->signals; /* zero after a reset */
        c->writes = c->write_errors = c->merged = c->resamples = 0;
        c->samples = c->negative = c->handler_runs = 0;
        memset(c->runs_on, 0, sizeof(c->runs_on));
        for (int s = 0; s < LAB_CPL_STAGES; s++) {
            free(c->stage[s]);
            c->stage[s] = NULL;
        }
    }
}
int lab_read_completion(struct lab *lab, int reg_id, struct lab_cpl_stats *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&lab->mu);
    struct reg *r = reg_get(lab, reg_id);
    struct cpl *c = r ? r->cpl : NULL;
    if (!c) {
        pthread_mutex_unlock(&lab->mu);
        return -ENOENT;
    }
    drain_resamples(c);
    widen_runs(lab, c);
    out->route = c->route;
    out->target = c->target;
    out->vector = (int32_t)vector_of(c);
    out->gsi = (int32_t)gsi_of(c);
    out->kicks = r->signals - c->signals_base;
    out->writes = c->writes;
    out->write_errors = c->write_errors;
    out->merged = c->merged;
    out->handler_runs = c->handler_runs;
    out->resamples = c->resamples;
    out->samples = c->samples;
    out->negative = c->negative;
    out->unrecorded = lab->cpl->unrecorded;
    out->work_cycles = c->work;
    out->kicker = cpl_kicker(lab, reg_id, c);
    for (int k = 0; k < lab->nvcpus; k++)
        out->runs_on[k] = c->runs_on[k];
    pthread_mutex_unlock(&lab->mu);
    return 0;
}

int lab_cpl_quantiles(struct lab *lab, int reg_id, int stage, const double *q, int nq, double *out)
{
    if (stage < 0 || stage >= LAB_CPL_STAGES || nq < 0 || nq > 64)
        return -EINVAL;
    pthread_mutex_lock(&lab->mu);
    struct reg *r = reg_get(lab, reg_id);
    if (!r || !r->cpl) {
        pthread_mutex_unlock(&lab->mu);
        return -ENOENT;
    }
    accum_quantiles(r->cpl->stage[stage], q, nq, out);
    pthread_mutex_unlock(&lab->mu);
    return 0;
}

int lab_cpl_mean(struct lab *lab, int reg_id, int stage, double *out)
{
    if (stage < 0 || stage >= LAB_CPL_STAGES)
        return -EINVAL;
    pthread_mutex_lock(&lab->mu);
    struct reg *r = reg_get(lab, reg_id);
    int err = !r || !r->cpl ? -ENOENT : 0;
    const struct accum *a = err ? NULL : r->cpl->stage[stage];
    *out = a && a->samples ? (double)a->cycles / (double)a->samples : -1;
    pthread_mutex_unlock(&lab->mu);
    return err;
}
