/*
 * The ring plan: slots (the doorbell writes the guest makes), each vCPU's
 * plan in its mailbox, routes (which registration a slot's rings count
 * for), pacing, the bare floor loop's doorbell, and the test hooks that
 * write guest RAM as a misbehaving guest would.
 */
#define _GNU_SOURCE

#include "lab_internal.h"

#include <errno.h>
#include <string.h>

/* Bytes each slot kind writes, by KIND_* (guest_abi.h). */
static const uint32_t kind_width[NKINDS] = {1, 2, 4, 1, 2, 4, 8};

int lab_clear_slot(struct lab *lab, int slot, struct lab_slot_stats *final)
{
    if (!slot_ok(lab, slot))
        return -EINVAL;
    if (!lab_quiescent(lab))
        return -EBUSY;
    pthread_mutex_lock(&lab->mu);
    struct slot *s = &lab->slots[slot];
    if (final)
        lab_slot_final(s, final);
    memset(s, 0, sizeof(*s));
    s->route = -1;
    struct vcpu *v = &lab->vcpus[slot / MAX_SLOTS];
    v->unused_rings[slot % MAX_SLOTS] = v->prev[slot % MAX_SLOTS].rings;
    pthread_mutex_unlock(&lab->mu);
    return 0;
}

int lab_define_slot(struct lab *lab, int slot, uint32_t kind, uint32_t where, uint64_t value,
                    struct lab_slot_stats *final)
{
    if (kind >= NKINDS)
        return -EINVAL;
    uint32_t width = kind_width[kind];
    if (width < 8 && (value >> (8 * width)) != 0)
        return -ERANGE;
    int pio = kind <= KIND_PIO4;
    if (pio && (where > 0xffff || where == PARK_PORT || where == FAULT_PORT))
        return -EINVAL;
    if (!pio && where < GUEST_RAM_SIZE)
        return -EFAULT; /* backed by RAM: such a write never exits */
    int err = lab_clear_slot(lab, slot, final);
    if (err)
        return err;
    pthread_mutex_lock(&lab->mu);
    struct slot *s = &lab->slots[slot];
    s->defined = 1;
    s->pio = pio;
    s->kind = kind;
    s->where = where;
    s->width = width;
    s->value = value;
    pthread_mutex_unlock(&lab->mu);
    return 0;
}

/*
 * Write vCPU `vcpu`'s plan into its mailbox; quiescent.  Paced, each slot is
 * written as its paced kind with one ring a visit, so the guest's visit path
 * never has to ask whether it is paced.
 */
static void write_plan(struct lab *lab, int vcpu)
{
    const struct vcpu *v = &lab->vcpus[vcpu];
    int paced = lab->pace != 0;
    for (int i = 0; i < v->plan_n; i++) {
        const struct slot *s = &lab->slots[v->plan[i]];
        uint32_t base = MB_SLOTS + (uint32_t)i * SLOT_SIZE;
        *vcpu_u32(lab, vcpu, base + SLOT_KIND) = s->kind + (paced ? KIND_PACED : 0);
        *vcpu_u32(lab, vcpu, base + SLOT_WHERE) = s->where;
        *vcpu_u32(lab, vcpu, base + SLOT_VALUE_LO) = (uint32_t)s->value;
        *vcpu_u32(lab, vcpu, base + SLOT_VALUE_HI) = (uint32_t)(s->value >> 32);
        *vcpu_u32(lab, vcpu, base + SLOT_ITERS) = paced ? 0 : v->plan_iters[i];
        *vcpu_u32(lab, vcpu, base + SLOT_CTR) = (uint32_t)(v->plan[i] % MAX_SLOTS); /* its page */
    }
    *vcpu_u32(lab, vcpu, MB_NSLOTS) = (uint32_t)v->plan_n;
}

int lab_set_plan(struct lab *lab, int vcpu, const int *slots, const uint32_t *iters, int n)
{
    if (vcpu < 0 || vcpu >= lab->nvcpus || n < 0 || n > MAX_SLOTS)
        return -EINVAL;
    if (!lab_quiescent(lab))
        return -EBUSY;
    for (int i = 0; i < n; i++) {
        if (!slot_ok(lab, slots[i]) || slots[i] / MAX_SLOTS != vcpu ||
            !lab->slots[slots[i]].defined || iters[i] > MAX_ITERS)
            return -EINVAL;
    }
    struct vcpu *v = &lab->vcpus[vcpu];
    for (int i = 0; i < n; i++) {
        v->plan[i] = slots[i];
        v->plan_iters[i] = iters[i];
    }
    v->plan_n = n;
    write_plan(lab, vcpu);
    return 0;
}

int lab_set_route(struct lab *lab, int slot, int reg_id)
{
    if (!slot_ok(lab, slot))
        return -EINVAL;
    if (!lab_quiescent(lab))
        return -EBUSY;
    pthread_mutex_lock(&lab->mu);
    int err = 0;
    if (reg_id >= 0 && !reg_get(lab, reg_id))
        err = -ENOENT;
    else if (reg_id == LAB_ROUTE_ZONE)
        lab->slots[slot].route = LAB_ROUTE_ZONE;
    else
        lab->slots[slot].route = reg_id < 0 ? -1 : reg_id;
    pthread_mutex_unlock(&lab->mu);
    return err;
}

int lab_set_pace(struct lab *lab, uint32_t cycles)
{
    /* One publisher: the wake record and the TSC offset are vCPU 0's. */
    if (cycles && lab->nvcpus > 1)
        return -EOPNOTSUPP;
    if (!lab_quiescent(lab))
        return -EBUSY;
    pthread_mutex_lock(&lab->mu);
    lab_fold(lab); /* the last epoch's samples stay with its mode */
    lab_fold_issued(lab);
    /* Samples count only rings published from now on. */
    lab->wake_seq_base = *guest_u32(lab, WAKE_SEQ);
    *guest_u32(lab, MB_PACE) = cycles;
    __atomic_store_n(&lab->pace, cycles, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&lab->mu);
    write_plan(lab, 0);
    return 0;
}

int lab_set_bare(struct lab *lab, uint32_t where, uint64_t value)
{
    if (!lab_quiescent(lab))
        return -EBUSY;
    *guest_u32(lab, MB_BARE + SLOT_WHERE) = where;
    *guest_u32(lab, MB_BARE + SLOT_VALUE_LO) = (uint32_t)value;
    *guest_u32(lab, MB_BARE + SLOT_VALUE_HI) = (uint32_t)(value >> 32);
    return 0;
}

int lab_scribble(struct lab *lab, uint32_t seed)
{
    for (int k = 0; k < lab->nvcpus; k++) {
        *vcpu_u32(lab, k, MB_SEED) = seed + (uint32_t)k;
        *vcpu_u32(lab, k, MB_CMD) = CMD_SCRIBBLE;
    }
    return 0;
}

/* Test hook: write one u32 of guest RAM, as a misbehaving guest would. */
int lab_poke(struct lab *lab, uint32_t gpa, uint32_t value)
{
    if (gpa > GUEST_RAM_SIZE - 4 || (gpa & 3))
        return -EINVAL;
    *guest_u32(lab, gpa) = value;
    return 0;
}

int lab_peek(struct lab *lab, uint32_t gpa, uint32_t *value)
{
    if (gpa > GUEST_RAM_SIZE - 4 || (gpa & 3))
        return -EINVAL;
    *value = *guest_u32(lab, gpa);
    return 0;
}
