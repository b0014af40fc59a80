/*
 * The doorbell lab: one KVM VM with one or two vCPUs running the doorbell
 * guest, ioeventfd registrations, and the counters that account for every ring.
 *
 * Slots are numbered across vCPUs: slot s belongs to vCPU s / MAX_SLOTS and
 * is that vCPU's counter page s % MAX_SLOTS.
 *
 * Threads: each vCPU thread runs KVM_RUN and counts its userspace exits; the
 * consumer thread reads the eventfds (epoll) and folds the guest's counter
 * pages.  Callers (Python, GIL released) only take short locks.
 *
 * Every function returns 0 (or a count) on success and -errno on failure.
 * The part between the cdef markers is what cffi sees; the C behind it is
 * split by what it holds (vm.c, vcpu.c, eventfds.c, counters.c, plan.c, and
 * lab_internal.h, which they share).
 */
#ifndef IOFDTUI_LAB_H
#define IOFDTUI_LAB_H

#include <stdint.h>

/* cdef-begin */
struct lab;

/* Where lab_create failed, for an error message a person can act on. */
enum lab_stage {
    LAB_STAGE_NONE = 0,
    LAB_STAGE_OPEN = 1,        /* open("/dev/kvm") */
    LAB_STAGE_API = 2,         /* KVM_GET_API_VERSION; detail = version */
    LAB_STAGE_CAP = 3,         /* KVM_CHECK_EXTENSION; detail = capability */
    LAB_STAGE_VM = 4,          /* KVM_CREATE_VM */
    LAB_STAGE_MEMORY = 5,      /* guest RAM or KVM_SET_USER_MEMORY_REGION */
    LAB_STAGE_VCPU = 6,        /* KVM_CREATE_VCPU or mapping kvm_run */
    LAB_STAGE_REGS = 7,        /* KVM_SET_SREGS / KVM_SET_REGS */
    LAB_STAGE_THREADS = 8,     /* eventfd, epoll or pthread_create */
    LAB_STAGE_IMAGE = 9,       /* the built-in guest image is unusable */
    LAB_STAGE_VCPUS = 10,      /* too many vCPUs asked; detail = KVM_CAP_MAX_VCPUS */
};

/* Where lab_assign failed. */
enum lab_assign_stage {
    LAB_ASSIGN_EVENTFD = 1,
    LAB_ASSIGN_IOCTL = 2,
    LAB_ASSIGN_EPOLL = 3,
    LAB_ASSIGN_TABLE = 4,
};

enum lab_vstate {
    LAB_IDLE = 0,      /* created, vCPU not started */
    LAB_RUNNING = 1,
    LAB_PARKED = 2,    /* the guest is parked at a quiescent point */
    LAB_FAULTED = 3,   /* see lab_fault() */
};

/* How the eventfds are read: the reader mode. */
enum lab_consumer_mode {
    LAB_CONSUMER_EPOLL = 0,  /* a thread blocks in epoll_wait (QEMU iothreads, vhost) */
    LAB_CONSUMER_POLL = 1,   /* a thread busy-polls every eventfd (vhost busy-poll, SPDK) */
    LAB_CONSUMER_NONE = 2,   /* nobody waits: readings and pauses drain them (pci-testdev) */
    LAB_READERS = 3,
};

/*
 * Ring-cost figures are kept per mode: the reader in force, and whether the
 * plan was paced (a paced visit is one ring: the isolated kick).  Each
 * epoch's samples go to the mode in force during it.
 */
enum lab_mode {
    LAB_MODE_CURRENT = -1,
    LAB_MODES = 2 * LAB_READERS, /* mode = paced * LAB_READERS + reader */
};

struct lab_facts {
    int api_version;
    uint32_t tsc_khz;          /* 0 when KVM_GET_TSC_KHZ is unavailable */
    int cap_any_length;        /* KVM_CAP_IOEVENTFD_ANY_LENGTH */
    int cap_no_length;         /* KVM_CAP_IOEVENTFD_NO_LENGTH */
    int tsc_offset_ok;         /* KVM_VCPU_TSC_OFFSET was read */
    int tsc_offset_errno;      /* why not */
    uint64_t tsc_offset;       /* guest TSC = host TSC + tsc_offset */
    uint32_t tsc_offset_changes; /* seen to move between pauses */
    int irqchip;               /* an in-kernel irqchip was asked for and made */
    int irqchip_missing;       /* else 1 + the index in (IRQCHIP, IRQFD, IRQ_ROUTING, SIGNAL_MSI)
                                * of the first capability absent (KVM_CAP_IRQCHIP is 0) */
    int irqchip_errno;         /* or why KVM_CREATE_IRQCHIP failed */
};

/*
 * Wake-up latency of one registration (paced mode), in signals: each signal
 * read while paced is a sample or is counted under exactly one reason.
 */
struct lab_wake_stats {
    uint64_t samples;
    uint64_t coalesced;    /* read together with another signal */
    uint64_t raced;        /* a reading drained the eventfd since the consumer's last read */
    uint64_t foreign;      /* the last ring made was not this registration's */
    uint64_t unpublished;  /* the guest's ring record did not settle within ~1 ms */
    uint64_t negative;     /* before the guest's stamp: the TSC mapping is wrong */
    uint64_t elsewhere;    /* read by a reading or a pause, not by the consumer */
};

/* Host-side totals for one slot of the ring plan (widened, cumulative). */
struct lab_slot_stats {
    uint64_t rings;        /* counted by the guest after each visit's writes */
    uint64_t issued;       /* announced by the guest before them (>= rings) */
    uint64_t exits;        /* userspace exits the vCPU thread saw for it */
    uint64_t rings_user;   /* rings while its route was the userspace path */
    uint64_t samples;      /* timed visits */
    uint64_t cycles;       /* sum over timed visits of cycles per ring */
    uint64_t entries;      /* coalesced ring entries that match it (any vCPU's: see coalesced.c) */
    uint64_t ring_full;    /* its exits while zoned: the ring was full */
    uint64_t rings_zone;   /* rings while its route was a coalesced zone */
};

/* One latency path: a registration, a userspace-exit kind, or the timer. */
struct lab_path_stats {
    uint64_t signals;      /* eventfd counter sum (registrations only, every mode) */
    uint64_t rings;        /* guest rings attributed to this path */
    uint64_t samples;      /* timed visits */
    uint64_t cycles;       /* sum over them of cycles per ring */
    uint64_t loop_cycles;  /* LAB_PATH_CAL only: guest cycles between visits */
    uint64_t reads;        /* registrations: reader reads that returned signals */
};

/* The reader thread's returns from epoll_wait and the vCPU threads' ids. */
struct lab_threads {
    uint64_t reader_wakeups;   /* returns that carried at least one eventfd */
    int reader_tid;            /* 0 when not running */
    int vcpu_tids[2];          /* MAX_VCPUS (checked in vcpu.c); 0: not running */
};

struct lab_health {
    int state;                 /* enum lab_vstate */
    uint64_t forced_parks;     /* pauses that needed a kick: counts may be off by one (`ctl`) */
    uint64_t unsolicited_parks;
    uint64_t stray_exits;      /* userspace exits that match no slot */
    uint32_t stray_port;       /* the last stray: bus, address, width, value */
    int stray_pio;
    uint32_t stray_width;
    uint64_t stray_value;
    uint32_t garbage_pages;    /* counter pages inconsistent at the last quiescent check */
    uint64_t control_outs;     /* OUTs to the park and fault ports */
};

enum lab_path_kind {
    LAB_PATH_SLOT = 0,     /* id = slot index: every timed ring of the slot */
    LAB_PATH_REG = 1,      /* id = registration id */
    LAB_PATH_USER = 2,     /* id = kind: rings that exited to userspace */
    LAB_PATH_CAL = 3,      /* the empty timed window */
    LAB_PATH_WAKE = 4,     /* id = registration id: wake-up latency (paced mode) */
    LAB_PATH_ZONE = 5,     /* id = kind: rings that went to a coalesced ring */
};

int lab_create(struct lab **out, int vcpus, int *stage, int64_t *detail);
/* lab_create with an in-kernel irqchip when `irqchip` and the kernel has one
 * (see lab_facts: irqchip, irqchip_missing); the lab works either way. */
int lab_create_with(struct lab **out, int vcpus, int irqchip, int *stage, int64_t *detail);
void lab_destroy(struct lab *lab);
int lab_facts(struct lab *lab, struct lab_facts *out);

int lab_start(struct lab *lab, int entry);
int lab_pause(struct lab *lab, int timeout_ms);
int lab_resume(struct lab *lab);
int lab_stop(struct lab *lab);
int lab_state(struct lab *lab);
int lab_fault(struct lab *lab, char *buf, int len);
/* Paused or idle: the change starts an epoch. */
int lab_set_consumer_mode(struct lab *lab, int mode);
/* Pin the vCPU threads to CPU `vcpu_cpu` and the reader to `reader_cpu`
 * (now and at every start); -1, -1 unpins. */
int lab_pin(struct lab *lab, int vcpu_cpu, int reader_cpu);
int lab_threads(struct lab *lab, struct lab_threads *out);
/* Paced ring plan (vCPU 0 only): one ring per visit, `cycles` of guest TSC apart (0: off).
 * Paused or idle. */
int lab_set_pace(struct lab *lab, uint32_t cycles);

/* Ring plan: define slots, then say which are rung, in order. Paused or idle.
 * lab_set_plan takes the slots of `vcpu` only. */
int lab_define_slot(struct lab *lab, int slot, uint32_t kind, uint32_t where,
                    uint64_t value, struct lab_slot_stats *final);
int lab_clear_slot(struct lab *lab, int slot, struct lab_slot_stats *final);
int lab_set_plan(struct lab *lab, int vcpu, const int *slots, const uint32_t *iters, int n);
int lab_set_route(struct lab *lab, int slot, int reg_id);
int lab_set_bare(struct lab *lab, uint32_t where, uint64_t value);
int lab_scribble(struct lab *lab, uint32_t seed);
int lab_poke(struct lab *lab, uint32_t gpa, uint32_t value);
int lab_peek(struct lab *lab, uint32_t gpa, uint32_t *value);

int lab_assign(struct lab *lab, int pio, uint64_t addr, uint32_t len,
               int datamatch, uint64_t value, int *reg_id, int *efd, int *stage);
int lab_deassign(struct lab *lab, int reg_id, struct lab_path_stats *final);

int lab_read_slots(struct lab *lab, struct lab_slot_stats *out, int n);
/* `wakes` (may be NULL): each registration's wake-up figures under the reader
 * in force, taken under the same lock as its signals, so they add up. */
int lab_read_live(struct lab *lab, struct lab_slot_stats *out, int n, const int *reg_ids,
                  uint64_t *signals, struct lab_wake_stats *wakes, int nregs);
/* Every listed registration's path in every mode, in one locked pass:
 * out[i * LAB_MODES + mode] for ids[i] (zeros for an id that is gone). */
int lab_read_regs(struct lab *lab, const int *ids, int n, struct lab_path_stats *out);
/* `mode`: enum lab_mode (LAB_PATH_SLOT ignores it; LAB_PATH_WAKE takes a reader). */
int lab_read_path(struct lab *lab, int kind, int id, int mode, struct lab_path_stats *out);
int lab_read_hist(struct lab *lab, int kind, int id, int mode, uint64_t *out, int n);
int lab_read_health(struct lab *lab, struct lab_health *out);
int lab_reset_counters(struct lab *lab);
/* One vCPU's KVM binary stats fd (KVM_GET_STATS_FD, opened at create); -1 when
 * the kernel has none.  The lab owns it: read it, never close it. */
int lab_vcpu_stats_fd(struct lab *lab, int vcpu);
int lab_quantiles(struct lab *lab, int kind, int id, int mode, const double *q, int nq,
                  double *out);
/* Quantiles of many paths of one kind in one locked pass: for ids[i] and
 * modes[m], out[(i * nmodes + m) * nq + j] is quantile q[j] of that path's
 * histogram, or -1 when it has no samples (or the id is gone).  `modes` are
 * enum lab_mode values (LAB_MODE_CURRENT allowed), as for lab_quantiles.
 * -EINVAL for an unknown kind or mode, a negative or absurd size. */
int lab_quantiles_many(struct lab *lab, int kind, const int *ids, int n, const int *modes,
                       int nmodes, const double *q, int nq, double *out);
double lab_hist_value(int bucket);

/* The round trip (roundtrip.c, guest_abi.h RT_*): kick -> completion interrupt. */
struct lab_rt_stats {
    uint64_t kicks;             /* the guest's */
    uint64_t handler_runs;      /* the guest's handler for the completion's vector */
    uint64_t other_irqs;        /* the guest's handler for any other vector */
    uint64_t signals;           /* eventfd counts the device thread read */
    uint64_t reads;             /* its reads that returned signals */
    uint64_t coalesced;         /* signals read together with another (one completion for both) */
    uint64_t completions;       /* irqfd writes, or KVM_SIGNAL_MSI deliveries */
    uint64_t completion_errors; /* writes or ioctls that failed */
    uint64_t merged;            /* KVM_SIGNAL_MSI returned 0: blocked, already pending */
    uint64_t user_exits;        /* kicks that exited to userspace (the user path) */
    uint64_t resamples;         /* resamplefd signals: the guest EOI'd the level interrupt (pin route) */
};
/* Idle, one vCPU, a lab made with an irqchip (-ENOTSUP otherwise).  `path`:
 * RT_PATH_*; `route`: RT_ROUTE_MSI, or RT_ROUTE_PIN (IOAPIC pin 10, level: on the ioeventfd
 * path an irqfd with KVM_IRQFD_FLAG_RESAMPLE, on the user path KVM_IRQ_LINE up then down
 * before re-entry); `mmio`: the kick is a 4-byte MMIO write (RT_MMIO), else an OUT (RT_PORT);
 * `reader`: LAB_CONSUMER_EPOLL or _POLL; `work_cycles`: TSC cycles
 * the device spins before it answers.  Then lab_start(lab, ENTRY_ROUNDTRIP). */
int lab_rt_setup(struct lab *lab, int path, int mmio, int route, int reader, uint32_t vector,
                 uint32_t work_cycles);
/* Parked or idle: stop the device thread, deassign the irqfd (KVM_IRQFD_FLAG_DEASSIGN)
 * and the ioeventfd; -errno when a deassign failed (everything is freed anyway). */
int lab_rt_teardown(struct lab *lab);
/* Test hook: 0, RT_SKIP_EOI or RT_MASK_LAPIC (guest_abi.h). */
int lab_rt_misbehave(struct lab *lab, int how);
int lab_rt_read(struct lab *lab, struct lab_rt_stats *out);
int lab_rt_records(struct lab *lab, uint32_t *out, int n);
/* Completions on the lab's registrations (completions.c, guest_abi.h CPL_*). */
enum lab_cpl_route {
    LAB_CPL_NONE = 0,
    LAB_CPL_MSI = 1,   /* an MSI with a vector of its own (virtio-pci, vhost) */
    LAB_CPL_PIN = 2,   /* an IOAPIC pin, level, KVM_IRQFD_FLAG_RESAMPLE (VFIO INTx) */
};
enum lab_cpl_stage {
    LAB_CPL_AWAKE = 0,   /* kick -> reader awake */
    LAB_CPL_WRITTEN = 1, /* reader awake -> irqfd written (the device work) */
    LAB_CPL_HANDLER = 2, /* irqfd written -> the guest's handler entered */
    LAB_CPL_TOTAL = 3,   /* kick -> handler: the round trip */
    LAB_CPL_STAGES = 4,
};
struct lab_cpl_stats {
    int32_t route, target, vector, gsi;
    uint64_t kicks;         /* signals read since the completion was attached */
    uint64_t writes;        /* irqfd writes */
    uint64_t write_errors;
    uint64_t merged;        /* signals read together with another: one completion answered both */
    uint64_t handler_runs;  /* the guest's handler took its vector */
    uint64_t resamples;     /* pin route: the resamplefd's count (the guest EOI'd) */
    uint64_t samples;       /* kicks timed per stage */
    uint64_t negative;      /* records with a stage before its start: the clock mapping is wrong */
    uint64_t unrecorded;    /* lab-wide: records overwritten before they were folded */
    uint64_t work_cycles;   /* this completion's device work */
    int32_t kicker;         /* the vCPU whose kicks wait for it (the one that rings it) */
    uint64_t runs_on[2];    /* handler runs per vCPU (MAX_VCPUS): where the interrupt landed */
};
/* Paused or idle, a lab made with an irqchip (-ENOTSUP), rung by one vCPU's plan at most
 * (-EXDEV: one kick in flight needs one kicker); `target`: the vCPU the interrupt goes to.
 * `route` LAB_CPL_NONE takes it away (KVM_IRQFD_FLAG_DEASSIGN: -errno when that
 * failed; lab_deassign does the same).  -ENOSPC: no vector (128) or pin (8) free. */
int lab_set_completion(struct lab *lab, int reg_id, int route, int target);
/* TSC cycles the reader spins before each answer (a device that computes): every
 * completion's, and the work a completion starts with. */
int lab_set_device_work(struct lab *lab, uint32_t cycles);
/* The same for one registration's completion only; -ENOENT: it has none. */
int lab_set_cpl_work(struct lab *lab, int reg_id, uint32_t cycles);
/* -ENOENT when the registration has no completion. */
int lab_read_completion(struct lab *lab, int reg_id, struct lab_cpl_stats *out);
/* Quantiles of one stage, in TSC cycles (-1: no samples). */
int lab_cpl_quantiles(struct lab *lab, int reg_id, int stage, const double *q, int nq, double *out);
int lab_cpl_mean(struct lab *lab, int reg_id, int stage, double *out);
/* Test hook: every vCPU's handler from now on does 0 (behave), RT_SKIP_EOI or RT_MASK_LAPIC. */
int lab_cpl_misbehave(struct lab *lab, int how);

/* Coalesced MMIO/PIO zones (coalesced.c). */
enum lab_zone_route {
    LAB_ROUTE_ZONE = -2,   /* lab_set_route: the slot's writes land in a coalesced zone */
};
enum lab_zone_stage {
    LAB_ZONE_CAP_MMIO = 1, /* KVM_CAP_COALESCED_MMIO missing (or its page not mapped) */
    LAB_ZONE_CAP_PIO = 2,  /* KVM_CAP_COALESCED_PIO missing */
    LAB_ZONE_IOCTL = 3,    /* KVM_REGISTER_COALESCED_MMIO refused */
    LAB_ZONE_TABLE = 4,    /* no room for another zone */
};
enum lab_drain_mode {
    LAB_DRAIN_EXITS = 0,   /* the vCPU thread drains at every userspace exit (VMMs) */
    LAB_DRAIN_THREAD = 1,  /* a thread drains every 100 µs */
};
struct lab_zone_stats {
    uint64_t entries;      /* ring entries inside the zone */
    uint64_t ring_full;    /* writes inside it that found the ring full and exited */
};
struct lab_ring_stats {
    uint64_t drains;        /* drains that found at least one entry */
    uint64_t entries;       /* entries they read */
    uint64_t found_max;     /* the most one drain found */
    uint64_t full_drains;   /* drains that found the ring full */
    uint64_t stray_entries; /* entries that match no slot; the last one: */
    uint64_t stray_addr;
    uint64_t stray_value;
    uint32_t stray_len;
    int stray_pio;
    uint64_t bad_entries;   /* entries with an impossible length */
    uint64_t scribbled;     /* drains that found `first` or `last` out of place */
    uint64_t repaired;      /* pauses that put a scribbled `last` back */
    uint32_t capacity;      /* entries the ring holds (one always stays empty) */
    int mode;               /* enum lab_drain_mode */
    uint64_t delay_samples; /* paced: entries whose wait was timed (a drain found them alone) */
    uint64_t delay_untimed; /* paced: entries drained without a timing */
    uint64_t delay_negative; /* drains whose timing came out negative: the TSC mapping is wrong */
};
/* Quiescent.  `stage`: enum lab_zone_stage on failure. */
int lab_zone_add(struct lab *lab, int pio, uint64_t addr, uint32_t size, int *zone_id, int *stage);
/* Quiescent: drains, unregisters, and returns the zone's final counts. */
int lab_zone_remove(struct lab *lab, int zone_id, struct lab_zone_stats *final);
int lab_zone_read(struct lab *lab, const int *ids, int n, struct lab_zone_stats *out);
int lab_ring_read(struct lab *lab, struct lab_ring_stats *out);
/* Quiescent: enum lab_drain_mode. */
int lab_ring_set_drain(struct lab *lab, int mode);
/* The delivery delay's histogram (TSC cycles, HIST_BUCKETS buckets) under a drain mode. */
int lab_ring_delay_hist(struct lab *lab, int mode, uint64_t *out, int n);
/* Test hook: write the ring's first and last, as a misbehaving peer would. */
int lab_ring_scribble(struct lab *lab, uint32_t first, uint32_t last);
/* cdef-end */

#endif
