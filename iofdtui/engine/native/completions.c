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
 *
 * This file holds a completion's life (vector, route, pin, irqfd assigned
 * and deassigned); completion_answer.c the device's answer, completion_fold.c
 * the records' fold (completion_internal.h says what they share).
 */
#define _GNU_SOURCE

#include "completion_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>

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
int cpl_kicker(struct lab *lab, int reg_id, const struct cpl *c)
{
    unsigned mask = ringers_of(lab, reg_id);
    return mask ? __builtin_ctz(mask) : c->target;
}

uint32_t lab_cpl_vector(struct lab *lab, int reg_id, int vcpu)
{
    struct reg *r = reg_get(lab, reg_id);
    if (!r || !r->cpl || cpl_kicker(lab, reg_id, r->cpl) != vcpu)
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
struct cpl_lab *cpl_lab_get(struct lab *lab)
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
    c->work = L->work;
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
