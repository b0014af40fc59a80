/*
 * The vCPU threads (kvmtool's kvm-cpu.c): each runs KVM_RUN and handles its
 * exits, counting the userspace ones per slot; the park handshake with the
 * guest, pause/resume/stop, the kick that forces a vCPU out of KVM_RUN, and
 * pinning.
 */
#define _GNU_SOURCE

#include "lab_internal.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

_Static_assert(MAX_VCPUS == sizeof(((struct lab_threads *)0)->vcpu_tids) / sizeof(int),
               "lab_threads.vcpu_tids must hold MAX_VCPUS");

/* ------------------------------------------------------------- kicks -- */

int lab_kick_signal(void) { return SIGRTMIN + 5; }

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
    if (sigaction(lab_kick_signal(), NULL, &old) < 0) {
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
    if (sigaction(lab_kick_signal(), &sa, NULL) < 0)
        kick_error = -errno;
}

int lab_install_kick(void)
{
    pthread_once(&kick_once, install_kick_handler);
    return kick_error;
}

static void kick(struct vcpu *v)
{
    __atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_RELEASE);
    pthread_kill(v->thread, lab_kick_signal());
}

/* Pin a thread to one CPU, or let it run anywhere again (cpu < 0). */
int lab_apply_pin(pthread_t thread, int cpu)
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

/* ------------------------------------------------------ the run loop -- */

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

static uint64_t load_le(const uint8_t *p, uint32_t n)
{
    uint64_t v = 0;
    for (uint32_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
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
        if (lab->slots[i].route == LAB_ROUTE_ZONE)
            lab_zone_ring_full(lab, &lab->slots[i]);
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
        if (data[0] == FAULT_EXCEPTION)
            set_fault(v, "the round-trip guest took a CPU exception (vector < 32)");
        else
            set_fault(v, "the guest rejected its ring plan (code %u)", data[0]);
        return 1;
    }
    if (run->io.port == RT_USER_PORT && run->io.count == 1 && lab_rt_user_kick(lab) == 0)
        return 0;
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
    if (run->mmio.phys_addr == RT_USER_MMIO && len == 4 && lab_rt_user_kick(v->lab) == 0)
        return 0;
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
    sigaddset(&set, lab_kick_signal());
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    __atomic_store_n(&v->tid, my_tid(), __ATOMIC_RELEASE);
    lab_apply_pin(pthread_self(), lab->pin_vcpu);

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
        lab_zone_drain_at_exit(lab); /* the ring's entries come before this exit */
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

/* --------------------------------------------------------- lifecycle -- */

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

int lab_start(struct lab *lab, int entry)
{
    int err;
    if (entry < 0 || entry >= ENTRY_COUNT)
        return -EINVAL;
    if (entry != ENTRY_LAB && lab->nvcpus > 1)
        return -EINVAL; /* the bare floor loops and the round trip are vCPU 0's only */
    if (entry == ENTRY_ROUNDTRIP && !lab->rt)
        return -ENOENT; /* nothing would answer its kicks: lab_rt_setup first */
    pthread_mutex_lock(&lab->ctl);
    if (lab->threads_up) {
        pthread_mutex_unlock(&lab->ctl);
        return -EBUSY;
    }
    err = lab_reset_irq_state(lab);
    for (int k = 0; k < lab->nvcpus || err; k++) {
        if (!err)
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
    lab->entry = entry;
    clock_gettime(CLOCK_MONOTONIC, &lab->last_fold);
    err = lab_reader_start(lab);
    if (err) {
        lab->state = LAB_IDLE;
        pthread_mutex_unlock(&lab->ctl);
        return err;
    }
    for (int k = 0; k < lab->nvcpus; k++) {
        struct vcpu *v = &lab->vcpus[k];
        err = -pthread_create(&v->thread, NULL, vcpu_main, v); /* -errno, as everywhere */
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
            lab_reader_stop(lab);
            pthread_mutex_lock(&lab->ctl);
            lab->state = LAB_IDLE;
            pthread_mutex_unlock(&lab->ctl);
            return err;
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
    lab_sync_counters(lab);
    lab_read_tsc_offset(lab); /* parked, not in KVM_RUN: the vCPU ioctl cannot block */
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

/*
 * Stop the lab loop where a pause parks it, between two visits: a kick alone
 * could stop it inside a visit, its rings announced (issued) but never
 * counted, and the counts kept would be one visit off, and stay so after the
 * next start (rings < issued on that page for good).  A loop that does not
 * answer within STOP_PARK_MS is kicked, by lab_pause; the other entries are
 * stopped where they stand (the bare loops never park, and keep no counters).
 */
#define STOP_PARK_MS 2000

int lab_stop(struct lab *lab)
{
    pthread_mutex_lock(&lab->ctl);
    int lab_loop = lab->threads_up && lab->entry == ENTRY_LAB;
    pthread_mutex_unlock(&lab->ctl);
    if (lab_loop)
        lab_pause(lab, STOP_PARK_MS); /* not running (faulted, parked): it says so, and we stop */
    return lab_stop_threads(lab);
}

int lab_stop_threads(struct lab *lab)
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
    lab_reader_stop(lab);
    lab_sync_counters(lab);
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

/* The plan and the slot table change only while the vCPU cannot ring. */
int lab_quiescent(struct lab *lab)
{
    pthread_mutex_lock(&lab->ctl);
    int ok = lab->state == LAB_PARKED || !lab->threads_up;
    pthread_mutex_unlock(&lab->ctl);
    return ok;
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
            err = lab_apply_pin(lab->vcpus[k].thread, vcpu_cpu);
        if (!err)
            err = lab_apply_pin(lab->consumer_thread, reader_cpu);
    }
    if (!err)
        err = lab_zone_pin(lab, reader_cpu);
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
