/*
 * The other half of the notification loop: the completion interrupt.  The
 * round-trip guest (ENTRY_ROUNDTRIP) kicks and waits for an interrupt; this
 * file answers each kick, on one of three paths (guest_abi.h RT_PATH_*):
 *   ioeventfd  the kick signals an eventfd; a device thread (the reader, in
 *              mode epoll or poll) reads it and writes an irqfd whose GSI is
 *              routed (KVM_SET_GSI_ROUTING) as an MSI to vCPU 0's LAPIC;
 *   user       the kick exits to userspace; the vCPU thread injects with
 *              KVM_SIGNAL_MSI (pin route: KVM_IRQ_LINE_STATUS up, KVM_IRQ_LINE
 *              down) before it re-enters (vcpu.c calls lab_rt_user_kick);
 *   self-IPI   the guest's own LAPIC (no host involved): the floor.
 * The host stamps each kick's record (reader awake, completion written) on
 * the guest's clock: guest TSC = host TSC + KVM_VCPU_TSC_OFFSET.
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

#define RT_GSI 24     /* the MSI's, above the 24 IOAPIC pins */
#define RT_IOAPIC_PINS 24
#define RT_PIN_GSI 10 /* the pin route's IOAPIC pin (GSI n = pin n) */

_Static_assert(RT_REC + RT_RECORDS * (1 << RT_REC_SHIFT) <= GUEST_RAM_SIZE, "records overflow RAM");
_Static_assert(RT_REC >= (MAX_VCPUS - 1) * VCPU_AREA + CTR_BASE + CTR_COUNT * CTR_STRIDE,
               "records overlap vCPU 1's area");
_Static_assert(RT_IDT + 256 * 8 <= GUEST_STACK_TOP - 0x1000, "the IDT crowds the stack");
_Static_assert((RT_RECORDS & (RT_RECORDS - 1)) == 0, "RT_RECORDS is a power of two");

struct rt {
    int path, reader, mmio, route;
    uint32_t vector, work;     /* work: TSC cycles the device spins before it answers */
    int kickfd, irqfd, resamplefd, epfd, stopfd;
    int ioeventfd_on, irqfd_on;
    pthread_t thread;
    int thread_up, stop;
    struct lab_rt_stats st;    /* host counts: device thread or vCPU thread, atomics */
};

static void add(uint64_t *p, uint64_t n) { __atomic_fetch_add(p, n, __ATOMIC_RELAXED); }

/* Resample signals (the guest EOI'd the level interrupt): count them, never block. */
static void drain_resamples(struct rt *rt)
{
    uint64_t count;
    if (rt->resamplefd >= 0 && read(rt->resamplefd, &count, sizeof(count)) == sizeof(count))
        add(&rt->st.resamples, count);
}

/* Stamp a record's host field on the guest clock (a u32, like the guest's own). */
static void stamp(struct lab *lab, uint64_t kick, uint32_t field, uint64_t host_tsc)
{
    uint32_t off = RT_REC + (uint32_t)((kick & (RT_RECORDS - 1)) << RT_REC_SHIFT) + field;
    __atomic_store_n(guest_u32(lab, off), (uint32_t)(host_tsc + lab->tsc_offset), __ATOMIC_RELAXED);
}

/* The device's work: spin `work` cycles from `from` (a device that computes before answering). */
static uint64_t device_work(uint32_t work, uint64_t from)
{
    uint64_t now = __rdtsc();
    while (work && now - from < work)
        now = __rdtsc();
    return now;
}

static void *device_main(void *arg)
{
    struct lab *lab = arg;
    struct rt *rt = lab->rt;
    struct epoll_event ev;

    lab_apply_pin(pthread_self(), lab->pin_reader);
    while (!__atomic_load_n(&rt->stop, __ATOMIC_ACQUIRE)) {
        if (rt->reader == LAB_CONSUMER_EPOLL) {
            int n = epoll_wait(rt->epfd, &ev, 1, -1);
            if (n <= 0 || ev.data.fd == rt->stopfd)
                continue; /* EINTR, or the stop flag is checked above */
            if (ev.data.fd == rt->resamplefd) {
                drain_resamples(rt);
                continue;
            }
        } else {
            drain_resamples(rt);
        }
        uint64_t woke = __rdtsc();
        uint64_t count;
        if (read(rt->kickfd, &count, sizeof(count)) != sizeof(count) || count == 0)
            continue; /* poll mode: nothing yet */
        /* Polling, the kick may have landed after the stamp, during this read:
         * stamp the read that found it instead (never before the kick). */
        if (rt->reader == LAB_CONSUMER_POLL)
            woke = __rdtsc();
        uint64_t before = __atomic_fetch_add(&rt->st.signals, count, __ATOMIC_RELAXED);
        add(&rt->st.reads, 1);
        if (count > 1)
            add(&rt->st.coalesced, count - 1); /* kicks answered by one completion */
        uint64_t kick = before + count - 1;    /* the last kick read is the one waiting */
        stamp(lab, kick, RT_REC_AWAKE, woke);
        stamp(lab, kick, RT_REC_WRITTEN, device_work(rt->work, woke));
        /* Counted before the write: the guest may take the interrupt, and a
         * pause read the counts, before write() has even returned. */
        uint64_t one = 1;
        add(&rt->st.completions, 1);
        if (write(rt->irqfd, &one, sizeof(one)) != sizeof(one)) {
            __atomic_fetch_sub(&rt->st.completions, 1, __ATOMIC_RELAXED);
            add(&rt->st.completion_errors, 1);
        }
    }
    return NULL;
}

/* Called by the vCPU thread on a kick to RT_USER_PORT or RT_USER_MMIO; 0, or -ENOENT
 * when no user path is set up (then it is a stray exit like any other). */
int lab_rt_user_kick(struct lab *lab)
{
    uint64_t woke = __rdtsc();
    struct rt *rt = lab->rt; /* changes only while no vCPU runs */
    if (!rt || rt->path != RT_PATH_USER)
        return -ENOENT;
    uint64_t kick = __atomic_fetch_add(&rt->st.user_exits, 1, __ATOMIC_RELAXED);
    stamp(lab, kick, RT_REC_AWAKE, woke);
    stamp(lab, kick, RT_REC_WRITTEN, device_work(rt->work, woke));
    int r;
    if (rt->route == RT_ROUTE_PIN) {
        /* A pulse on the level pin: asserted, then lowered before re-entry, so the
         * guest's EOI finds it low (no resampler: userspace owns the line). */
        struct kvm_irq_level line = {.irq = RT_PIN_GSI, .level = 1};
        r = ioctl(lab->vm, KVM_IRQ_LINE_STATUS, &line) < 0 ? -1 : line.status;
        line = (struct kvm_irq_level){.irq = RT_PIN_GSI, .level = 0}; /* status shares irq's u32 */
        if (ioctl(lab->vm, KVM_IRQ_LINE, &line) < 0)
            r = -1;
    } else {
        struct kvm_msi msi = {.address_lo = LAPIC_BASE, .data = rt->vector};
        r = ioctl(lab->vm, KVM_SIGNAL_MSI, &msi);
    }
    if (r > 0)
        add(&rt->st.completions, 1);
    else if (r == 0)
        add(&rt->st.merged, 1); /* api.rst: 0 = coalesced, or the guest blocked it */
    else
        add(&rt->st.completion_errors, 1);
    return 0;
}

/* The table replaces the whole routing: the IOAPIC's pins (GSI n = pin n, as by
 * default) and the MSI at RT_GSI. */
static int set_route(struct lab *lab, uint32_t vector)
{
    struct {
        struct kvm_irq_routing head;
        struct kvm_irq_routing_entry entries[RT_IOAPIC_PINS + 1];
    } table;
    memset(&table, 0, sizeof(table));
    table.head.nr = RT_IOAPIC_PINS + 1;
    for (int pin = 0; pin < RT_IOAPIC_PINS; pin++) {
        table.entries[pin].gsi = (uint32_t)pin;
        table.entries[pin].type = KVM_IRQ_ROUTING_IRQCHIP;
        table.entries[pin].u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
        table.entries[pin].u.irqchip.pin = (uint32_t)pin;
    }
    struct kvm_irq_routing_entry *msi = &table.entries[RT_IOAPIC_PINS];
    msi->gsi = RT_GSI;
    msi->type = KVM_IRQ_ROUTING_MSI;
    msi->u.msi.address_lo = LAPIC_BASE; /* destination APIC id 0, fixed, physical */
    msi->u.msi.data = vector;
    return ioctl(lab->vm, KVM_SET_GSI_ROUTING, &table) < 0 ? -errno : 0;
}

static int irqfd_ctl(struct lab *lab, struct rt *rt, uint32_t flags)
{
    struct kvm_irqfd req = {.fd = (uint32_t)rt->irqfd, .gsi = RT_GSI, .flags = flags};
    if (rt->route == RT_ROUTE_PIN) {
        req.gsi = RT_PIN_GSI;
        if (!(flags & KVM_IRQFD_FLAG_DEASSIGN)) {
            req.flags |= KVM_IRQFD_FLAG_RESAMPLE; /* level: KVM lowers it at the guest's EOI */
            req.resamplefd = (uint32_t)rt->resamplefd;
        }
    }
    return ioctl(lab->vm, KVM_IRQFD, &req) < 0 ? -errno : 0;
}


static int ioeventfd_ctl(struct lab *lab, int fd, int mmio, uint32_t flags)
{
    struct kvm_ioeventfd req = {
        .addr = mmio ? RT_MMIO : RT_PORT, .len = mmio ? 4 : 1, .fd = fd,
        .flags = (mmio ? 0 : KVM_IOEVENTFD_FLAG_PIO) | flags,
    };
    return ioctl(lab->vm, KVM_IOEVENTFD, &req) < 0 ? -errno : 0;
}

int lab_rt_teardown(struct lab *lab)
{
    struct rt *rt = lab->rt;
    if (!rt)
        return 0;
    if (!lab_quiescent(lab))
        return -EBUSY;
    if (rt->thread_up) {
        __atomic_store_n(&rt->stop, 1, __ATOMIC_RELEASE);
        uint64_t one = 1;
        if (write(rt->stopfd, &one, sizeof(one)) < 0) { /* poll mode sees the flag */
        }
        pthread_join(rt->thread, NULL);
    }
    /* The device thread is gone: whatever the eventfd still holds is counted, never lost. */
    uint64_t count;
    if (rt->kickfd >= 0 && read(rt->kickfd, &count, sizeof(count)) == sizeof(count))
        add(&rt->st.signals, count);
    drain_resamples(rt);
    /* Deassign before closing (KVM would also drop them on close, later and silently). */
    int err = 0;
    if (rt->irqfd_on)
        err = irqfd_ctl(lab, rt, KVM_IRQFD_FLAG_DEASSIGN);
    if (rt->ioeventfd_on) {
        int e = ioeventfd_ctl(lab, rt->kickfd, rt->mmio, KVM_IOEVENTFD_FLAG_DEASSIGN);
        err = err ? err : e;
    }
    int fds[] = {rt->kickfd, rt->irqfd, rt->resamplefd, rt->epfd, rt->stopfd};
    for (unsigned i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(rt);
    lab->rt = NULL;
    return err;
}

int lab_rt_setup(struct lab *lab, int path, int mmio, int route, int reader, uint32_t vector,
                 uint32_t work_cycles)
{
    if (!lab->irqchip)
        return -ENOTSUP;
    if (lab->nvcpus != 1 || path < RT_PATH_IOEVENTFD || path > RT_PATH_SELF_IPI || vector < 32 ||
        (mmio != 0 && mmio != 1) || (route != RT_ROUTE_MSI && route != RT_ROUTE_PIN) ||
        (route == RT_ROUTE_PIN && path == RT_PATH_SELF_IPI) ||
        vector > 255 || (reader != LAB_CONSUMER_EPOLL && reader != LAB_CONSUMER_POLL))
        return -EINVAL;
    if (lab->rt && !lab_quiescent(lab))
        return -EBUSY;
    lab_rt_teardown(lab); /* a previous one (its deassign errors were the caller's to see) */
    if (lab->threads_up)
        return -EBUSY; /* set up before the guest starts: its records start at kick 0 */
    int err;
    struct rt *rt = calloc(1, sizeof(*rt));
    if (!rt)
        return -ENOMEM;
    rt->path = path;
    rt->reader = reader;
    rt->mmio = mmio;
    rt->route = route;
    rt->vector = vector;
    rt->work = work_cycles;
    rt->kickfd = rt->irqfd = rt->resamplefd = rt->epfd = rt->stopfd = -1;
    lab->rt = rt;
    memset(lab->ram + RT_BASE, 0, RT_IDT - RT_BASE);
    memset(lab->ram + RT_REC, 0, (size_t)RT_RECORDS << RT_REC_SHIFT);
    *guest_u32(lab, RT_PATH) = (uint32_t)path;
    *guest_u32(lab, RT_VECTOR) = vector;
    *guest_u32(lab, RT_BUS) = mmio ? RT_BUS_MMIO : RT_BUS_PIO;
    *guest_u32(lab, RT_ROUTE) = (uint32_t)route;
    *guest_u32(lab, RT_PIN) = RT_PIN_GSI;
    /* The pin's GSI reaches the IOAPIC alone (by default GSIs < 16 reach the PIC too). */
    if (route == RT_ROUTE_PIN && path == RT_PATH_USER && (err = set_route(lab, vector)))
        goto fail_err;
    if (path != RT_PATH_IOEVENTFD)
        return 0;

    rt->kickfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    rt->irqfd = eventfd(0, EFD_CLOEXEC);
    rt->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    rt->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (route == RT_ROUTE_PIN)
        rt->resamplefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (rt->kickfd < 0 || rt->irqfd < 0 || rt->stopfd < 0 || rt->epfd < 0 ||
        (route == RT_ROUTE_PIN && rt->resamplefd < 0))
        goto fail;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = rt->kickfd};
    if (epoll_ctl(rt->epfd, EPOLL_CTL_ADD, rt->kickfd, &ev) < 0)
        goto fail;
    ev.data.fd = rt->stopfd;
    if (epoll_ctl(rt->epfd, EPOLL_CTL_ADD, rt->stopfd, &ev) < 0)
        goto fail;
    ev.data.fd = rt->resamplefd;
    if (rt->resamplefd >= 0 && epoll_ctl(rt->epfd, EPOLL_CTL_ADD, rt->resamplefd, &ev) < 0)
        goto fail;
    if ((err = set_route(lab, vector)) || (err = irqfd_ctl(lab, rt, 0)))
        goto fail_err;
    rt->irqfd_on = 1;
    if ((err = ioeventfd_ctl(lab, rt->kickfd, rt->mmio, 0)))
        goto fail_err;
    rt->ioeventfd_on = 1;
    if ((err = -pthread_create(&rt->thread, NULL, device_main, lab)))
        goto fail_err;
    rt->thread_up = 1;
    return 0;
fail:
    err = -errno;
fail_err:
    lab_rt_teardown(lab);
    return err ? err : -EIO;
}

int lab_rt_misbehave(struct lab *lab, int how)
{
    if (!lab->rt)
        return -ENOENT;
    if (how < 0 || how > RT_MASK_LAPIC)
        return -EINVAL;
    *guest_u32(lab, RT_MISBEHAVE) = (uint32_t)how;
    return 0;
}

int lab_rt_read(struct lab *lab, struct lab_rt_stats *out)
{
    memset(out, 0, sizeof(*out));
    struct rt *rt = lab->rt;
    if (!rt)
        return -ENOENT;
    out->signals = __atomic_load_n(&rt->st.signals, __ATOMIC_RELAXED);
    out->reads = __atomic_load_n(&rt->st.reads, __ATOMIC_RELAXED);
    out->coalesced = __atomic_load_n(&rt->st.coalesced, __ATOMIC_RELAXED);
    out->completions = __atomic_load_n(&rt->st.completions, __ATOMIC_RELAXED);
    out->completion_errors = __atomic_load_n(&rt->st.completion_errors, __ATOMIC_RELAXED);
    out->merged = __atomic_load_n(&rt->st.merged, __ATOMIC_RELAXED);
    out->user_exits = __atomic_load_n(&rt->st.user_exits, __ATOMIC_RELAXED);
    drain_resamples(rt); /* the last EOI's, which a polling thread may not have read yet */
    out->resamples = __atomic_load_n(&rt->st.resamples, __ATOMIC_RELAXED);
    /* The guest's counts (u32: a run under 2^32 kicks; the bench's are far shorter). */
    out->kicks = __atomic_load_n(guest_u32(lab, RT_KICKS), __ATOMIC_ACQUIRE);
    out->handler_runs = __atomic_load_n(guest_u32(lab, RT_IRQS), __ATOMIC_ACQUIRE);
    out->other_irqs = __atomic_load_n(guest_u32(lab, RT_OTHER), __ATOMIC_ACQUIRE);
    return 0;
}

/*
 * The last min(n, RT_RECORDS, kicks) records, oldest first, 4 u32 each
 * (kick, awake, written, handler): complete only while the guest is parked.
 */
int lab_rt_records(struct lab *lab, uint32_t *out, int n)
{
    if (!lab->rt)
        return -ENOENT;
    if (n < 0)
        return -EINVAL;
    if (!lab_quiescent(lab))
        return -EBUSY;
    uint32_t kicks = *guest_u32(lab, RT_KICKS);
    uint32_t m = (uint32_t)n;
    if (m > RT_RECORDS)
        m = RT_RECORDS;
    if (m > kicks)
        m = kicks;
    for (uint32_t i = 0; i < m; i++) {
        uint32_t k = (kicks - m + i) & (RT_RECORDS - 1);
        memcpy(out + 4 * i, lab->ram + RT_REC + (k << RT_REC_SHIFT), 16);
    }
    return (int)m;
}
