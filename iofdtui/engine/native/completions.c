/*
 * Completions on the lab's own registrations: the other half of the
 * notification loop, live.  A registration may carry a completion: each
 * time its eventfd is read (by the reader thread, a reading or a pause),
 * the reader answers by writing the registration's irqfd, after the
 * configured device work.  Routes:
 *   MSI  a KVM_SET_GSI_ROUTING entry (GSI CPL_GSI0 + index) to the target
 *        vCPU's LAPIC with a vector of its own (virtio-pci, vhost); the target
 *        may be another vCPU than the one that kicks (the loop crosses CPUs);
 *   pin  an IOAPIC pin (16..23), level-triggered, KVM_IRQFD_FLAG_RESAMPLE with
 *        a resample eventfd that KVM signals at the guest's EOI (VFIO INTx).
 * The guest rings such a registration's slots as KIND_CPL (one write, then
 * `sti; hlt` until its handler took the vector: guest_abi.h CPL_*), so each
 * kick has at most one completion in flight and per registration
 *   kicks (signals read) = irqfd writes + write errors + merged
 *   irqfd writes = handler runs (once nothing is in flight: at a pause).
 * Each kick's record (guest: kick and handler stamps; host: awake and
 * written, on the guest clock) is folded into per-stage histograms.
 */
#define _GNU_SOURCE

#include "lab_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <x86intrin.h>

#define CPL_MAX 128          /* completions per lab: vectors 0x40..0xbf */
#define CPL_VECTOR0 0x40
#define CPL_GSI0 24          /* MSI GSIs sit above the IOAPIC's 24 pins */
#define CPL_PINS 24
#define CPL_PIN0 16          /* the pin route's pins: 16..23, clear of the ISA IRQs */

_Static_assert(CPL_VECTOR0 + CPL_MAX <= 0xf0, "completion vectors run into the high ones");
_Static_assert((MAX_VCPUS - 1) * VCPU_AREA + CPL_REC + (RT_RECORDS << RT_REC_SHIFT) <=
                   GUEST_RAM_SIZE,
               "a vCPU's completion records overflow RAM");
_Static_assert(CPL_VEC_COUNT + 256 * 4 <= GUEST_STACK_TOP - 0x1000 && CPL_BASE >= MB_WAKE + 0x10,
               "the completion block overlaps the mailbox or the stack");

struct cpl {
    int index, route, target, pin;
    int irqfd, resamplefd;
    uint64_t signals_base;   /* the registration's signals when the completion was attached */
    uint64_t writes, write_errors, merged, resamples, samples, negative;
    uint64_t handler_runs;
    uint32_t vec_prev[MAX_VCPUS]; /* the guest's count for our vector at the last look */
    struct accum *stage[LAB_CPL_STAGES];
};

struct cpl_lab {
    int owner[CPL_MAX];          /* registration id using index i, -1: free */
    uint32_t work;               /* device work: TSC cycles spun before each answer */
    int32_t *rec_owner[MAX_VCPUS]; /* per record: the registration the host answered, -1 */
    uint32_t done[MAX_VCPUS];    /* the guest's CPL_IRQS folded up to */
    uint64_t unrecorded;         /* kicks whose record was overwritten before it was folded */
};

static uint32_t vector_of(const struct cpl *c) { return CPL_VECTOR0 + (uint32_t)c->index; }

/* The vCPUs whose plan rings a slot routed to `reg_id`, as a bit mask. */
static unsigned ringers_of(struct lab *lab, int reg_id)
{
    unsigned mask = 0;
    for (int k = 0; k < lab->nvcpus; k++) {
        const struct vcpu *v = &lab->vcpus[k];
        for (int i = 0; i < v->plan_n; i++)
            if (lab->slots[v->plan[i]].route == reg_id)
                mask |= 1u << k;
    }
    return mask;
}

/* The one vCPU whose kicks wait for the completion: the first that rings it. */
static int kicker_of(struct lab *lab, int reg_id, const struct cpl *c)
{
    unsigned mask = ringers_of(lab, reg_id);
    return mask ? __builtin_ctz(mask) : c->target;
}

uint32_t lab_cpl_vector(struct lab *lab, int reg_id, int vcpu)
{
    struct reg *r = reg_get(lab, reg_id);
    if (!r || !r->cpl || kicker_of(lab, reg_id, r->cpl) != vcpu)
        return 0;
    return vector_of(r->cpl);
}

uint32_t lab_cpl_target(struct lab *lab, int reg_id)
{
    struct reg *r = reg_get(lab, reg_id);
    return r && r->cpl ? (uint32_t)r->cpl->target : 0;
}

uint32_t lab_cpl_any(struct lab *lab)
{
    struct cpl_lab *L = lab->cpl;
    for (int i = 0; L && i < CPL_MAX; i++)
        if (L->owner[i] >= 0)
            return 1;
    return 0;
}

static struct cpl_lab *cpl_lab_get(struct lab *lab)
{
    if (lab->cpl)
        return lab->cpl;
    struct cpl_lab *L = calloc(1, sizeof(*L));
    if (!L)
        return NULL;
    for (int i = 0; i < CPL_MAX; i++)
        L->owner[i] = -1;
    for (int k = 0; k < lab->nvcpus; k++) {
        L->rec_owner[k] = malloc(RT_RECORDS * sizeof(int32_t));
        if (!L->rec_owner[k]) {
            for (int j = 0; j < k; j++)
                free(L->rec_owner[j]);
            free(L);
            return NULL;
        }
        memset(L->rec_owner[k], 0xff, RT_RECORDS * sizeof(int32_t));
        L->done[k] = *vcpu_u32(lab, k, CPL_IRQS);
    }
    lab->cpl = L;
    return L;
}

/* ------------------------------------------------------ the answer -- */

static void drain_resamples(struct cpl *c)
{
    uint64_t n;
    if (c->resamplefd >= 0 && read(c->resamplefd, &n, sizeof(n)) == sizeof(n))
        c->resamples += n;
}

/* A field of vCPU `k`'s record `idx`: past the end of its area (vcpu_u32 would
 * wrap), inside RAM by the _Static_assert above. */
static volatile uint32_t *rec_u32(struct lab *lab, int k, uint32_t idx, uint32_t field)
{
    idx &= RT_RECORDS - 1;
    return guest_u32(lab, (uint32_t)k * VCPU_AREA + CPL_REC + (idx << RT_REC_SHIFT) + field % 16);
}

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
    while (L->work && now - woke < L->work) /* the device computes before it answers */
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

/* ------------------------------------------------------- folding -- */

/* The guest's handler runs for our vector since the last look, widened; `mu` held. */
static void widen_runs(struct lab *lab, struct cpl *c)
{
    for (int k = 0; k < lab->nvcpus; k++) {
        uint32_t raw = *vcpu_u32(lab, k, CPL_VEC_COUNT + 4 * vector_of(c));
        c->handler_runs += raw - c->vec_prev[k];
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
        for (int s = 0; s < LAB_CPL_STAGES; s++) {
            free(c->stage[s]);
            c->stage[s] = NULL;
        }
    }
}

/* ------------------------------------------------- routing and pins -- */

/* The whole GSI table: the IOAPIC's pins (GSI n = pin n) and every MSI completion. */
static int set_routing(struct lab *lab)
{
    struct cpl_lab *L = lab->cpl;
    size_t size = sizeof(struct kvm_irq_routing) +
                  (CPL_PINS + CPL_MAX) * sizeof(struct kvm_irq_routing_entry);
    struct kvm_irq_routing *table = calloc(1, size);
    if (!table)
        return -ENOMEM;
    uint32_t n = 0;
    for (int pin = 0; pin < CPL_PINS; pin++, n++) {
        table->entries[n].gsi = (uint32_t)pin;
        table->entries[n].type = KVM_IRQ_ROUTING_IRQCHIP;
        table->entries[n].u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
        table->entries[n].u.irqchip.pin = (uint32_t)pin;
    }
    for (int i = 0; i < CPL_MAX; i++) {
        struct reg *r = L->owner[i] >= 0 ? reg_get(lab, L->owner[i]) : NULL;
        if (!r || !r->cpl || r->cpl->route != LAB_CPL_MSI)
            continue;
        struct kvm_irq_routing_entry *e = &table->entries[n++];
        e->gsi = CPL_GSI0 + (uint32_t)i;
        e->type = KVM_IRQ_ROUTING_MSI;
        /* Fixed delivery, physical destination: APIC id = vCPU index (KVM's default). */
        e->u.msi.address_lo = LAPIC_BASE | ((uint32_t)r->cpl->target << 12);
        e->u.msi.data = vector_of(r->cpl);
    }
    table->nr = n;
    int err = ioctl(lab->vm, KVM_SET_GSI_ROUTING, table) < 0 ? -errno : 0;
    free(table);
    return err;
}

/* Program (or mask) the pin's IOAPIC redirection entry from the host. */
static int set_pin(struct lab *lab, const struct cpl *c, int on)
{
    struct kvm_irqchip chip;
    memset(&chip, 0, sizeof(chip));
    chip.chip_id = KVM_IRQCHIP_IOAPIC;
    if (ioctl(lab->vm, KVM_GET_IRQCHIP, &chip) < 0)
        return -errno;
    __typeof__(chip.chip.ioapic.redirtbl[0]) *e = &chip.chip.ioapic.redirtbl[c->pin];
    e->bits = 0;
    e->fields.vector = (uint8_t)vector_of(c);
    e->fields.trig_mode = 1; /* level: KVM lowers it at the EOI and signals the resamplefd */
    e->fields.mask = on ? 0 : 1;
    e->fields.dest_id = (uint8_t)c->target;
    return ioctl(lab->vm, KVM_SET_IRQCHIP, &chip) < 0 ? -errno : 0;
}

static uint32_t gsi_of(const struct cpl *c)
{
    return c->route == LAB_CPL_PIN ? (uint32_t)c->pin : CPL_GSI0 + (uint32_t)c->index;
}

static int irqfd_ctl(struct lab *lab, struct cpl *c, int assign)
{
    struct kvm_irqfd req = {.fd = (uint32_t)c->irqfd, .gsi = gsi_of(c)};
    if (!assign) {
        req.flags = KVM_IRQFD_FLAG_DEASSIGN;
    } else if (c->route == LAB_CPL_PIN) {
        req.flags = KVM_IRQFD_FLAG_RESAMPLE;
        req.resamplefd = (uint32_t)c->resamplefd;
    }
    return ioctl(lab->vm, KVM_IRQFD, &req) < 0 ? -errno : 0;
}

static void cpl_free(struct cpl *c)
{
    if (c->irqfd >= 0)
        close(c->irqfd);
    if (c->resamplefd >= 0)
        close(c->resamplefd);
    for (int s = 0; s < LAB_CPL_STAGES; s++)
        free(c->stage[s]);
    free(c);
}

/*
 * Take `r`'s completion away: fold its last records, deassign its irqfd
 * (KVM_IRQFD_FLAG_DEASSIGN), mask its pin, drop its route and rewrite the
 * plans so no slot waits for it.  `mu` held, quiescent.  0, or the first
 * -errno (everything is freed anyway).
 */
int lab_cpl_release(struct lab *lab, struct reg *r)
{
    struct cpl *c = r->cpl;
    struct cpl_lab *L = lab->cpl;
    if (!c)
        return 0;
    lab_cpl_fold(lab);
    drain_resamples(c);
    int err = irqfd_ctl(lab, c, 0);
    if (c->route == LAB_CPL_PIN) {
        int e = set_pin(lab, c, 0);
        err = err ? err : e;
    }
    int id = (int)(r - lab->regs);
    L->owner[c->index] = -1;
    r->cpl = NULL;
    int e = set_routing(lab);
    err = err ? err : e;
    for (int k = 0; k < lab->nvcpus; k++)
        for (int i = 0; i < RT_RECORDS; i++)
            if (L->rec_owner[k][i] == id)
                L->rec_owner[k][i] = -1;
    if (reader_of(lab) == LAB_CONSUMER_NONE && r->efd >= 0)
        (void)epoll_ctl(lab->epfd, EPOLL_CTL_DEL, r->efd, NULL);
    cpl_free(c);
    lab_write_plans(lab);
    return err;
}

int lab_set_completion(struct lab *lab, int reg_id, int route, int target)
{
    if (!lab->irqchip)
        return -ENOTSUP;
    if (route < LAB_CPL_NONE || route > LAB_CPL_PIN || target < 0 || target >= lab->nvcpus)
        return -EINVAL;
    if (!lab_quiescent(lab))
        return -EBUSY;
    /* One kick in flight needs one kicker: an eventfd cannot say which vCPU rang it. */
    if (route != LAB_CPL_NONE && __builtin_popcount(ringers_of(lab, reg_id)) > 1)
        return -EXDEV;
    pthread_mutex_lock(&lab->mu);
    struct reg *r = reg_get(lab, reg_id);
    struct cpl_lab *L = r ? cpl_lab_get(lab) : NULL;
    int err = !r ? -ENOENT : !L ? -ENOMEM : 0;
    if (!err && r->cpl)
        err = lab_cpl_release(lab, r);
    if (err || route == LAB_CPL_NONE) {
        pthread_mutex_unlock(&lab->mu);
        return err;
    }
    int index = -1, pin = -1;
    for (int i = 0; i < CPL_MAX && index < 0; i++)
        if (L->owner[i] < 0)
            index = i;
    if (route == LAB_CPL_PIN) {
        for (int p = CPL_PIN0; p < CPL_PINS && pin < 0; p++) {
            int used = 0;
            for (int i = 0; i < CPL_MAX; i++) {
                struct reg *o = L->owner[i] >= 0 ? reg_get(lab, L->owner[i]) : NULL;
                used |= o && o->cpl && o->cpl->route == LAB_CPL_PIN && o->cpl->pin == p;
            }
            if (!used)
                pin = p;
        }
    }
    struct cpl *c = index < 0 || (route == LAB_CPL_PIN && pin < 0) ? NULL : calloc(1, sizeof(*c));
    if (!c) {
        pthread_mutex_unlock(&lab->mu);
        return index < 0 || (route == LAB_CPL_PIN && pin < 0) ? -ENOSPC : -ENOMEM;
    }
    c->index = index;
    c->route = route;
    c->target = target;
    c->pin = pin;
    c->resamplefd = -1;
    c->irqfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (route == LAB_CPL_PIN)
        c->resamplefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->irqfd < 0 || (route == LAB_CPL_PIN && c->resamplefd < 0)) {
        err = -errno;
        cpl_free(c);
        pthread_mutex_unlock(&lab->mu);
        return err;
    }
    L->owner[index] = reg_id;
    r->cpl = c; /* set_routing finds it */
    err = set_routing(lab);
    if (!err && route == LAB_CPL_PIN)
        err = set_pin(lab, c, 1);
    if (!err)
        err = irqfd_ctl(lab, c, 1);
    if (!err && reader_of(lab) == LAB_CONSUMER_NONE) {
        /* A device answers its kicks: its eventfd is read whatever the reader mode. */
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)reg_id};
        if (epoll_ctl(lab->epfd, EPOLL_CTL_ADD, r->efd, &ev) < 0 && errno != EEXIST)
            err = -errno;
    }
    if (err) {
        if (route == LAB_CPL_PIN)
            (void)set_pin(lab, c, 0);
        (void)irqfd_ctl(lab, c, 0);
        L->owner[index] = -1;
        r->cpl = NULL;
        (void)set_routing(lab);
        cpl_free(c);
        pthread_mutex_unlock(&lab->mu);
        return err;
    }
    c->signals_base = r->signals;
    for (int k = 0; k < lab->nvcpus; k++)
        c->vec_prev[k] = *vcpu_u32(lab, k, CPL_VEC_COUNT + 4 * vector_of(c));
    lab_write_plans(lab);
    pthread_mutex_unlock(&lab->mu);
    return 0;
}

int lab_set_device_work(struct lab *lab, uint32_t cycles)
{
    pthread_mutex_lock(&lab->mu);
    struct cpl_lab *L = cpl_lab_get(lab);
    if (L)
        L->work = cycles;
    pthread_mutex_unlock(&lab->mu);
    return L ? 0 : -ENOMEM;
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
    out->work_cycles = lab->cpl->work;
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

int lab_cpl_misbehave(struct lab *lab, int how)
{
    if (how < 0 || how > RT_MASK_LAPIC)
        return -EINVAL;
    for (int k = 0; k < lab->nvcpus; k++)
        *vcpu_u32(lab, k, CPL_MISBEHAVE) = (uint32_t)how;
    return 0;
}

/*
 * A start: no kick is in flight, whatever the last run left (a kick whose
 * interrupt never came): the answered count catches up with the kicks and
 * no record is waiting.  Each pin's redirection entry is written afresh, so
 * a level interrupt a misbehaving guest never EOI'd (remote IRR still set)
 * does not block the pin for good.  `ctl` held, no vCPU runs.
 */
void lab_cpl_restart(struct lab *lab)
{
    pthread_mutex_lock(&lab->mu);
    struct cpl_lab *L = lab->cpl;
    if (L)
        lab_cpl_fold(lab); /* every vCPU's handler runs, once */
    for (int k = 0; L && k < lab->nvcpus; k++) {
        uint32_t kicks = *vcpu_u32(lab, k, CPL_KICKS);
        *vcpu_u32(lab, k, CPL_IRQS) = kicks;
        L->done[k] = kicks;
        memset(L->rec_owner[k], 0xff, RT_RECORDS * sizeof(int32_t));
    }
    for (int i = 0; L && i < CPL_MAX; i++) {
        struct reg *r = L->owner[i] >= 0 ? reg_get(lab, L->owner[i]) : NULL;
        if (r && r->cpl && r->cpl->route == LAB_CPL_PIN)
            (void)set_pin(lab, r->cpl, 1);
    }
    pthread_mutex_unlock(&lab->mu);
}

/* The lab is going: every registration was deassigned (and released) before. */
void lab_cpl_destroy(struct lab *lab)
{
    struct cpl_lab *L = lab->cpl;
    if (!L)
        return;
    for (int k = 0; k < MAX_VCPUS; k++)
        free(L->rec_owner[k]);
    free(L);
    lab->cpl = NULL;
}
