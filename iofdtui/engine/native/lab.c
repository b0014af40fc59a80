/*
 * The doorbell lab engine: VM set-up, the vCPU run loops, the eventfd
 * consumer, and the host-side accounting of the guest's counter pages.
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
#define _GNU_SOURCE
#include "lab.h"
#include "guest_abi.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

extern const unsigned char iofdtui_guest_image[];
extern const unsigned int iofdtui_guest_image_len;

#define FOLD_PERIOD_MS 100 /* u32 guest counters must not wrap between folds */
#define NSLOTS_ALL (MAX_VCPUS * MAX_SLOTS)

/* Every vCPU area, counter pages included, lies inside guest RAM, above the code of vCPU 0. */
_Static_assert((MAX_VCPUS - 1) * VCPU_AREA + CTR_BASE + CTR_COUNT * CTR_STRIDE <= GUEST_RAM_SIZE,
               "vCPU areas overflow guest RAM");
_Static_assert(CTR_BASE + CTR_COUNT * CTR_STRIDE <= VCPU_AREA, "counter pages overflow a vCPU area");
_Static_assert(GUEST_CODE + GUEST_CODE_MAX <= CTR_BASE, "code overlaps the counter pages");
_Static_assert(CTR_HIST + HIST_BUCKETS * 4 <= CTR_STRIDE, "a histogram overflows its counter page");
/* hist_bucket() of the largest u32 must be a valid index (see guest_abi.h). */
_Static_assert((0xffffffffu >> (31 - HIST_SUB_BITS)) + ((31 - HIST_SUB_BITS) << HIST_SUB_BITS) <
                   HIST_BUCKETS,
               "HIST_BUCKETS too small for a u32 cycle count");
/* lab.py reads an array of these as u64 words (signals, rings, samples, cycles, loop, reads). */
_Static_assert(sizeof(struct lab_path_stats) == 6 * sizeof(uint64_t) &&
                   offsetof(struct lab_path_stats, reads) == 5 * sizeof(uint64_t),
               "lab_path_stats is six u64s");
_Static_assert(sizeof(struct lab_wake_stats) == 7 * sizeof(uint64_t),
               "lab.py reads lab_wake_stats as seven u64s");
_Static_assert(MAX_VCPUS == sizeof(((struct lab_threads *)0)->vcpu_tids) / sizeof(int),
               "lab_threads.vcpu_tids must hold MAX_VCPUS");
#define CTL_EVENT UINT64_MAX

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
    struct slot slots[NSLOTS_ALL]; /* slot s is vCPU s / MAX_SLOTS's page s % MAX_SLOTS */
    struct accum user[NKINDS][LAB_MODES];
    struct accum cal[LAB_MODES];
    struct lab_health health;
    struct timespec last_fold;
    uint32_t pace;            /* TSC cycles between paced rings, 0 = not paced */
    uint32_t wake_seq_base;   /* WAKE_SEQ when pacing began */
    uint64_t tsc_offset;      /* guest TSC = host TSC + tsc_offset */
};

static const uint32_t kind_width[NKINDS] = {1, 2, 4, 1, 2, 4, 8};

/* ------------------------------------------------------------ helpers -- */

static int kick_signal(void) { return SIGRTMIN + 5; }

static void kick_handler(int sig) { (void)sig; }

static pthread_once_t kick_once = PTHREAD_ONCE_INIT;
static int kick_error; /* -errno when the handler could not be installed */

/*
 * The kick is a real-time signal nobody else should use; if someone already
 * handles it, refuse rather than silently take it over.
 */
static void install_kick_handler(void)
{
    struct sigaction sa, old;
    if (sigaction(kick_signal(), NULL, &old) < 0) {
        kick_error = -errno;
        return;
    }
    /* sa_handler and sa_sigaction share storage: SIG_DFL is the null handler. */
    if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN) {
        kick_error = -EBUSY;
        return;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = kick_handler; /* no SA_RESTART: KVM_RUN returns EINTR */
    sigemptyset(&sa.sa_mask);
    if (sigaction(kick_signal(), &sa, NULL) < 0)
        kick_error = -errno;
}

static int reader_of(struct lab *lab)
{
    return __atomic_load_n(&lab->consumer_mode, __ATOMIC_RELAXED);
}

/* The mode this epoch's samples belong to (see enum lab_mode). */
static int current_mode(struct lab *lab)
{
    int paced = __atomic_load_n(&lab->pace, __ATOMIC_ACQUIRE) != 0;
    return paced * LAB_READERS + reader_of(lab);
}

static int my_tid(void) { return (int)syscall(SYS_gettid); }

/* Pin a thread to one CPU, or let it run anywhere again (cpu < 0). */
static int apply_pin(pthread_t thread, int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (cpu < 0) {
        long n = sysconf(_SC_NPROCESSORS_CONF);
        for (long c = 0; c < n && c < CPU_SETSIZE; c++)
            CPU_SET(c, &set);
    } else if (cpu < CPU_SETSIZE) {
        CPU_SET(cpu, &set);
    } else {
        return -EINVAL;
    }
    return -pthread_setaffinity_np(thread, sizeof(set), &set);
}

static volatile uint32_t *guest_u32(struct lab *lab, uint32_t gpa)
{
    return (volatile uint32_t *)(lab->ram + gpa);
}

/* A u32 in vCPU `k`'s area; `k` < nvcpus and `off` < VCPU_AREA keep it inside RAM. */
static volatile uint32_t *vcpu_u32(struct lab *lab, int k, uint32_t off)
{
    return guest_u32(lab, (uint32_t)k * VCPU_AREA + off % VCPU_AREA);
}

static int slot_ok(struct lab *lab, int slot)
{
    return slot >= 0 && slot < lab->nvcpus * MAX_SLOTS;
}

static uint64_t load_le(const uint8_t *p, uint32_t n)
{
    uint64_t v = 0;
    for (uint32_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void kick(struct vcpu *v);

static void set_fault(struct vcpu *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A fault on any vCPU faults the lab; the first one is kept, and named. */
static void set_fault(struct vcpu *v, const char *fmt, ...)
{
    struct lab *lab = v->lab;
    va_list ap;
    struct kvm_regs regs;
    char what[384], who[16] = "";

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (lab->nvcpus > 1)
        snprintf(who, sizeof(who), "vCPU %d: ", v->index);
    pthread_mutex_lock(&lab->ctl);
    if (lab->state != LAB_FAULTED) {
        /* Called on the vCPU's own thread, which owns the vCPU: registers are safe. */
        if (ioctl(v->fd, KVM_GET_REGS, &regs) == 0)
            snprintf(lab->fault, sizeof(lab->fault), "%s%s (eip=0x%llx eax=0x%llx edx=0x%llx)",
                     who, what, (unsigned long long)regs.rip, (unsigned long long)regs.rax,
                     (unsigned long long)regs.rdx);
        else
            snprintf(lab->fault, sizeof(lab->fault), "%s%s", who, what);
    }
    lab->state = LAB_FAULTED;
    __atomic_store_n(&lab->dead, 1, __ATOMIC_RELEASE);
    for (int k = 0; k < lab->nvcpus; k++)
        if (k != v->index && lab->vcpus[k].thread_up)
            kick(&lab->vcpus[k]);
    pthread_cond_broadcast(&lab->cond);
    pthread_mutex_unlock(&lab->ctl);
}

static struct reg *reg_get(struct lab *lab, int id)
{
    if (id < 0 || id >= lab->nregs || lab->regs[id].efd < 0)
        return NULL;
    return &lab->regs[id];
}

/* ------------------------------------------------------- accounting -- */

/* Drain one eventfd into its registration; `mu` held.  Returns the count read. */
static uint64_t drain_reg(struct reg *r)
{
    uint64_t v;
    if (r->efd >= 0 && read(r->efd, &v, sizeof(v)) == sizeof(v)) {
        r->signals += v;
        return v;
    }
    return 0;
}

/* A reading's or a pause's drain of one registration; `mu` held. */
static void drain_elsewhere(struct lab *lab, struct reg *r)
{
    uint64_t count = drain_reg(r);
    if (lab->pace)
        r->wake[reader_of(lab)].elsewhere += count; /* read here: no wake-up to time */
}

/*
 * One non-blocking read of each registration asked for, in any reader mode;
 * `mu` held.  Bounded by the list, so it cannot starve the reader thread
 * however fast the guest rings.
 */
static void drain_listed(struct lab *lab, const int *ids, int n)
{
    for (int i = 0; i < n; i++) {
        struct reg *r = reg_get(lab, ids[i]);
        if (r)
            drain_elsewhere(lab, r);
    }
}

/* Every registration once (pauses and resets: the guest is parked); `mu` held. */
static void drain_all(struct lab *lab)
{
    for (int i = 0; i < lab->nregs; i++)
        if (lab->regs[i].efd >= 0)
            drain_elsewhere(lab, &lab->regs[i]);
}

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
        if (dr == 0 && ds == 0 && dc == 0 && dl == 0)
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
            if (s->route < 0) {
                dst[1] = &lab->user[s->kind][mode];
                s->rings_user += dr;
            } else {
                struct reg *r = reg_get(lab, s->route);
                dst[1] = r ? reg_acc(r, mode) : NULL;
            }
        }
        for (int b = 0; b < HIST_BUCKETS; b++) {
            uint32_t h = pg[CTR_HIST / 4 + b];
            uint32_t d = h - pv->hist[b];
            if (!d)
                continue;
            pv->hist[b] = h;
            for (int k = 0; k < 3; k++)
                if (dst[k])
                    dst[k]->hist[b] += d;
        }
        for (int k = 0; k < 3; k++)
            if (dst[k])
                accum_add(dst[k], p == CTR_CAL ? 0 : dr, ds, dc);
    }
}

/* Every vCPU's pages; `mu` held. */
static void fold(struct lab *lab)
{
    for (int k = 0; k < lab->nvcpus; k++)
        fold_vcpu(lab, &lab->vcpus[k]);
    clock_gettime(CLOCK_MONOTONIC, &lab->last_fold);
}

/*
 * Fold the guest's "issued" counters; `mu` held.  Kept apart from fold() so
 * a live reading can take them last: rings done (read first) <= signals +
 * exits (read next) <= rings issued (read last) holds at every instant.
 */
static void fold_issued(struct lab *lab)
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
static void sync_counters(struct lab *lab)
{
    pthread_mutex_lock(&lab->mu);
    drain_all(lab);
    fold(lab);
    fold_issued(lab);
    check_pages(lab);
    pthread_mutex_unlock(&lab->mu);
}

/* ----------------------------------------------------------- threads -- */

/* Bucket of a cycle count, as the guest's HIST_ADD computes it. */
static int hist_bucket(uint32_t v)
{
    if (v < 128)
        return (int)v;
    int msb = 31 - __builtin_clz(v);
    int shift = msb - HIST_SUB_BITS;
    return (int)(v >> shift) + (shift << HIST_SUB_BITS);
}

/* The ring the guest published last, once it has been made (see guest_abi.h). */
struct published {
    uint32_t seq, slot, stamp;
};

/* Spin until the guest's current paced ring is published and done; 0 on timeout. */
static int read_published(struct lab *lab, uint64_t limit, struct published *out)
{
    for (;;) {
        uint32_t seq = __atomic_load_n(guest_u32(lab, WAKE_SEQ), __ATOMIC_ACQUIRE);
        uint32_t done = __atomic_load_n(guest_u32(lab, WAKE_DONE), __ATOMIC_ACQUIRE);
        if (!(seq & 1) && done == seq) {
            out->slot = __atomic_load_n(guest_u32(lab, WAKE_SLOT), __ATOMIC_ACQUIRE);
            out->stamp = __atomic_load_n(guest_u32(lab, WAKE_STAMP), __ATOMIC_ACQUIRE);
            out->seq = seq;
            if (__atomic_load_n(guest_u32(lab, WAKE_SEQ), __ATOMIC_ACQUIRE) == seq)
                return 1;
        }
        if (__rdtsc() > limit)
            return 0;
        /* On a crowded host the vCPU thread may need this very CPU to finish. */
        sched_yield();
    }
}

/*
 * One consumer read of a registration in paced mode; `mu` held.  `woke` is
 * the host TSC when epoll_wait returned, `pub` the ring the guest had made
 * by then (read before the eventfd).  The sample is the ring's: only when
 * the consumer alone read the eventfd since its last read (no drain by a
 * reading), the read returned exactly one signal, and the last ring made was
 * routed here.  Then that one signal is the ring's and it was pending when
 * the thread woke, so woke - stamp is its wake-up latency.
 */
static void wake_sample(struct lab *lab, struct reg *r, int id, uint64_t woke, uint64_t before,
                        uint64_t count, const struct published *pub, int published)
{
    int reader = reader_of(lab);
    struct lab_wake_stats *wake = &r->wake[reader];
    int ours = before == r->consumer_mark;
    r->consumer_mark = r->signals;
    if (!count)
        return;
    /* Every signal read becomes a sample or is counted under one reason. */
    if (!published) {
        wake->unpublished += count;
        return;
    }
    if (!ours) {
        wake->raced += count;
        return;
    }
    if (count != 1) {
        wake->coalesced += count;
        return;
    }
    uint32_t since = pub->seq - lab->wake_seq_base;
    if (since == 0 || since > 0x7fffffffu || pub->slot >= MAX_SLOTS ||
        lab->slots[pub->slot].route != id || pub->seq == r->wake_seq) {
        wake->foreign++;
        return;
    }
    r->wake_seq = pub->seq;
    int32_t cycles = (int32_t)((uint32_t)(woke + lab->tsc_offset) - pub->stamp);
    if (cycles < 0) {
        wake->negative++; /* the TSC mapping is wrong: never a sample */
        return;
    }
    struct accum *acc = r->wake_acc[reader];
    if (!acc && !(acc = r->wake_acc[reader] = calloc(1, sizeof(*acc))))
        return;
    acc->samples++;
    acc->cycles += (uint32_t)cycles;
    acc->hist[hist_bucket((uint32_t)cycles)]++;
    wake->samples++;
}

static void *consumer_main(void *arg)
{
    struct lab *lab = arg;
    struct epoll_event ev[64];
    int done = 0;

    __atomic_store_n(&lab->reader_tid, my_tid(), __ATOMIC_RELEASE);
    apply_pin(pthread_self(), lab->pin_reader);
    /*
     * Under reader "none" the eventfds are out of the epoll set: this thread
     * then only folds the guest's pages every FOLD_PERIOD_MS and never reads
     * an eventfd, so no signal wakes anybody.
     */
    while (!done) {
        int poll = reader_of(lab) == LAB_CONSUMER_POLL;
        int n = epoll_wait(lab->epfd, ev, 64, poll ? 0 : FOLD_PERIOD_MS);
        uint64_t woke = __rdtsc();
        struct timespec now;
        struct published pub = {0, 0, 0};
        int paced = __atomic_load_n(&lab->pace, __ATOMIC_ACQUIRE) != 0;
        int published = 0;
        if (paced && n > 0) /* wait at most ~1 ms (the guest publishes right after the write) */
            published = read_published(lab, woke + (uint64_t)lab->facts.tsc_khz + 1, &pub);

        pthread_mutex_lock(&lab->mu);
        int reader = reader_of(lab), carried = 0;
        for (int i = 0; i < n; i++) {
            if (ev[i].data.u64 == CTL_EVENT) {
                done = 1;
                continue;
            }
            int id = (int)ev[i].data.u64;
            struct reg *r = reg_get(lab, id);
            if (!r || reader == LAB_CONSUMER_NONE)
                continue; /* switched to "none" while waiting: leave it to readings */
            uint64_t before = r->signals;
            uint64_t count = drain_reg(r);
            if (count) {
                r->reads[reader]++;
                carried = 1;
            }
            if (paced)
                wake_sample(lab, r, id, woke, before, count, &pub, published);
            else
                r->consumer_mark = r->signals;
        }
        lab->reader_wakeups += (uint64_t)carried;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long ms = (now.tv_sec - lab->last_fold.tv_sec) * 1000 +
                  (now.tv_nsec - lab->last_fold.tv_nsec) / 1000000;
        if (ms >= FOLD_PERIOD_MS) {
            fold(lab);
            fold_issued(lab);
        }
        pthread_mutex_unlock(&lab->mu);
    }
    __atomic_store_n(&lab->reader_tid, 0, __ATOMIC_RELEASE);
    return NULL;
}

/* Only this vCPU's slots: an exit is counted for the vCPU that made the write. */
static int match_slot(struct vcpu *v, int pio, uint32_t where, uint32_t width, uint64_t value)
{
    struct lab *lab = v->lab;
    for (int i = v->index * MAX_SLOTS; i < (v->index + 1) * MAX_SLOTS; i++) {
        struct slot *s = &lab->slots[i];
        if (s->defined && s->pio == pio && s->where == where && s->width == width &&
            s->value == value)
            return i;
    }
    return -1;
}

static void count_exit(struct vcpu *v, int pio, uint32_t where, uint32_t width, uint64_t value)
{
    struct lab *lab = v->lab;
    int i = match_slot(v, pio, where, width, value);
    if (i >= 0) {
        __atomic_fetch_add(&lab->slots[i].exits, 1, __ATOMIC_RELAXED);
        return;
    }
    pthread_mutex_lock(&lab->mu);
    lab->health.stray_exits++;
    lab->health.stray_pio = pio;
    lab->health.stray_port = where;
    lab->health.stray_width = width;
    lab->health.stray_value = value;
    pthread_mutex_unlock(&lab->mu);
}

/*
 * Park this vCPU's thread until resumed or stopped; returns 1 when stopping.
 * The lab is parked once every vCPU is; a resume bumps `resume_gen`, which
 * releases them all (a flag per vCPU would let a late waker miss a resume
 * followed at once by the next pause).
 */
static int park(struct vcpu *v, int forced)
{
    struct lab *lab = v->lab;
    pthread_mutex_lock(&lab->ctl);
    if ((!lab->pause_req && !lab->stop) || v->parked) {
        lab->unsolicited_parks++;
        pthread_mutex_unlock(&lab->ctl);
        return 0;
    }
    if (forced)
        lab->forced_parks++;
    v->parked = 1;
    int all = 1;
    for (int k = 0; k < lab->nvcpus; k++)
        all &= lab->vcpus[k].parked;
    if (all && lab->state == LAB_RUNNING) {
        lab->state = LAB_PARKED;
        pthread_cond_broadcast(&lab->cond);
    }
    uint32_t gen = lab->resume_gen;
    while (lab->resume_gen == gen && !lab->stop && !lab->dead)
        pthread_cond_wait(&lab->cond, &lab->ctl);
    int stop = lab->stop || lab->dead;
    pthread_mutex_unlock(&lab->ctl);
    return stop;
}

/* Returns 1 to leave the run loop. */
static int handle_io(struct vcpu *v)
{
    struct lab *lab = v->lab;
    struct kvm_run *run = v->run;
    uint64_t bytes = (uint64_t)run->io.size * run->io.count;

    if (run->io.direction != KVM_EXIT_IO_OUT) {
        set_fault(v, "guest read port 0x%x (IN): the doorbell guest only writes", run->io.port);
        return 1;
    }
    if (run->io.size != 1 && run->io.size != 2 && run->io.size != 4) {
        set_fault(v, "KVM_EXIT_IO with size %u", run->io.size);
        return 1;
    }
    if (run->io.data_offset > (uint64_t)lab->run_size ||
        bytes > (uint64_t)lab->run_size - run->io.data_offset) {
        set_fault(v, "KVM_EXIT_IO data (offset %llu, %llu bytes) outside kvm_run",
                  (unsigned long long)run->io.data_offset, (unsigned long long)bytes);
        return 1;
    }
    const uint8_t *data = (const uint8_t *)run + run->io.data_offset;
    if (run->io.port == PARK_PORT || run->io.port == FAULT_PORT)
        __atomic_fetch_add(&lab->health.control_outs, 1, __ATOMIC_RELAXED);
    if (run->io.port == PARK_PORT)
        return park(v, 0);
    if (run->io.port == FAULT_PORT) {
        set_fault(v, "the guest rejected its ring plan (code %u)", data[0]);
        return 1;
    }
    if (run->io.count != 1) {
        /* String I/O: never from our guest; count it as stray, not a ring. */
        count_exit(v, 1, run->io.port, run->io.size * run->io.count, 0);
        return 0;
    }
    count_exit(v, 1, run->io.port, run->io.size, load_le(data, run->io.size));
    return 0;
}

static int handle_mmio(struct vcpu *v)
{
    struct kvm_run *run = v->run;
    if (!run->mmio.is_write) {
        set_fault(v, "guest read MMIO 0x%llx: the doorbell guest only writes",
                  (unsigned long long)run->mmio.phys_addr);
        return 1;
    }
    uint32_t len = run->mmio.len;
    if (len == 0 || len > 8) {
        set_fault(v, "KVM_EXIT_MMIO with length %u", len);
        return 1;
    }
    if (run->mmio.phys_addr > UINT32_MAX) {
        count_exit(v, 0, UINT32_MAX, len, load_le(run->mmio.data, len));
        return 0;
    }
    count_exit(v, 0, (uint32_t)run->mmio.phys_addr, len, load_le(run->mmio.data, len));
    return 0;
}

static void *vcpu_main(void *arg)
{
    struct vcpu *v = arg;
    struct lab *lab = v->lab;
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, kick_signal());
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    __atomic_store_n(&v->tid, my_tid(), __ATOMIC_RELEASE);
    apply_pin(pthread_self(), lab->pin_vcpu);

    for (;;) {
        if (__atomic_load_n(&lab->stop, __ATOMIC_ACQUIRE) ||
            __atomic_load_n(&lab->dead, __ATOMIC_ACQUIRE))
            break;
        int r = ioctl(v->fd, KVM_RUN, 0);
        if (r < 0 && errno != EINTR && errno != EAGAIN) {
            set_fault(v, "KVM_RUN failed: %s", strerror(errno));
            break;
        }
        if (r < 0 || v->run->exit_reason == KVM_EXIT_INTR) {
            /* A kick: stopping, a fault elsewhere, or a pause the guest did not answer. */
            __atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_RELEASE);
            if (__atomic_load_n(&lab->stop, __ATOMIC_ACQUIRE) ||
                __atomic_load_n(&lab->dead, __ATOMIC_ACQUIRE))
                break;
            if (__atomic_load_n(&lab->pause_req, __ATOMIC_ACQUIRE) && park(v, 1))
                break;
            continue;
        }
        int leave = 0;
        switch (v->run->exit_reason) {
        case KVM_EXIT_IO:
            leave = handle_io(v);
            break;
        case KVM_EXIT_MMIO:
            leave = handle_mmio(v);
            break;
        case KVM_EXIT_HLT:
            set_fault(v, "guest halted (KVM_EXIT_HLT)");
            leave = 1;
            break;
        case KVM_EXIT_SHUTDOWN:
            set_fault(v, "guest shut down (KVM_EXIT_SHUTDOWN: a triple fault)");
            leave = 1;
            break;
        case KVM_EXIT_FAIL_ENTRY:
            set_fault(v, "VM entry failed (KVM_EXIT_FAIL_ENTRY, reason 0x%llx)",
                      (unsigned long long)v->run->fail_entry.hardware_entry_failure_reason);
            leave = 1;
            break;
        case KVM_EXIT_INTERNAL_ERROR:
            set_fault(v, "KVM internal error (KVM_EXIT_INTERNAL_ERROR, suberror %u)",
                      v->run->internal.suberror);
            leave = 1;
            break;
        default:
            set_fault(v, "unexpected exit reason %u", v->run->exit_reason);
            leave = 1;
            break;
        }
        if (leave)
            break;
    }
    __atomic_store_n(&v->tid, 0, __ATOMIC_RELEASE);
    return NULL;
}

/* ------------------------------------------------------------ set-up -- */

/*
 * guest TSC = host TSC + offset (we never set a TSC frequency, so KVM runs the
 * guest's at the host's).  A vCPU ioctl: call it only while no thread is in
 * KVM_RUN (at create, and while parked).
 */
static void read_tsc_offset(struct lab *lab)
{
#ifdef KVM_VCPU_TSC_CTRL
    uint64_t offset = 0;
    struct kvm_device_attr attr = {
        .group = KVM_VCPU_TSC_CTRL, .attr = KVM_VCPU_TSC_OFFSET,
        .addr = (uint64_t)(uintptr_t)&offset,
    };
    /* vCPU 0's: paced mode (the only user) runs on vCPU 0 alone. */
    int fd = lab->vcpus[0].fd;
    if (ioctl(fd, KVM_HAS_DEVICE_ATTR, &attr) < 0 || ioctl(fd, KVM_GET_DEVICE_ATTR, &attr) < 0) {
        lab->facts.tsc_offset_errno = errno;
        lab->facts.tsc_offset_ok = 0;
        return;
    }
    if (lab->facts.tsc_offset_ok && offset != lab->tsc_offset)
        lab->facts.tsc_offset_changes++;
    __atomic_store_n(&lab->tsc_offset, offset, __ATOMIC_RELEASE);
    lab->facts.tsc_offset = offset;
    lab->facts.tsc_offset_ok = 1;
#else
    lab->facts.tsc_offset_errno = ENOSYS; /* built against headers without the attribute */
#endif
}

static int setup_vcpu_regs(struct lab *lab, struct vcpu *v, int entry)
{
    struct kvm_sregs sregs;
    struct kvm_regs regs;
    const uint32_t *table = (const uint32_t *)(lab->ram + GUEST_CODE);

    if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
        return -errno;
    /* Flat 32-bit protected mode: hidden segment parts only, no GDT needed. */
    struct kvm_segment seg = {
        .base = 0, .limit = 0xffffffff, .present = 1, .dpl = 0,
        .db = 1, .s = 1, .l = 0, .g = 1, .avl = 0,
    };
    seg.type = 11; /* code: execute/read, accessed */
    seg.selector = 0x08;
    sregs.cs = seg;
    seg.type = 3; /* data: read/write, accessed */
    seg.selector = 0x10;
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = seg;
    /* FS reaches this vCPU's own mailbox and counters (guest_abi.h VCPU_AREA). */
    sregs.fs.base = (uint64_t)v->index * VCPU_AREA;
    sregs.cr0 = 0x31; /* PE | ET | NE; EM and TS clear so MMX runs */
    sregs.cr4 = 0;
    sregs.efer = 0;
    if (ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0)
        return -errno;

    memset(&regs, 0, sizeof(regs));
    regs.rflags = 0x2;
    regs.rip = table[entry];
    regs.rsp = GUEST_STACK_TOP;
    if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0)
        return -errno;
    return 0;
}

static int load_image(struct lab *lab)
{
    uint32_t len = iofdtui_guest_image_len;
    if (len < ENTRY_COUNT * 4 || len > GUEST_CODE_MAX)
        return -ENOEXEC;
    memcpy(lab->ram + GUEST_CODE, iofdtui_guest_image, len);
    const uint32_t *table = (const uint32_t *)(lab->ram + GUEST_CODE);
    for (int i = 0; i < ENTRY_COUNT; i++)
        if (table[i] < GUEST_CODE + ENTRY_COUNT * 4 || table[i] >= GUEST_CODE + len)
            return -ENOEXEC;
    for (int k = 0; k < lab->nvcpus; k++)
        *vcpu_u32(lab, k, MB_MAGIC) = MB_MAGIC_VALUE;
    return 0;
}

#define FAIL(st, det)                                                                              \
    do {                                                                                           \
        err = -errno;                                                                              \
        *stage = (st);                                                                             \
        *detail = (det);                                                                           \
        goto fail;                                                                                 \
    } while (0)

int lab_create(struct lab **out, int vcpus, int *stage, int64_t *detail)
{
    int err = 0;
    if (vcpus < 1 || vcpus > MAX_VCPUS) {
        *stage = LAB_STAGE_VCPUS;
        *detail = MAX_VCPUS;
        return -EINVAL;
    }
    struct lab *lab = calloc(1, sizeof(*lab));
    if (!lab)
        return -ENOMEM;
    lab->kvm = lab->vm = lab->epfd = lab->ctlfd = -1;
    lab->pin_vcpu = lab->pin_reader = -1;
    lab->nvcpus = vcpus;
    for (int k = 0; k < MAX_VCPUS; k++) {
        lab->vcpus[k].lab = lab;
        lab->vcpus[k].index = k;
        lab->vcpus[k].fd = lab->vcpus[k].stats = -1;
    }
    pthread_mutex_init(&lab->ctl, NULL);
    pthread_mutex_init(&lab->mu, NULL);
    pthread_cond_init(&lab->cond, NULL);
    *stage = LAB_STAGE_NONE;
    *detail = 0;

    lab->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (lab->kvm < 0)
        FAIL(LAB_STAGE_OPEN, 0);
    int api = ioctl(lab->kvm, KVM_GET_API_VERSION, 0);
    lab->facts.api_version = api;
    if (api != KVM_API_VERSION) {
        errno = EPROTO;
        FAIL(LAB_STAGE_API, api);
    }
    static const int required[] = {KVM_CAP_IOEVENTFD, KVM_CAP_USER_MEMORY, KVM_CAP_IMMEDIATE_EXIT};
    for (unsigned i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        if (ioctl(lab->kvm, KVM_CHECK_EXTENSION, required[i]) <= 0) {
            errno = ENOTSUP;
            FAIL(LAB_STAGE_CAP, required[i]);
        }
    }
    lab->facts.cap_any_length = ioctl(lab->kvm, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD_ANY_LENGTH) > 0;
    lab->facts.cap_no_length = ioctl(lab->kvm, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD_NO_LENGTH) > 0;
    int binary_stats = ioctl(lab->kvm, KVM_CHECK_EXTENSION, KVM_CAP_BINARY_STATS_FD) > 0;
    /* api.rst: MAX_VCPUS is the limit; without it NR_VCPUS; without that, assume 4. */
    int max = ioctl(lab->kvm, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
    if (max <= 0)
        max = ioctl(lab->kvm, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
    if (max <= 0)
        max = 4;
    if (vcpus > max) {
        errno = ENOTSUP;
        FAIL(LAB_STAGE_VCPUS, max);
    }

    lab->vm = ioctl(lab->kvm, KVM_CREATE_VM, 0);
    if (lab->vm < 0)
        FAIL(LAB_STAGE_VM, 0);
    /* Needed on VMX without unrestricted guest; harmless (or refused) elsewhere. */
    (void)ioctl(lab->vm, KVM_SET_TSS_ADDR, 0xfffbd000UL);

    lab->ram = mmap(NULL, GUEST_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (lab->ram == MAP_FAILED) {
        lab->ram = NULL;
        FAIL(LAB_STAGE_MEMORY, 0);
    }
    struct kvm_userspace_memory_region region = {
        .slot = 0, .guest_phys_addr = 0, .memory_size = GUEST_RAM_SIZE,
        .userspace_addr = (uint64_t)(uintptr_t)lab->ram,
    };
    if (ioctl(lab->vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        FAIL(LAB_STAGE_MEMORY, 0);

    lab->run_size = ioctl(lab->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (lab->run_size < (int)sizeof(struct kvm_run))
        FAIL(LAB_STAGE_VCPU, lab->run_size);
    for (int k = 0; k < vcpus; k++) {
        struct vcpu *v = &lab->vcpus[k];
        v->fd = ioctl(lab->vm, KVM_CREATE_VCPU, k);
        if (v->fd < 0)
            FAIL(LAB_STAGE_VCPU, k);
        v->run = mmap(NULL, (size_t)lab->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
        if (v->run == MAP_FAILED) {
            v->run = NULL;
            FAIL(LAB_STAGE_VCPU, k);
        }
        /* Opened now: vCPU ioctls wait for KVM_RUN to return, reading the fd never does. */
        if (binary_stats)
            v->stats = ioctl(v->fd, KVM_GET_STATS_FD, NULL);
    }
    int khz = ioctl(lab->vcpus[0].fd, KVM_GET_TSC_KHZ, 0);
    lab->facts.tsc_khz = khz > 0 ? (uint32_t)khz : 0;
    read_tsc_offset(lab);

    err = load_image(lab);
    if (err) {
        *stage = LAB_STAGE_IMAGE;
        goto fail;
    }

    lab->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (lab->epfd < 0)
        FAIL(LAB_STAGE_THREADS, 0);
    lab->ctlfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (lab->ctlfd < 0)
        FAIL(LAB_STAGE_THREADS, 0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = CTL_EVENT};
    if (epoll_ctl(lab->epfd, EPOLL_CTL_ADD, lab->ctlfd, &ev) < 0)
        FAIL(LAB_STAGE_THREADS, 0);
    for (int i = 0; i < NSLOTS_ALL; i++)
        lab->slots[i].route = -1;
    pthread_once(&kick_once, install_kick_handler);
    if (kick_error) {
        err = kick_error;
        *stage = LAB_STAGE_THREADS;
        *detail = kick_signal();
        goto fail;
    }
    *out = lab;
    return 0;

fail:
    lab_destroy(lab);
    return err ? err : -EIO;
}

int lab_facts(struct lab *lab, struct lab_facts *out)
{
    *out = lab->facts;
    return 0;
}

int lab_start(struct lab *lab, int entry)
{
    int err;
    if (entry < 0 || entry >= ENTRY_COUNT)
        return -EINVAL;
    if (entry != ENTRY_LAB && lab->nvcpus > 1)
        return -EINVAL; /* the bare floor loops are vCPU 0's only */
    pthread_mutex_lock(&lab->ctl);
    if (lab->threads_up) {
        pthread_mutex_unlock(&lab->ctl);
        return -EBUSY;
    }
    for (int k = 0; k < lab->nvcpus; k++) {
        err = setup_vcpu_regs(lab, &lab->vcpus[k], entry);
        if (err) {
            pthread_mutex_unlock(&lab->ctl);
            return err;
        }
    }
    lab->stop = 0;
    lab->dead = 0;
    lab->pause_req = 0;
    lab->fault[0] = 0;
    for (int k = 0; k < lab->nvcpus; k++) {
        struct vcpu *v = &lab->vcpus[k];
        __atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_RELEASE);
        v->parked = 0;
        /* A fresh start re-reads the plan: make the handshake words agree. */
        *vcpu_u32(lab, k, MB_ACK_SEQ) = lab->pause_seq;
        *vcpu_u32(lab, k, MB_PAUSE_SEQ) = lab->pause_seq;
    }
    lab->state = LAB_RUNNING;
    clock_gettime(CLOCK_MONOTONIC, &lab->last_fold);
    err = pthread_create(&lab->consumer_thread, NULL, consumer_main, lab);
    if (err) {
        lab->state = LAB_IDLE;
        pthread_mutex_unlock(&lab->ctl);
        return -err;
    }
    for (int k = 0; k < lab->nvcpus; k++) {
        struct vcpu *v = &lab->vcpus[k];
        err = pthread_create(&v->thread, NULL, vcpu_main, v);
        if (err) {
            /* Undo: stop the vCPUs already running, then the consumer. */
            __atomic_store_n(&lab->stop, 1, __ATOMIC_RELEASE);
            pthread_cond_broadcast(&lab->cond);
            pthread_mutex_unlock(&lab->ctl);
            for (int j = 0; j < k; j++) {
                kick(&lab->vcpus[j]);
                pthread_join(lab->vcpus[j].thread, NULL);
                lab->vcpus[j].thread_up = 0;
            }
            uint64_t one = 1, drop;
            (void)!write(lab->ctlfd, &one, sizeof(one));
            pthread_join(lab->consumer_thread, NULL);
            (void)!read(lab->ctlfd, &drop, sizeof(drop));
            pthread_mutex_lock(&lab->ctl);
            lab->state = LAB_IDLE;
            pthread_mutex_unlock(&lab->ctl);
            return -err;
        }
        v->thread_up = 1;
    }
    lab->threads_up = 1;
    pthread_mutex_unlock(&lab->ctl);
    /* Return once every thread has said who it is, so its scheduling counters
     * (/proc/self/task/TID) can be read from the first reading on (<= 1 s). */
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int known = __atomic_load_n(&lab->reader_tid, __ATOMIC_ACQUIRE) != 0;
        for (int k = 0; k < lab->nvcpus; k++)
            known &= __atomic_load_n(&lab->vcpus[k].tid, __ATOMIC_ACQUIRE) != 0;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (known || now.tv_sec - t0.tv_sec > 1)
            break;
        sched_yield();
    }
    return 0;
}

static void kick(struct vcpu *v)
{
    __atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_RELEASE);
    pthread_kill(v->thread, kick_signal());
}

static void deadline_after(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/*
 * Ask the guest to park at its next quiescent point (between bursts, with
 * its counters up to date), then account for everything.  Returns 0, or 1
 * when the guest did not answer in time and was kicked out of KVM_RUN (the
 * counts may then be one ring off), or -errno.
 */
int lab_pause(struct lab *lab, int timeout_ms)
{
    struct timespec ts;
    int forced = 0;

    pthread_mutex_lock(&lab->ctl);
    if (lab->state == LAB_PARKED) {
        pthread_mutex_unlock(&lab->ctl);
        return 0;
    }
    if (lab->state != LAB_RUNNING) {
        int st = lab->state;
        pthread_mutex_unlock(&lab->ctl);
        return st == LAB_FAULTED ? -EIO : -ESRCH;
    }
    __atomic_store_n(&lab->pause_req, 1, __ATOMIC_RELEASE);
    lab->pause_seq++;
    /* Every vCPU's mailbox; the lab is parked once all of them are. */
    for (int k = 0; k < lab->nvcpus; k++)
        *vcpu_u32(lab, k, MB_PAUSE_SEQ) = lab->pause_seq;
    deadline_after(&ts, timeout_ms);
    while (lab->state == LAB_RUNNING) {
        if (pthread_cond_timedwait(&lab->cond, &lab->ctl, &ts) == ETIMEDOUT &&
            lab->state == LAB_RUNNING) {
            if (forced) {
                pthread_mutex_unlock(&lab->ctl);
                return -ETIMEDOUT;
            }
            forced = 1;
            for (int k = 0; k < lab->nvcpus; k++)
                if (!lab->vcpus[k].parked)
                    kick(&lab->vcpus[k]);
            deadline_after(&ts, 1000);
        }
    }
    int st = lab->state;
    pthread_mutex_unlock(&lab->ctl);
    if (st == LAB_FAULTED)
        return -EIO;
    sync_counters(lab);
    read_tsc_offset(lab); /* parked, not in KVM_RUN: the vCPU ioctl cannot block */
    return forced;
}

int lab_resume(struct lab *lab)
{
    pthread_mutex_lock(&lab->ctl);
    int st = lab->state;
    if (st == LAB_PARKED) {
        __atomic_store_n(&lab->pause_req, 0, __ATOMIC_RELEASE);
        for (int k = 0; k < lab->nvcpus; k++)
            lab->vcpus[k].parked = 0;
        lab->resume_gen++;
        lab->state = LAB_RUNNING;
        pthread_cond_broadcast(&lab->cond);
    }
    pthread_mutex_unlock(&lab->ctl);
    if (st == LAB_FAULTED)
        return -EIO;
    return st == LAB_PARKED || st == LAB_RUNNING ? 0 : -ESRCH;
}

int lab_stop(struct lab *lab)
{
    pthread_mutex_lock(&lab->ctl);
    if (!lab->threads_up) {
        pthread_mutex_unlock(&lab->ctl);
        return 0;
    }
    __atomic_store_n(&lab->stop, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&lab->cond);
    for (int k = 0; k < lab->nvcpus; k++)
        if (lab->vcpus[k].thread_up)
            kick(&lab->vcpus[k]);
    pthread_mutex_unlock(&lab->ctl);
    for (int k = 0; k < lab->nvcpus; k++) {
        if (lab->vcpus[k].thread_up)
            pthread_join(lab->vcpus[k].thread, NULL);
    }
    pthread_mutex_lock(&lab->ctl);
    for (int k = 0; k < lab->nvcpus; k++) {
        lab->vcpus[k].thread_up = 0;
        lab->vcpus[k].parked = 0;
    }
    pthread_mutex_unlock(&lab->ctl);
    uint64_t one = 1, drop;
    (void)!write(lab->ctlfd, &one, sizeof(one));
    pthread_join(lab->consumer_thread, NULL);
    (void)!read(lab->ctlfd, &drop, sizeof(drop));
    sync_counters(lab);
    pthread_mutex_lock(&lab->ctl);
    lab->threads_up = 0;
    if (lab->state != LAB_FAULTED)
        lab->state = LAB_IDLE;
    for (int k = 0; k < lab->nvcpus; k++)
        __atomic_store_n(&lab->vcpus[k].run->immediate_exit, 0, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&lab->ctl);
    return 0;
}

int lab_state(struct lab *lab)
{
    pthread_mutex_lock(&lab->ctl);
    int st = lab->state;
    pthread_mutex_unlock(&lab->ctl);
    return st;
}

int lab_fault(struct lab *lab, char *buf, int len)
{
    pthread_mutex_lock(&lab->ctl);
    snprintf(buf, (size_t)len, "%s", lab->fault);
    pthread_mutex_unlock(&lab->ctl);
    return 0;
}

static int quiescent(struct lab *lab);

/*
 * A new epoch under another reader.  "none" takes every eventfd out of the
 * epoll set, so a signal wakes nobody; the others put them back.  The pages
 * are folded first so the last epoch's samples stay with its reader.
 */
int lab_set_consumer_mode(struct lab *lab, int mode)
{
    if (mode < 0 || mode >= LAB_READERS)
        return -EINVAL;
    if (!quiescent(lab))
        return -EBUSY;
    pthread_mutex_lock(&lab->mu);
    int old = lab->consumer_mode;
    if (mode == old) {
        pthread_mutex_unlock(&lab->mu);
        return 0;
    }
    drain_all(lab);
    fold(lab);
    fold_issued(lab);
    int err = 0;
    if (mode == LAB_CONSUMER_NONE || old == LAB_CONSUMER_NONE) {
        for (int i = 0; i < lab->nregs && !err; i++) {
            struct reg *r = &lab->regs[i];
            if (r->efd < 0)
                continue;
            struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)i};
            if (mode == LAB_CONSUMER_NONE)
                (void)epoll_ctl(lab->epfd, EPOLL_CTL_DEL, r->efd, NULL);
            else if (epoll_ctl(lab->epfd, EPOLL_CTL_ADD, r->efd, &ev) < 0 && errno != EEXIST)
                err = -errno;
        }
    }
    if (!err)
        __atomic_store_n(&lab->consumer_mode, mode, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&lab->mu);
    return err;
}

int lab_pin(struct lab *lab, int vcpu_cpu, int reader_cpu)
{
    if (vcpu_cpu < -1 || reader_cpu < -1 || vcpu_cpu >= CPU_SETSIZE || reader_cpu >= CPU_SETSIZE)
        return -EINVAL;
    pthread_mutex_lock(&lab->ctl);
    lab->pin_vcpu = vcpu_cpu;
    lab->pin_reader = reader_cpu;
    int err = 0;
    if (lab->threads_up) {
        for (int k = 0; k < lab->nvcpus && !err; k++)
            err = apply_pin(lab->vcpus[k].thread, vcpu_cpu);
        if (!err)
            err = apply_pin(lab->consumer_thread, reader_cpu);
    }
    pthread_mutex_unlock(&lab->ctl);
    return err;
}

int lab_threads(struct lab *lab, struct lab_threads *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&lab->mu);
    out->reader_wakeups = lab->reader_wakeups;
    pthread_mutex_unlock(&lab->mu);
    out->reader_tid = __atomic_load_n(&lab->reader_tid, __ATOMIC_ACQUIRE);
    for (int k = 0; k < lab->nvcpus; k++)
        out->vcpu_tids[k] = __atomic_load_n(&lab->vcpus[k].tid, __ATOMIC_ACQUIRE);
    return 0;
}

void lab_destroy(struct lab *lab)
{
    if (!lab)
        return;
    lab_stop(lab);
    for (int i = 0; i < lab->nregs; i++) {
        if (lab->regs[i].efd >= 0)
            lab_deassign(lab, i, NULL);
    }
    free(lab->regs);
    if (lab->epfd >= 0)
        close(lab->epfd);
    if (lab->ctlfd >= 0)
        close(lab->ctlfd);
    for (int k = 0; k < MAX_VCPUS; k++) {
        struct vcpu *v = &lab->vcpus[k];
        if (v->stats >= 0)
            close(v->stats);
        if (v->run)
            munmap(v->run, (size_t)lab->run_size);
        if (v->fd >= 0)
            close(v->fd);
    }
    if (lab->vm >= 0)
        close(lab->vm);
    if (lab->ram)
        munmap(lab->ram, GUEST_RAM_SIZE);
    if (lab->kvm >= 0)
        close(lab->kvm);
    pthread_mutex_destroy(&lab->ctl);
    pthread_mutex_destroy(&lab->mu);
    pthread_cond_destroy(&lab->cond);
    free(lab);
}

/* ------------------------------------------------------- the plan ---- */

/* The plan and the slot table change only while the vCPU cannot ring. */
static int quiescent(struct lab *lab)
{
    pthread_mutex_lock(&lab->ctl);
    int ok = lab->state == LAB_PARKED || !lab->threads_up;
    pthread_mutex_unlock(&lab->ctl);
    return ok;
}

static void slot_final(struct slot *s, struct lab_slot_stats *out)
{
    out->rings = s->acc.rings;
    out->exits = __atomic_load_n(&s->exits, __ATOMIC_RELAXED);
    out->issued = s->issued;
    out->rings_user = s->rings_user;
    out->samples = s->acc.samples;
    out->cycles = s->acc.cycles;
}

int lab_clear_slot(struct lab *lab, int slot, struct lab_slot_stats *final)
{
    if (!slot_ok(lab, slot))
        return -EINVAL;
    if (!quiescent(lab))
        return -EBUSY;
    pthread_mutex_lock(&lab->mu);
    struct slot *s = &lab->slots[slot];
    if (final)
        slot_final(s, final);
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
    if (!quiescent(lab))
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
    if (!quiescent(lab))
        return -EBUSY;
    pthread_mutex_lock(&lab->mu);
    int err = 0;
    if (reg_id >= 0 && !reg_get(lab, reg_id))
        err = -ENOENT;
    else
        lab->slots[slot].route = reg_id < 0 ? -1 : reg_id;
    pthread_mutex_unlock(&lab->mu);
    return err;
}

int lab_set_bare(struct lab *lab, uint32_t where, uint64_t value)
{
    if (!quiescent(lab))
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

/* ------------------------------------------------- registrations ---- */

int lab_assign(struct lab *lab, int pio, uint64_t addr, uint32_t len, int datamatch,
               uint64_t value, int *reg_id, int *efd_out, int *stage)
{
    struct kvm_ioeventfd io;
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (efd < 0) {
        *stage = LAB_ASSIGN_EVENTFD;
        return -errno;
    }
    memset(&io, 0, sizeof(io));
    io.addr = addr;
    io.len = len;
    io.fd = efd;
    io.datamatch = value;
    io.flags = (pio ? KVM_IOEVENTFD_FLAG_PIO : 0) | (datamatch ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0);

    pthread_mutex_lock(&lab->mu);
    int id = -1;
    for (int i = 0; i < lab->nregs; i++) {
        if (lab->regs[i].efd < 0) {
            id = i;
            break;
        }
    }
    if (id < 0) {
        if (lab->nregs == lab->regs_cap) {
            int cap = lab->regs_cap ? lab->regs_cap * 2 : 64;
            struct reg *grown = realloc(lab->regs, (size_t)cap * sizeof(*grown));
            if (!grown) {
                pthread_mutex_unlock(&lab->mu);
                close(efd);
                *stage = LAB_ASSIGN_TABLE;
                return -ENOMEM;
            }
            lab->regs = grown;
            lab->regs_cap = cap;
        }
        id = lab->nregs++;
        memset(&lab->regs[id], 0, sizeof(lab->regs[id]));
        lab->regs[id].efd = -1;
    }
    if (ioctl(lab->vm, KVM_IOEVENTFD, &io) < 0) {
        int err = -errno;
        pthread_mutex_unlock(&lab->mu);
        close(efd);
        *stage = LAB_ASSIGN_IOCTL;
        return err;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)id};
    /* Under reader "none" nobody waits on it: it joins the set when a reader does. */
    if (lab->consumer_mode != LAB_CONSUMER_NONE && epoll_ctl(lab->epfd, EPOLL_CTL_ADD, efd, &ev) < 0) {
        int err = -errno;
        io.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
        (void)ioctl(lab->vm, KVM_IOEVENTFD, &io);
        pthread_mutex_unlock(&lab->mu);
        close(efd);
        *stage = LAB_ASSIGN_EPOLL;
        return err;
    }
    struct reg *r = &lab->regs[id];
    memset(r, 0, sizeof(*r));
    r->efd = efd;
    r->pio = pio;
    r->datamatch = datamatch;
    r->addr = addr;
    r->len = len;
    r->value = value;
    pthread_mutex_unlock(&lab->mu);
    *reg_id = id;
    *efd_out = efd;
    return 0;
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
static void reg_final(const struct reg *r, struct lab_path_stats *out)
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

static void reg_free(struct reg *r)
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

/* Deassign, then drain: after the ioctl returns no new signal can arrive. */
int lab_deassign(struct lab *lab, int reg_id, struct lab_path_stats *final)
{
    pthread_mutex_lock(&lab->mu);
    struct reg *r = reg_get(lab, reg_id);
    if (!r) {
        pthread_mutex_unlock(&lab->mu);
        return -ENOENT;
    }
    struct kvm_ioeventfd io;
    memset(&io, 0, sizeof(io));
    io.addr = r->addr;
    io.len = r->len;
    io.fd = r->efd;
    io.datamatch = r->value;
    io.flags = KVM_IOEVENTFD_FLAG_DEASSIGN | (r->pio ? KVM_IOEVENTFD_FLAG_PIO : 0) |
               (r->datamatch ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0);
    int err = ioctl(lab->vm, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
    (void)epoll_ctl(lab->epfd, EPOLL_CTL_DEL, r->efd, NULL); /* ENOENT under reader "none" */
    drain_reg(r);
    if (final)
        reg_final(r, final);
    close(r->efd);
    r->efd = -1;
    reg_free(r);
    for (int i = 0; i < NSLOTS_ALL; i++)
        if (lab->slots[i].route == reg_id)
            lab->slots[i].route = -1;
    pthread_mutex_unlock(&lab->mu);
    return err;
}

/* ----------------------------------------------------------- reading -- */

int lab_read_slots(struct lab *lab, struct lab_slot_stats *out, int n)
{
    if (n > NSLOTS_ALL)
        n = NSLOTS_ALL;
    pthread_mutex_lock(&lab->mu);
    fold(lab);
    for (int i = 0; i < n; i++)
        slot_final(&lab->slots[i], &out[i]);
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
    fold(lab);
    drain_listed(lab, reg_ids, nregs);
    for (int i = 0; i < n; i++)
        slot_final(&lab->slots[i], &out[i]);
    for (int i = 0; i < nregs; i++) {
        const struct reg *r = reg_get(lab, reg_ids[i]);
        signals[i] = r ? r->signals : 0;
        if (wakes) {
            memset(&wakes[i], 0, sizeof(wakes[i]));
            if (r)
                wakes[i] = r->wake[reader_of(lab)];
        }
    }
    fold_issued(lab);
    for (int i = 0; i < n; i++)
        out[i].issued = lab->slots[i].issued;
    pthread_mutex_unlock(&lab->mu);
    return n;
}

static int resolve_mode(struct lab *lab, int mode);

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

/* LAB_MODE_CURRENT or a valid mode; -1 when out of range. `mu` held. */
static int resolve_mode(struct lab *lab, int mode)
{
    if (mode == LAB_MODE_CURRENT)
        return current_mode(lab);
    return mode >= 0 && mode < LAB_MODES ? mode : -1;
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

/*
 * The value at each quantile of `a` (NULL: no samples, every value -1): the
 * midpoint of the bucket that holds it.
 */
static void accum_quantiles(const struct accum *a, const double *q, int nq, double *out)
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
    if (kind < LAB_PATH_SLOT || kind > LAB_PATH_WAKE)
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
    if (!quiescent(lab))
        return -EBUSY;
    pthread_mutex_lock(&lab->ctl);
    lab->forced_parks = lab->unsolicited_parks = 0;
    pthread_mutex_unlock(&lab->ctl);
    pthread_mutex_lock(&lab->mu);
    drain_all(lab);
    fold(lab);
    fold_issued(lab);
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
        reg_free(r);
    }
    memset(lab->user, 0, sizeof(lab->user));
    memset(lab->cal, 0, sizeof(lab->cal));
    lab->reader_wakeups = 0;
    memset(&lab->health, 0, sizeof(lab->health));
    pthread_mutex_unlock(&lab->mu);
    return 0;
}

int lab_set_pace(struct lab *lab, uint32_t cycles)
{
    /* One publisher: the wake record and the TSC offset are vCPU 0's. */
    if (cycles && lab->nvcpus > 1)
        return -EOPNOTSUPP;
    if (!quiescent(lab))
        return -EBUSY;
    pthread_mutex_lock(&lab->mu);
    fold(lab); /* the last epoch's samples stay with its mode */
    fold_issued(lab);
    /* Samples count only rings published from now on. */
    lab->wake_seq_base = *guest_u32(lab, WAKE_SEQ);
    *guest_u32(lab, MB_PACE) = cycles;
    __atomic_store_n(&lab->pace, cycles, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&lab->mu);
    write_plan(lab, 0);
    return 0;
}

int lab_vcpu_stats_fd(struct lab *lab, int vcpu)
{
    if (vcpu < 0 || vcpu >= lab->nvcpus)
        return -EINVAL;
    return lab->vcpus[vcpu].stats;
}
