/*
 * The engine's insides, shared by its C files and seen by nothing else
 * (lab.h is the Python API):
 *   vm.c        the VM: create/destroy, guest memory and image, facts, stats fds
 *   vcpu.c      the vCPU threads: KVM_RUN and its exits, park/pause/resume/stop,
 *               kicks, pinning
 *   eventfds.c  ioeventfd registrations and the reader thread that reads them
 *               (its modes, drains, wake-up latency)
 *   counters.c  folding the guest's counter pages, histograms, paths,
 *               quantiles, readings and resets
 *   plan.c      slots, the ring plan, routes, pacing, the bare loop, test hooks
 *   roundtrip.c the kick -> completion interrupt loop (irqfd, KVM_SIGNAL_MSI)
 *   coalesced.c coalesced MMIO/PIO zones and the drains of their ring
 *   completions.c, completion_answer.c, completion_fold.c  completions on the
 *               lab's registrations (completion_internal.h says which holds what)
 *
 * Locking: `ctl` guards the vCPU state machine (pause/resume/stop); `mu`
 * guards the registration table and every host-side accumulator.  A vCPU
 * thread never takes `mu` on the ring path: it bumps per-slot exit counters
 * with relaxed atomics, and the slot table only changes while every vCPU is
 * parked.
 *
 * Two vCPUs share the VM, its registrations, the consumer and the per-path
 * accumulators (an eventfd cannot tell who rang it); each has its own slots,
 * counter pages and userspace exits, so rings and exits are exact per vCPU.
 */
#ifndef IOFDTUI_LAB_INTERNAL_H
#define IOFDTUI_LAB_INTERNAL_H

#include "lab.h"
#include "guest_abi.h"

#include <linux/kvm.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NSLOTS_ALL (MAX_VCPUS * MAX_SLOTS)
#define CTL_EVENT UINT64_MAX

/* Every vCPU area, counter pages included, lies inside guest RAM, above the code of vCPU 0. */
_Static_assert((MAX_VCPUS - 1) * VCPU_AREA + CTR_BASE + CTR_COUNT * CTR_STRIDE <= GUEST_RAM_SIZE,
               "vCPU areas overflow guest RAM");
_Static_assert(CTR_BASE + CTR_COUNT * CTR_STRIDE <= VCPU_AREA, "counter pages overflow a vCPU area");
_Static_assert(GUEST_CODE + GUEST_CODE_MAX <= CTR_BASE, "code overlaps the counter pages");

struct accum {
    uint64_t rings, samples, cycles;
    uint64_t loop_cycles; /* the calibration path only */
    uint64_t hist[HIST_BUCKETS];
};

struct reg {
    int efd;          /* -1: free entry */
    int pio, datamatch;
    uint64_t addr, value;
    uint32_t len;
    uint64_t signals;
    struct accum *acc[LAB_MODES]; /* per mode; allocated when first needed */
    uint64_t reads[LAB_READERS];  /* the reader's reads that returned signals */
    /* Wake-up latency (paced mode), consumer thread only, under `mu`. */
    uint64_t consumer_mark; /* `signals` after the consumer's own last read */
    uint32_t wake_seq;      /* the guest's ring sequence of the last sample */
    struct lab_wake_stats wake[LAB_READERS];
    struct accum *wake_acc[LAB_READERS]; /* latency histogram, in TSC cycles */
    struct cpl *cpl;        /* its completion (completions.c), or NULL */
};

struct slot {
    int defined;
    int pio;
    uint32_t kind, where, width;
    uint64_t value;
    int route; /* -1: userspace exit, else a registration id */
    uint64_t exits; /* vCPU thread only, relaxed atomics */
    uint64_t issued; /* rings the guest announced before writing them */
    uint64_t rings_user;
    uint64_t entries, ring_full; /* coalesced.c: relaxed atomics */
    uint64_t rings_zone;         /* rings while routed to a zone (`mu`) */
    struct accum acc;
};

/* The last raw value seen on each guest counter page, for widening. */
struct page_prev {
    uint32_t rings, samples, cycles, issued, loop;
    uint32_t hist[HIST_BUCKETS];
};

struct lab;

/* One vCPU: its fd, run loop and thread, and the widening state of its pages. */
struct vcpu {
    struct lab *lab;
    int index;
    int fd, stats;
    int tid; /* the vCPU thread's, while it runs (atomic) */
    struct kvm_run *run;
    pthread_t thread;
    int thread_up;
    int parked;                       /* under `ctl`: parked in this epoch */
    struct page_prev prev[CTR_COUNT]; /* under `mu` */
    uint32_t unused_rings[MAX_SLOTS]; /* raw rings when the page was released */
    int plan[MAX_SLOTS];              /* the plan as asked for: slot and iters */
    uint32_t plan_iters[MAX_SLOTS];
    int plan_n;
};

struct lab {
    int kvm, vm;
    int nvcpus;
    struct vcpu vcpus[MAX_VCPUS];
    int run_size;
    uint8_t *ram;
    struct lab_facts facts;

    pthread_mutex_t ctl;
    pthread_cond_t cond;
    int state, stop, pause_req, threads_up;
    uint64_t forced_parks, unsolicited_parks; /* lab_health's, kept here under `ctl` */
    int pin_vcpu, pin_reader; /* CPUs, or -1 */
    int dead;                 /* a vCPU faulted: the others leave KVM_RUN too */
    uint32_t pause_seq;
    uint32_t resume_gen;      /* bumped by each resume: releases parked vCPUs */
    pthread_t consumer_thread;
    char fault[512];

    pthread_mutex_t mu;
    int epfd, ctlfd;
    int consumer_mode; /* enum lab_consumer_mode; changes under `mu`, read relaxed */
    int reader_tid;
    uint64_t reader_wakeups;
    struct reg *regs;
    int nregs, regs_cap;
    struct pollfd *drain_fds; /* lab_drain_listed's poll set, `drain_cap` long */
    struct reg **drain_regs;  /* the registration of each drain_fds entry */
    int drain_cap;
    struct slot slots[NSLOTS_ALL]; /* slot s is vCPU s / MAX_SLOTS's page s % MAX_SLOTS */
    struct accum user[NKINDS][LAB_MODES];
    struct accum cal[LAB_MODES];
    struct lab_health health;
    struct timespec last_fold;
    uint32_t pace;            /* TSC cycles between paced rings, 0 = not paced */
    uint32_t wake_seq_base;   /* WAKE_SEQ when pacing began */
    uint64_t tsc_offset;      /* guest TSC = host TSC + tsc_offset */
    int irqchip;              /* KVM_CREATE_IRQCHIP made (before the vCPUs) */
    struct kvm_lapic_state lapic0; /* vCPU 0's LAPIC as created, restored at each start */
    struct rt *rt;            /* roundtrip.c's, set up and torn down while no vCPU runs */
    struct cpl_lab *cpl;      /* completions.c's, under `mu` */
    struct zones *zones;      /* coalesced.c's, made at the first zone */
};

/* -------------------------------------------------- inline accessors -- */

static inline int reader_of(struct lab *lab)
{
    return __atomic_load_n(&lab->consumer_mode, __ATOMIC_RELAXED);
}

/* The mode this epoch's samples belong to (see enum lab_mode). */
static inline int current_mode(struct lab *lab)
{
    int paced = __atomic_load_n(&lab->pace, __ATOMIC_ACQUIRE) != 0;
    return paced * LAB_READERS + reader_of(lab);
}

static inline int my_tid(void) { return (int)syscall(SYS_gettid); }

static inline volatile uint32_t *guest_u32(struct lab *lab, uint32_t gpa)
{
    return (volatile uint32_t *)(lab->ram + gpa);
}

/* A u32 in vCPU `k`'s area; `k` < nvcpus and `off` < VCPU_AREA keep it inside RAM. */
static inline volatile uint32_t *vcpu_u32(struct lab *lab, int k, uint32_t off)
{
    return guest_u32(lab, (uint32_t)k * VCPU_AREA + off % VCPU_AREA);
}

static inline int slot_ok(struct lab *lab, int slot)
{
    return slot >= 0 && slot < lab->nvcpus * MAX_SLOTS;
}

static inline struct reg *reg_get(struct lab *lab, int id)
{
    if (id < 0 || id >= lab->nregs || lab->regs[id].efd < 0)
        return NULL;
    return &lab->regs[id];
}

/* ------------------------------------------ shared between the files -- */

/* Hidden: internal to the extension module, never exported from it. */
#pragma GCC visibility push(hidden)

/* vm.c.  vCPU ioctls: only while no vCPU thread is in KVM_RUN. */
void lab_read_tsc_offset(struct lab *lab);
int lab_reset_irq_state(struct lab *lab); /* LAPIC as created, vCPU runnable; 0 or -errno */

/* vcpu.c */
int lab_kick_signal(void);                   /* the signal that kicks a vCPU out of KVM_RUN */
int lab_install_kick(void);                  /* its handler, once per process; 0 or -errno */
int lab_apply_pin(pthread_t thread, int cpu); /* cpu < 0: anywhere; 0 or -errno */
int lab_quiescent(struct lab *lab);          /* no vCPU can ring: parked, or not started */

/* eventfds.c: the reader thread, and drains; `mu` held for the drains. */
int lab_reader_start(struct lab *lab);
void lab_reader_stop(struct lab *lab);
void lab_drain_listed(struct lab *lab, const int *ids, int n);
void lab_drain_all(struct lab *lab);

/* roundtrip.c: an OUT to RT_USER_PORT, on the vCPU thread; -ENOENT: no user path set up. */
int lab_rt_user_kick(struct lab *lab);

/* completions.c, completion_answer.c, completion_fold.c; `mu` held. */
void lab_cpl_answer(struct lab *lab, struct reg *r, uint64_t count, uint64_t woke);
void lab_cpl_fold(struct lab *lab);
void lab_cpl_reset(struct lab *lab);
int lab_cpl_release(struct lab *lab, struct reg *r); /* quiescent; 0 or -errno */
void lab_cpl_destroy(struct lab *lab);
void lab_cpl_restart(struct lab *lab); /* takes `mu` itself */
/* Lock-free, quiescent: the vector vCPU `vcpu`'s slots routed to `reg_id` wait for
 * (0: they do not wait), and whether the lab has any completion. */
uint32_t lab_cpl_vector(struct lab *lab, int reg_id, int vcpu);
uint32_t lab_cpl_any(struct lab *lab);
uint32_t lab_cpl_target(struct lab *lab, int reg_id); /* its interrupt's vCPU (0: none) */

/* plan.c: every vCPU's plan into its mailbox again (a completion came or went). */
void lab_write_plans(struct lab *lab);

/* counters.c; `mu` held unless said otherwise. */
void lab_fold(struct lab *lab);
void lab_fold_issued(struct lab *lab);
void lab_sync_counters(struct lab *lab); /* takes `mu` itself */
int lab_hist_bucket(uint32_t v);
void lab_slot_final(struct slot *s, struct lab_slot_stats *out);
void lab_reg_final(const struct reg *r, struct lab_path_stats *out);
void lab_reg_free(struct reg *r);
void accum_quantiles(const struct accum *a, const double *q, int nq, double *out);

/* coalesced.c: the coalesced ring's drains (each takes its own lock, after `mu`). */
void lab_zone_drain(struct lab *lab);
void lab_zone_drain_at_exit(struct lab *lab); /* vCPU thread, before handling an exit */
void lab_zone_ring_full(struct lab *lab, struct slot *s); /* vCPU thread: a zoned slot exited */
void lab_zone_settle(struct lab *lab);        /* quiescent: drain, repair a scribbled ring */
struct accum *lab_zone_accum(struct lab *lab, int kind, int mode);
void lab_zone_reset(struct lab *lab);
void lab_zone_free(struct lab *lab);
int lab_zone_pin(struct lab *lab, int cpu); /* the drain thread, if up, with the reader; `ctl` held */

#pragma GCC visibility pop

#endif
