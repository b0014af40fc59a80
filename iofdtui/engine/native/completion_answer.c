/*
 * The device: whoever reads a signal from a registration with a completion
 * (the reader thread, a reading, a pause, a deassign) answers it here, after
 * the configured device work, with one irqfd write; the kick's record gets
 * the host's two stamps (awake, written) on the guest clock.
 */
#define _GNU_SOURCE

#include "completion_internal.h"

#include <errno.h>
#include <x86intrin.h>

static void stamp(struct lab *lab, int k, uint32_t idx, uint32_t field, uint64_t host_tsc)
{
    __atomic_store_n(rec_u32(lab, k, idx, field), (uint32_t)(host_tsc + lab->tsc_offset),
                     __ATOMIC_RELAXED);
}

/*
 * `count` signals were just read from `r`'s eventfd, `woke` being when its
 * reader woke (host TSC); `mu` held.  One read, one completion: signals
 * read together are merged (counted, never lost).  When the target vCPU is
 * waiting for this vector, its current kick is the one answered: stamp its
 * record and remember whose it is.
 */
void lab_cpl_answer(struct lab *lab, struct reg *r, uint64_t count, uint64_t woke)
{
    struct cpl *c = r->cpl;
    struct cpl_lab *L = lab->cpl;
    if (count > 1)
        c->merged += count - 1;
    /* The vCPU waiting for this vector said so (guest RAM: checked, never trusted). */
    uint32_t waiter = __atomic_load_n(guest_u32(lab, CPL_WAITER + 4 * vector_of(c)),
                                      __ATOMIC_ACQUIRE);
    int valid = waiter >= 1 && waiter <= (uint32_t)lab->nvcpus;
    int k = valid ? (int)waiter - 1 : 0;
    uint32_t want = __atomic_load_n(vcpu_u32(lab, k, CPL_WANT), __ATOMIC_ACQUIRE);
    uint32_t kicks = __atomic_load_n(vcpu_u32(lab, k, CPL_KICKS), __ATOMIC_ACQUIRE);
    uint32_t idx = (kicks - 1) & (RT_RECORDS - 1);
    /* A waiter out of range stamps nothing: vCPU 0's record is not its to take. */
    int ours = valid && want == vector_of(c) && L->rec_owner[k];
    if (ours) {
        L->rec_owner[k][idx] = (int32_t)(r - lab->regs);
        stamp(lab, k, idx, RT_REC_AWAKE, woke);
    }
    uint64_t now = __rdtsc();
    while (c->work && now - woke < c->work) /* the device computes before it answers */
        now = __rdtsc();
    if (ours)
        stamp(lab, k, idx, RT_REC_WRITTEN, now);
    uint64_t one = 1;
    if (write(c->irqfd, &one, sizeof(one)) == sizeof(one))
        c->writes++;
    else
        c->write_errors++;
    drain_resamples(c);
}
int lab_set_device_work(struct lab *lab, uint32_t cycles)
{
    pthread_mutex_lock(&lab->mu);
    struct cpl_lab *L = cpl_lab_get(lab);
    if (L)
        L->work = cycles;
    for (int i = 0; L && i < CPL_MAX; i++) {
        struct reg *r = L->owner[i] >= 0 ? reg_get(lab, L->owner[i]) : NULL;
        if (r && r->cpl)
            r->cpl->work = cycles;
    }
    pthread_mutex_unlock(&lab->mu);
    return L ? 0 : -ENOMEM;
}

int lab_set_cpl_work(struct lab *lab, int reg_id, uint32_t cycles)
{
    pthread_mutex_lock(&lab->mu);
    struct reg *r = reg_get(lab, reg_id);
    if (r && r->cpl)
        r->cpl->work = cycles; /* the reader reads it under `mu`, answer by answer */
    pthread_mutex_unlock(&lab->mu);
    return r && r->cpl ? 0 : -ENOENT;
}
