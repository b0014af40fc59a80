/*
 * ioeventfd registrations and the reader thread (kvmtool's ioeventfd.c): assign
 * and deassign, the reader in its three modes (epoll, busy-poll, none), the
 * drains a reading or a pause makes, and in paced mode each wake-up's latency.
 * The reader thread also folds the guest's counter pages every FOLD_PERIOD_MS.
 */
#define _GNU_SOURCE

#include "lab_internal.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <x86intrin.h>

#define FOLD_PERIOD_MS 100 /* u32 guest counters must not wrap between folds */

/* ------------------------------------------------------------ drains -- */

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
    if (count && r->cpl) /* whoever reads a signal answers it */
        lab_cpl_answer(lab, r, count, __rdtsc());
    if (lab->pace)
        r->wake[reader_of(lab)].elsewhere += count; /* read here: no wake-up to time */
}

/* Room for `n` entries in the drain's poll set; 0, or -ENOMEM. */
static int drain_room(struct lab *lab, int n)
{
    if (n <= lab->drain_cap)
        return 0;
    struct pollfd *fds = realloc(lab->drain_fds, (size_t)n * sizeof(*fds));
    if (!fds)
        return -ENOMEM;
    lab->drain_fds = fds;
    struct reg **regs = realloc(lab->drain_regs, (size_t)n * sizeof(*regs));
    if (!regs)
        return -ENOMEM;
    lab->drain_regs = regs;
    lab->drain_cap = n;
    return 0;
}

/*
 * Each registration asked for that has a count, read once without blocking,
 * in any reader mode; `mu` held.  Bounded by the list, so it cannot starve
 * the reader thread however fast the guest rings.  One poll() finds the
 * eventfds with a count, so a reading of 1,000 mostly quiet registrations
 * makes a few reads, not 1,000; a poll with a zero timeout adds no waiter to
 * an eventfd, so the kernel's signal path stays as the reader mode has it.
 * If poll() fails, every one is read, as before it.
 */
void lab_drain_listed(struct lab *lab, const int *ids, int n)
{
    int k = 0;
    if (drain_room(lab, n) == 0) {
        for (int i = 0; i < n; i++) {
            struct reg *r = reg_get(lab, ids[i]);
            if (!r)
                continue;
            lab->drain_fds[k] = (struct pollfd){.fd = r->efd, .events = POLLIN};
            lab->drain_regs[k++] = r;
        }
        if (poll(lab->drain_fds, (nfds_t)k, 0) >= 0) {
            for (int i = 0; i < k; i++)
                if (lab->drain_fds[i].revents & POLLIN)
                    drain_elsewhere(lab, lab->drain_regs[i]);
            return;
        }
    }
    for (int i = 0; i < n; i++) {
        struct reg *r = reg_get(lab, ids[i]);
        if (r)
            drain_elsewhere(lab, r);
    }
}

/* Every registration once (pauses and resets: the guest is parked); `mu` held. */
void lab_drain_all(struct lab *lab)
{
    for (int i = 0; i < lab->nregs; i++)
        if (lab->regs[i].efd >= 0)
            drain_elsewhere(lab, &lab->regs[i]);
}

/* ------------------------------------------------- the reader thread -- */

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
    acc->hist[lab_hist_bucket((uint32_t)cycles)]++;
    wake->samples++;
}

static void *consumer_main(void *arg)
{
    struct lab *lab = arg;
    struct epoll_event ev[64];
    int done = 0;

    __atomic_store_n(&lab->reader_tid, my_tid(), __ATOMIC_RELEASE);
    lab_apply_pin(pthread_self(), lab->pin_reader);
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
            if (!r || (reader == LAB_CONSUMER_NONE && !r->cpl))
                continue; /* switched to "none" while waiting: leave it to readings */
            uint64_t before = r->signals;
            uint64_t count = drain_reg(r);
            if (count && r->cpl)
                lab_cpl_answer(lab, r, count, woke);
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
            lab_fold(lab);
            lab_fold_issued(lab);
        }
        pthread_mutex_unlock(&lab->mu);
    }
    __atomic_store_n(&lab->reader_tid, 0, __ATOMIC_RELEASE);
    return NULL;
}

/* Start the reader thread; `ctl` held (lab_start).  0 or -errno. */
int lab_reader_start(struct lab *lab)
{
    return -pthread_create(&lab->consumer_thread, NULL, consumer_main, lab);
}

/* Stop the reader through its control eventfd and wait for it; the read
 * re-arms that eventfd, or the next reader would stop at once. */
void lab_reader_stop(struct lab *lab)
{
    uint64_t one = 1, drop;
    (void)!write(lab->ctlfd, &one, sizeof(one));
    pthread_join(lab->consumer_thread, NULL);
    (void)!read(lab->ctlfd, &drop, sizeof(drop));
}

/*
 * A new epoch under another reader.  "none" takes every eventfd out of the
 * epoll set, so a signal wakes nobody; the others put them back.  The pages
 * are folded first so the last epoch's samples stay with its reader.
 */
int lab_set_consumer_mode(struct lab *lab, int mode)
{
    if (mode < 0 || mode >= LAB_READERS)
        return -EINVAL;
    if (!lab_quiescent(lab))
        return -EBUSY;
    pthread_mutex_lock(&lab->mu);
    int old = lab->consumer_mode;
    if (mode == old) {
        pthread_mutex_unlock(&lab->mu);
        return 0;
    }
    lab_drain_all(lab);
    lab_fold(lab);
    lab_fold_issued(lab);
    int err = 0;
    if (mode == LAB_CONSUMER_NONE || old == LAB_CONSUMER_NONE) {
        for (int i = 0; i < lab->nregs && !err; i++) {
            struct reg *r = &lab->regs[i];
            if (r->efd < 0 || r->cpl)
                continue; /* a completion's eventfd stays: a device answers its kicks */
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

/* ----------------------------------------------------- registrations -- */

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
    uint64_t last = drain_reg(r);
    if (last && r->cpl)
        lab_cpl_answer(lab, r, last, __rdtsc());
    int cpl_err = lab_cpl_release(lab, r); /* its irqfd: KVM_IRQFD_FLAG_DEASSIGN */
    err = err ? err : cpl_err;
    if (final)
        lab_reg_final(r, final);
    close(r->efd);
    r->efd = -1;
    lab_reg_free(r);
    for (int i = 0; i < NSLOTS_ALL; i++)
        if (lab->slots[i].route == reg_id)
            lab->slots[i].route = -1;
    pthread_mutex_unlock(&lab->mu);
    return err;
}
