/*
 * Coalesced MMIO and PIO zones (KVM_REGISTER_COALESCED_MMIO, pio = 1 for
 * ports): a write inside a zone is appended to a ring page shared with us
 * and the guest goes on without an exit.  The ring is page
 * KVM_CAP_COALESCED_MMIO of vCPU 0's mmap (one ring per VM); a write that
 * finds it full exits as an ordinary KVM_EXIT_IO / KVM_EXIT_MMIO.
 *
 * Who drains: the vCPU thread at every userspace exit (as VMMs do), or a
 * drain thread every DRAIN_PERIOD_NS; and every reading, pause and reset.
 * `zmu` serialises the consumers (lock order: `mu`, then `zmu`); the vCPU
 * thread takes `zmu` only on an exit, never on the ring path.
 *
 * The ring is untrusted shared memory: our own copy of `first` (`head`) is
 * the truth, `last` is bounded by the capacity computed from the page size,
 * and every entry is copied out and its length checked before use.  A ring
 * whose `first` or `last` is out of place is counted as scribbled: a bad
 * `first` is put back, a bad `last` stops the drain (the kernel refuses to
 * append past it, so those writes exit and are counted as exits) and is put
 * back at the next pause, when no vCPU can append.
 */
#define _GNU_SOURCE

#include "lab_internal.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <x86intrin.h>
#include <string.h>
#include <sys/ioctl.h>

#define MAX_ZONES 64
#define DRAIN_PERIOD_NS 100000L /* the drain thread's sleep: ~40 entries at ~2.3 µs a write */

struct zone {
    int used;
    int pio;
    uint64_t addr;
    uint32_t size;
    uint64_t entries;   /* under `zmu` */
    uint64_t ring_full; /* relaxed atomics (the vCPU thread's exits) */
};

struct zones {
    pthread_mutex_t zmu;
    struct kvm_coalesced_mmio_ring *ring;
    uint32_t capacity; /* entries in the ring; one always stays empty */
    uint32_t head;     /* our `first`: the next entry to read */
    struct zone zone[MAX_ZONES];
    int nzones; /* zones in use; changes while quiescent */
    struct lab_ring_stats stats;
    struct accum path[NKINDS][LAB_MODES]; /* ring cost of zoned writes, per kind and mode */
    struct accum delay[2];                /* delivery delay (paced), per drain mode, TSC cycles */
    uint32_t delay_seq;                   /* the guest's ring record last sampled */
    int mode;                             /* enum lab_drain_mode */
    pthread_t thread;
    int thread_up, thread_stop;
};

/* --------------------------------------------------------- set up -- */

/* The ring, found once: 0, or -errno with `*stage` saying which capability is missing. */
static int zones_open(struct lab *lab, int pio, int *stage)
{
    if (lab->zones) {
        if (pio && ioctl(lab->kvm, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_PIO) <= 0) {
            *stage = LAB_ZONE_CAP_PIO;
            return -ENOTSUP;
        }
        return 0;
    }
    int page_off = ioctl(lab->kvm, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO);
    if (page_off <= 0) {
        *stage = LAB_ZONE_CAP_MMIO;
        return -ENOTSUP;
    }
    if (pio && ioctl(lab->kvm, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_PIO) <= 0) {
        *stage = LAB_ZONE_CAP_PIO;
        return -ENOTSUP;
    }
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0 || (long)(page_off + 1) * page > lab->run_size) {
        *stage = LAB_ZONE_CAP_MMIO; /* the ring page is not in the vCPU mapping */
        return -ERANGE;
    }
    struct zones *z = calloc(1, sizeof(*z));
    if (!z) {
        *stage = LAB_ZONE_TABLE;
        return -ENOMEM;
    }
    pthread_mutex_init(&z->zmu, NULL);
    z->ring = (struct kvm_coalesced_mmio_ring *)((uint8_t *)lab->vcpus[0].run + page_off * page);
    z->capacity = (uint32_t)(((size_t)page - sizeof(struct kvm_coalesced_mmio_ring)) /
                             sizeof(struct kvm_coalesced_mmio));
    z->head = __atomic_load_n(&z->ring->first, __ATOMIC_ACQUIRE) % z->capacity;
    z->stats.capacity = z->capacity;
    lab->zones = z;
    return 0;
}

/* ---------------------------------------------------------- drains -- */

static uint64_t load_le(const uint8_t *p, uint32_t n)
{
    uint64_t v = 0;
    for (uint32_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static struct zone *zone_at(struct zones *z, int pio, uint64_t addr, uint32_t len)
{
    for (int i = 0; i < MAX_ZONES; i++) {
        struct zone *zn = &z->zone[i];
        if (zn->used && zn->pio == pio && addr >= zn->addr && addr - zn->addr < zn->size &&
            len <= zn->size - (addr - zn->addr))
            return zn;
    }
    return NULL;
}

/*
 * One entry, copied out of the ring: count it for the slot that writes it
 * (any vCPU's: the ring does not say who wrote) and for its zone.
 */
static int count_entry(struct lab *lab, struct zones *z, const struct kvm_coalesced_mmio *e)
{
    uint32_t len = e->len;
    if (len != 1 && len != 2 && len != 4 && len != 8) {
        z->stats.bad_entries++;
        return -1;
    }
    int pio = e->pio != 0;
    uint64_t value = load_le(e->data, len);
    struct zone *zn = zone_at(z, pio, e->phys_addr, len);
    if (zn)
        zn->entries++;
    for (int i = 0; e->phys_addr <= UINT32_MAX && i < lab->nvcpus * MAX_SLOTS; i++) {
        struct slot *s = &lab->slots[i];
        if (s->defined && s->pio == pio && s->where == (uint32_t)e->phys_addr &&
            s->width == len && s->value == value) {
            __atomic_fetch_add(&s->entries, 1, __ATOMIC_RELAXED);
            return i;
        }
    }
    z->stats.stray_entries++;
    z->stats.stray_pio = pio;
    z->stats.stray_addr = e->phys_addr;
    z->stats.stray_len = len;
    z->stats.stray_value = value;
    return -1;
}

/*
 * Paced mode: how long an entry waited.  The guest publishes each paced ring
 * (guest_abi.h MB_WAKE: its slot and the guest TSC just before the write).
 * A drain that finds one entry alone times it when the record is complete,
 * new, and that entry's slot's: then the entry is that ring, and `seen`
 * (host TSC when this drain read `last`) on the guest's clock, less the
 * stamp, is its delay.  Entries found together are counted as not timed
 * (only the newest ring's stamp is published), so where drains find many
 * (drained at exits) the timed ones are few, and the counts say so.
 * `zmu` held.
 */
static int on_vcpu_thread(struct lab *lab)
{
    int me = my_tid();
    for (int k = 0; k < lab->nvcpus; k++)
        if (__atomic_load_n(&lab->vcpus[k].tid, __ATOMIC_ACQUIRE) == me)
            return 1;
    return 0;
}

static void delay_sample(struct lab *lab, struct zones *z, uint64_t seen, uint32_t found,
                         int newest)
{
    uint32_t seq = __atomic_load_n(guest_u32(lab, WAKE_SEQ), __ATOMIC_ACQUIRE);
    uint32_t done = __atomic_load_n(guest_u32(lab, WAKE_DONE), __ATOMIC_ACQUIRE);
    /* Caught between its write and marking it done: wait (up to ~50 µs) for the
     * guest to finish, unless this is a vCPU thread (its guest is not running). */
    uint64_t limit = seen + (uint64_t)lab->facts.tsc_khz * 50 / 1000;
    while (!(seq & 1) && done != seq && found == 1 && __rdtsc() < limit && !on_vcpu_thread(lab)) {
        sched_yield();
        seq = __atomic_load_n(guest_u32(lab, WAKE_SEQ), __ATOMIC_ACQUIRE);
        done = __atomic_load_n(guest_u32(lab, WAKE_DONE), __ATOMIC_ACQUIRE);
    }
    uint32_t slot = __atomic_load_n(guest_u32(lab, WAKE_SLOT), __ATOMIC_ACQUIRE);
    uint32_t stamp = __atomic_load_n(guest_u32(lab, WAKE_STAMP), __ATOMIC_ACQUIRE);
    int settled = !(seq & 1) && done == seq &&
                  __atomic_load_n(guest_u32(lab, WAKE_SEQ), __ATOMIC_ACQUIRE) == seq;
    if (!settled || found != 1 || newest < 0 || slot != (uint32_t)newest ||
        seq == z->delay_seq || seq == lab->wake_seq_base) {
        z->stats.delay_untimed += found;
        return;
    }
    int32_t cycles = (int32_t)((uint32_t)(seen + lab->tsc_offset) - stamp);
    if (cycles < 0) {
        z->stats.delay_negative++; /* the TSC mapping is wrong: never a sample */
        z->stats.delay_untimed += found;
        return;
    }
    z->delay_seq = seq;
    struct accum *acc = &z->delay[__atomic_load_n(&z->mode, __ATOMIC_RELAXED) ? 1 : 0];
    acc->samples++;
    acc->cycles += (uint32_t)cycles;
    acc->hist[lab_hist_bucket((uint32_t)cycles)]++;
    z->stats.delay_samples++;
}

/* Read every entry between our `first` and the ring's `last`; `zmu` held. */
static void drain_locked(struct lab *lab, struct zones *z)
{
    struct kvm_coalesced_mmio_ring *ring = z->ring;
    if (__atomic_load_n(&ring->first, __ATOMIC_RELAXED) != z->head) {
        z->stats.scribbled++;
        __atomic_store_n(&ring->first, z->head, __ATOMIC_RELEASE);
    }
    uint32_t last = __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE);
    if (last >= z->capacity) {
        z->stats.scribbled++;
        return;
    }
    uint64_t seen = __rdtsc(); /* when this drain saw the entries up to `last` */
    uint32_t found = 0;
    int newest = -1; /* the slot of the newest entry */
    while (z->head != last && found < z->capacity) {
        struct kvm_coalesced_mmio e;
        memcpy(&e, (const void *)&ring->coalesced_mmio[z->head], sizeof(e));
        newest = count_entry(lab, z, &e);
        z->head = (z->head + 1) % z->capacity;
        found++;
    }
    if (!found)
        return;
    if (__atomic_load_n(&lab->pace, __ATOMIC_ACQUIRE))
        delay_sample(lab, z, seen, found, newest);
    __atomic_store_n(&ring->first, z->head, __ATOMIC_RELEASE);
    z->stats.drains++;
    z->stats.entries += found;
    if (found > z->stats.found_max)
        z->stats.found_max = found;
    if (found == z->capacity - 1)
        z->stats.full_drains++;
}

void lab_zone_drain(struct lab *lab)
{
    struct zones *z = lab->zones;
    if (!z)
        return;
    pthread_mutex_lock(&z->zmu);
    drain_locked(lab, z);
    pthread_mutex_unlock(&z->zmu);
}

void lab_zone_drain_at_exit(struct lab *lab)
{
    struct zones *z = lab->zones;
    if (z && z->nzones && __atomic_load_n(&z->mode, __ATOMIC_RELAXED) == LAB_DRAIN_EXITS)
        lab_zone_drain(lab);
}

/* A zoned slot's write exited: the ring was full (or refused it). vCPU thread. */
void lab_zone_ring_full(struct lab *lab, struct slot *s)
{
    struct zones *z = lab->zones;
    __atomic_fetch_add(&s->ring_full, 1, __ATOMIC_RELAXED);
    struct zone *zn = z ? zone_at(z, s->pio, s->where, s->width) : NULL;
    if (zn)
        __atomic_fetch_add(&zn->ring_full, 1, __ATOMIC_RELAXED);
}

/* Quiescent (no vCPU can append): drain, and put a scribbled `last` back. */
void lab_zone_settle(struct lab *lab)
{
    struct zones *z = lab->zones;
    if (!z)
        return;
    pthread_mutex_lock(&z->zmu);
    drain_locked(lab, z);
    if (__atomic_load_n(&z->ring->last, __ATOMIC_ACQUIRE) != z->head) {
        __atomic_store_n(&z->ring->last, z->head, __ATOMIC_RELEASE);
        z->stats.repaired++;
    }
    pthread_mutex_unlock(&z->zmu);
}

/* The ring cost of zoned writes of `kind` in `mode` (NULL: none yet); `mu` held. */
struct accum *lab_zone_accum(struct lab *lab, int kind, int mode)
{
    if (!lab->zones || kind < 0 || kind >= NKINDS || mode < 0 || mode >= LAB_MODES)
        return NULL;
    return &lab->zones->path[kind][mode];
}

/* Counters were zeroed (quiescent, `mu` held, the ring drained). */
void lab_zone_reset(struct lab *lab)
{
    struct zones *z = lab->zones;
    for (int i = 0; i < NSLOTS_ALL; i++) {
        struct slot *s = &lab->slots[i];
        __atomic_store_n(&s->entries, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&s->ring_full, 0, __ATOMIC_RELAXED);
        s->rings_zone = 0;
    }
    if (!z)
        return;
    pthread_mutex_lock(&z->zmu);
    for (int i = 0; i < MAX_ZONES; i++) {
        z->zone[i].entries = 0;
        __atomic_store_n(&z->zone[i].ring_full, 0, __ATOMIC_RELAXED);
    }
    int mode = z->stats.mode;
    memset(&z->stats, 0, sizeof(z->stats));
    z->stats.capacity = z->capacity;
    z->stats.mode = mode;
    memset(z->path, 0, sizeof(z->path));
    memset(z->delay, 0, sizeof(z->delay));
    pthread_mutex_unlock(&z->zmu);
}

/* ------------------------------------------------- the drain thread -- */

static void *drain_main(void *arg)
{
    struct lab *lab = arg;
    struct zones *z = lab->zones;
    struct timespec nap = {0, DRAIN_PERIOD_NS};
    /* The VMM's side, as the reader is: pinned with it (lab_pin re-pins it). */
    lab_apply_pin(pthread_self(), __atomic_load_n(&lab->pin_reader, __ATOMIC_RELAXED));
    while (!__atomic_load_n(&z->thread_stop, __ATOMIC_ACQUIRE)) {
        /* No zone, nothing to drain: do not take the locks 10,000 times a second. */
        if (__atomic_load_n(&z->nzones, __ATOMIC_RELAXED))
            lab_zone_drain(lab);
        nanosleep(&nap, NULL);
    }
    return NULL;
}

int lab_zone_pin(struct lab *lab, int cpu)
{
    struct zones *z = lab->zones;
    return z && z->thread_up ? lab_apply_pin(z->thread, cpu) : 0;
}

static void thread_stop(struct zones *z)
{
    if (!z->thread_up)
        return;
    __atomic_store_n(&z->thread_stop, 1, __ATOMIC_RELEASE);
    pthread_join(z->thread, NULL);
    z->thread_up = 0;
}

int lab_ring_set_drain(struct lab *lab, int mode)
{
    if (mode != LAB_DRAIN_EXITS && mode != LAB_DRAIN_THREAD)
        return -EINVAL;
    if (!lab_quiescent(lab))
        return -EBUSY;
    int stage = 0;
    int err = zones_open(lab, 0, &stage);
    if (err)
        return err;
    struct zones *z = lab->zones;
    if (mode == LAB_DRAIN_THREAD && !z->thread_up) {
        z->thread_stop = 0;
        err = -pthread_create(&z->thread, NULL, drain_main, lab);
        if (err)
            return err;
        z->thread_up = 1;
    } else if (mode == LAB_DRAIN_EXITS) {
        thread_stop(z);
    }
    __atomic_store_n(&z->mode, mode, __ATOMIC_RELAXED);
    pthread_mutex_lock(&z->zmu);
    z->stats.mode = mode;
    pthread_mutex_unlock(&z->zmu);
    return 0;
}

void lab_zone_free(struct lab *lab)
{
    struct zones *z = lab->zones;
    if (!z)
        return;
    thread_stop(z);
    for (int i = 0; i < MAX_ZONES; i++) {
        struct zone *zn = &z->zone[i];
        if (!zn->used)
            continue;
        struct kvm_coalesced_mmio_zone kz = {.addr = zn->addr, .size = zn->size, .pio = zn->pio};
        (void)ioctl(lab->vm, KVM_UNREGISTER_COALESCED_MMIO, &kz);
    }
    pthread_mutex_destroy(&z->zmu);
    free(z);
    lab->zones = NULL;
}

/* ------------------------------------------------------------ zones -- */

int lab_zone_add(struct lab *lab, int pio, uint64_t addr, uint32_t size, int *zone_id, int *stage)
{
    *stage = 0;
    *zone_id = -1;
    if (size == 0 || (pio && (addr > 0xffff || size > 0x10000 - addr)) ||
        (!pio && addr + size < addr))
        return -EINVAL;
    if (!lab_quiescent(lab))
        return -EBUSY;
    pthread_mutex_lock(&lab->mu);
    int err = zones_open(lab, pio, stage);
    struct zones *z = lab->zones;
    int id = -1;
    for (int i = 0; !err && i < MAX_ZONES && id < 0; i++)
        if (!z->zone[i].used)
            id = i;
    if (!err && id < 0) {
        *stage = LAB_ZONE_TABLE;
        err = -ENOSPC;
    }
    if (!err) {
        struct kvm_coalesced_mmio_zone kz = {.addr = addr, .size = size, .pio = pio ? 1 : 0};
        if (ioctl(lab->vm, KVM_REGISTER_COALESCED_MMIO, &kz) < 0) {
            *stage = LAB_ZONE_IOCTL;
            err = -errno;
        }
    }
    if (!err) {
        pthread_mutex_lock(&z->zmu);
        z->zone[id] = (struct zone){.used = 1, .pio = pio ? 1 : 0, .addr = addr, .size = size};
        z->nzones++;
        pthread_mutex_unlock(&z->zmu);
        *zone_id = id;
    }
    pthread_mutex_unlock(&lab->mu);
    return err;
}

static struct zone *zone_get(struct lab *lab, int id)
{
    if (!lab->zones || id < 0 || id >= MAX_ZONES || !lab->zones->zone[id].used)
        return NULL;
    return &lab->zones->zone[id];
}

/* Quiescent: drain first, so the zone's last entries are counted, then unregister. */
int lab_zone_remove(struct lab *lab, int zone_id, struct lab_zone_stats *final)
{
    if (!lab_quiescent(lab))
        return -EBUSY;
    pthread_mutex_lock(&lab->mu);
    struct zone *zn = zone_get(lab, zone_id);
    if (!zn) {
        pthread_mutex_unlock(&lab->mu);
        return -ENOENT;
    }
    struct zones *z = lab->zones;
    struct kvm_coalesced_mmio_zone kz = {.addr = zn->addr, .size = zn->size, .pio = zn->pio};
    int err = ioctl(lab->vm, KVM_UNREGISTER_COALESCED_MMIO, &kz) < 0 ? -errno : 0;
    if (err) { /* the kernel keeps the zone: so do we, or its entries would turn stray */
        pthread_mutex_unlock(&lab->mu);
        return err;
    }
    pthread_mutex_lock(&z->zmu);
    drain_locked(lab, z); /* after the kernel let go of it: nothing more can land */
    if (final) {
        final->entries = zn->entries;
        final->ring_full = __atomic_load_n(&zn->ring_full, __ATOMIC_RELAXED);
    }
    memset(zn, 0, sizeof(*zn));
    z->nzones--;
    pthread_mutex_unlock(&z->zmu);
    pthread_mutex_unlock(&lab->mu);
    return err;
}

int lab_zone_read(struct lab *lab, const int *ids, int n, struct lab_zone_stats *out)
{
    if (n < 0 || n > MAX_ZONES || (n && (!ids || !out)))
        return -EINVAL;
    struct zones *z = lab->zones;
    if (z)
        pthread_mutex_lock(&z->zmu);
    for (int i = 0; i < n; i++) {
        struct zone *zn = zone_get(lab, ids[i]);
        out[i].entries = zn ? zn->entries : 0;
        out[i].ring_full = zn ? __atomic_load_n(&zn->ring_full, __ATOMIC_RELAXED) : 0;
    }
    if (z)
        pthread_mutex_unlock(&z->zmu);
    return n;
}

int lab_ring_read(struct lab *lab, struct lab_ring_stats *out)
{
    struct zones *z = lab->zones;
    memset(out, 0, sizeof(*out));
    if (!z)
        return 0;
    pthread_mutex_lock(&z->zmu);
    *out = z->stats;
    pthread_mutex_unlock(&z->zmu);
    return 0;
}

/* Test hook: write the ring's `first` and `last`, as a misbehaving peer would. */
int lab_ring_scribble(struct lab *lab, uint32_t first, uint32_t last)
{
    struct zones *z = lab->zones;
    if (!z)
        return -ENOENT;
    __atomic_store_n(&z->ring->first, first, __ATOMIC_RELEASE);
    __atomic_store_n(&z->ring->last, last, __ATOMIC_RELEASE);
    return 0;
}

int lab_ring_delay_hist(struct lab *lab, int mode, uint64_t *out, int n)
{
    struct zones *z = lab->zones;
    if (mode != LAB_DRAIN_EXITS && mode != LAB_DRAIN_THREAD)
        return -EINVAL;
    if (n > HIST_BUCKETS)
        n = HIST_BUCKETS;
    if (!z) {
        for (int b = 0; b < n; b++)
            out[b] = 0;
        return n;
    }
    pthread_mutex_lock(&z->zmu);
    for (int b = 0; b < n; b++)
        out[b] = z->delay[mode].hist[b];
    pthread_mutex_unlock(&z->zmu);
    return n;
}
