/*
 * Completions' insides, shared by the three files that hold them and seen by
 * nothing else (lab.h is the Python API, lab_internal.h the engine's):
 *   completions.c      a completion's life: vectors, GSI routes and IOAPIC
 *                      pins, the irqfd assigned and deassigned, restarts
 *   completion_answer.c the device: its work, then the irqfd write that
 *                      answers each signal read, stamping the kick's record
 *   completion_fold.c  the per-kick records folded into per-stage histograms,
 *                      the handler's runs widened, and what a reading reads
 * Everything here is under the lab's `mu` unless said otherwise.
 */
#ifndef IOFDTUI_COMPLETION_INTERNAL_H
#define IOFDTUI_COMPLETION_INTERNAL_H

#include "lab_internal.h"

#include <unistd.h>

#define CPL_MAX 128          /* completions per lab: vectors 0x40..0xbf */
#define CPL_VECTOR0 0x40
#define CPL_GSI0 24          /* MSI GSIs sit above the IOAPIC's 24 pins */
#define CPL_PINS 24
#define CPL_PIN0 16          /* the pin route's pins: 16..23, clear of the ISA IRQs */

_Static_assert(CPL_VECTOR0 + CPL_MAX <= 0xf0, "completion vectors run into the high ones");
_Static_assert((MAX_VCPUS - 1) * VCPU_AREA + CPL_REC + (RT_RECORDS << RT_REC_SHIFT) <=
                   GUEST_RAM_SIZE,
               "a vCPU's completion records overflow RAM");
_Static_assert(MAX_VCPUS == 2, "lab_cpl_stats.runs_on has a count per vCPU");
_Static_assert(CPL_VEC_COUNT + 256 * 4 <= GUEST_STACK_TOP - 0x1000 && CPL_BASE >= MB_WAKE + 0x10,
               "the completion block overlaps the mailbox or the stack");

struct cpl {
    int index, route, target, pin;
    int irqfd, resamplefd;
    uint64_t signals_base;   /* the registration's signals when the completion was attached */
    uint64_t writes, write_errors, merged, resamples, samples, negative;
    uint64_t handler_runs;
    uint64_t runs_on[MAX_VCPUS];  /* handler_runs by the vCPU that took the interrupt */
    uint32_t vec_prev[MAX_VCPUS]; /* the guest's count for our vector at the last look */
    uint32_t work;                /* device work: TSC cycles spun before each answer */
    struct accum *stage[LAB_CPL_STAGES];
};

struct cpl_lab {
    int owner[CPL_MAX];          /* registration id using index i, -1: free */
    uint32_t work;               /* the device work a new completion starts with */
    int32_t *rec_owner[MAX_VCPUS]; /* per record: the registration the host answered, -1 */
    uint32_t done[MAX_VCPUS];    /* the guest's CPL_IRQS folded up to */
    uint64_t unrecorded;         /* kicks whose record was overwritten before it was folded */
};

static inline uint32_t vector_of(const struct cpl *c) { return CPL_VECTOR0 + (uint32_t)c->index; }

static inline uint32_t gsi_of(const struct cpl *c)
{
    return c->route == LAB_CPL_PIN ? (uint32_t)c->pin : CPL_GSI0 + (uint32_t)c->index;
}

/* The resample eventfd's count into `resamples` (the guest EOI'd a level interrupt). */
static inline void drain_resamples(struct cpl *c)
{
    uint64_t n;
    if (c->resamplefd >= 0 && read(c->resamplefd, &n, sizeof(n)) == sizeof(n))
        c->resamples += n;
}


/* A field of vCPU `k`'s record `idx`: past the end of its area (vcpu_u32 would
 * wrap), inside RAM by the _Static_assert above. */
static inline volatile uint32_t *rec_u32(struct lab *lab, int k, uint32_t idx, uint32_t field)
{
    idx &= RT_RECORDS - 1;
    return guest_u32(lab, (uint32_t)k * VCPU_AREA + CPL_REC + (idx << RT_REC_SHIFT) + field % 16);
}

#pragma GCC visibility push(hidden)

/* completions.c: the one vCPU whose kicks wait for `reg_id`'s completion `c`. */
int cpl_kicker(struct lab *lab, int reg_id, const struct cpl *c);

/* completions.c: the lab's completion table, made at its first use (NULL: no memory). */
struct cpl_lab *cpl_lab_get(struct lab *lab);

#pragma GCC visibility pop

#endif
