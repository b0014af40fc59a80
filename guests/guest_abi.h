/*
 * The contract between the host engine and the doorbell guest: guest-physical
 * layout, mailbox fields and counter pages.  Plain #defines only, so both the
 * guest assembly (through cpp) and the engine's C include this one file.
 *
 * Direction of trust: the host writes the mailbox while the guest is parked;
 * the guest writes its counter pages.  The host never follows a pointer,
 * index or length it reads from guest RAM.
 */
#ifndef IOFDTUI_GUEST_ABI_H
#define IOFDTUI_GUEST_ABI_H

#define GUEST_RAM_SIZE    0x100000 /* 1 MiB at gpa 0; doorbells live above it */
#define GUEST_STACK_TOP   0x7000
#define GUEST_VARS        0x7000   /* the guest's own scratch variables */
#define GUEST_CODE        0x8000   /* the image is loaded here */
#define GUEST_CODE_MAX    0x8000   /* bytes available for the image */

/*
 * Two vCPUs: each one's per-vCPU memory (mailbox, scratch variables, wake
 * record, counter pages) is reached through FS, whose base the host sets to
 * vcpu * VCPU_AREA (KVM_SET_SREGS).  Every address below is an offset in
 * that area; vCPU 0's area starts at 0, so one vCPU sees today's layout.
 * vCPU 1's area (0x40000..0x72000) sits above vCPU 0's counter pages
 * (..0x32000) and never reaches the code (0x8000..0x10000, DS only).
 */
#define MAX_VCPUS         2
#define VCPU_AREA         0x40000

/* Mailbox: host -> guest (plus the guest's handshake fields). */
#define MB_BASE           0x1000
#define MB_MAGIC          (MB_BASE + 0x00)
#define MB_CMD            (MB_BASE + 0x04) /* CMD_* */
#define MB_PAUSE_SEQ      (MB_BASE + 0x08) /* host bumps it to ask for a park */
#define MB_ACK_SEQ        (MB_BASE + 0x0c) /* guest copies it, then parks */
#define MB_NSLOTS         (MB_BASE + 0x10) /* slots rung each round */
#define MB_ROUNDS         (MB_BASE + 0x14) /* guest heartbeat (the host does not read it) */
#define MB_SEED           (MB_BASE + 0x18) /* seed for CMD_SCRIBBLE */
#define MB_PACE           (MB_BASE + 0x1c) /* 0, or TSC cycles between paced rings */
#define MB_SLOTS          (MB_BASE + 0x20)
#define MB_BARE           (MB_BASE + 0x400) /* where/value for the bare loops */

/*
 * Paced mode (MB_PACE != 0): one ring per visit, at most one per period, and
 * the guest publishes each ring as a seqlock: WAKE_SEQ odd while it writes
 * WAKE_SLOT and WAKE_STAMP, even once they hold the ring about to be made,
 * and WAKE_DONE = WAKE_SEQ once the write has been made.  The stamp is the
 * low 32 bits of the guest TSC, four instructions before the write.
 */
#define MB_WAKE           (MB_BASE + 0x600)
#define WAKE_SEQ          (MB_WAKE + 0x0)
#define WAKE_DONE         (MB_WAKE + 0x4)
#define WAKE_SLOT         (MB_WAKE + 0x8)  /* counter page (host slot) index */
#define WAKE_STAMP        (MB_WAKE + 0xc)

#define MB_MAGIC_VALUE    0x44464f49 /* "IOFD" */
#define CMD_RUN           0
#define CMD_SCRIBBLE      1 /* test hook: the guest fills its counters with garbage */

/* One ring-plan slot in the mailbox. */
#define SLOT_SIZE         32
#define SLOT_SHIFT        5
#define SLOT_KIND         0  /* KIND_* */
#define SLOT_WHERE        4  /* port or guest-physical address */
#define SLOT_VALUE_LO     8
#define SLOT_VALUE_HI     12
#define SLOT_ITERS        16 /* blocks of RING_UNROLL rings, then one more ring */
#define SLOT_CTR          20 /* counter page index, < MAX_SLOTS */
#define SLOT_VECTOR       24 /* KIND_CPL: the completion's vector, 32..255 */
#define SLOT_TARGET       28 /* KIND_CPL: the vCPU its interrupt goes to */
#define MAX_SLOTS         16
#define MAX_ITERS         4096
#define RING_UNROLL       16 /* rings per unrolled block */

/* The seven doorbell writes an x86 guest can make. */
#define KIND_PIO1         0
#define KIND_PIO2         1
#define KIND_PIO4         2
#define KIND_MMIO1        3
#define KIND_MMIO2        4
#define KIND_MMIO4        5
#define KIND_MMIO8        6
#define NKINDS            7
/* KIND_PACED + KIND_*: the same write, paced (see MB_PACE); the host writes
 * these into the plan, so the visit path never tests whether it is paced. */
#define KIND_PACED        NKINDS
/* KIND_CPL + KIND_*: the same write, once a visit, then a wait for its
 * registration's completion interrupt (see CPL_*); also written by the host. */
#define KIND_CPL          (2 * NKINDS)
#define NPLANKINDS        (3 * NKINDS)

/* Counter pages: guest -> host.  u32 counters that wrap; the host widens them. */
#define CTR_BASE          0x10000
#define CTR_STRIDE        0x2000
#define CTR_SHIFT         13
#define CTR_CAL           MAX_SLOTS /* the empty timed window (timer overhead), and CTR_LOOP */
#define CTR_COUNT         (MAX_SLOTS + 1)
#define CTR_RINGS         0
#define CTR_SAMPLES       4  /* timed visits */
#define CTR_CYCLES        8  /* sum over timed visits of cycles per ring */
#define CTR_ISSUED        12 /* rings announced before a visit's writes, so the
                              * host can bracket live counts: done <= counted <= issued */
#define CTR_LOOP          16 /* CAL page only: cycles spent between visits (the
                              * loop's own overhead), parks excluded */
#define CTR_HIST          32
/* Log-linear histogram of a visit's cycles per ring: values below 128 exact,
 * then 64 sub-buckets per power of two (1.6 % wide), up to 2^32. */
#define HIST_SUB_BITS     6
#define HIST_BUCKETS      1728

/* Control ports the host never registers. */
#define PARK_PORT         0x0510 /* guest parks here after acknowledging a pause */
#define FAULT_PORT        0x0511 /* guest found its plan unusable; al says why */
#define FAULT_BAD_KIND    1
#define FAULT_BAD_SLOT    2

/* Image header: a table of entry points at the image's start. */
#define ENTRY_LAB         0
#define ENTRY_BARE        1 /* ENTRY_BARE + KIND_* */
#define ENTRY_ROUNDTRIP   (ENTRY_BARE + NKINDS) /* the kick -> interrupt loop (vCPU 0) */
#define ENTRY_COUNT       (ENTRY_ROUNDTRIP + 1)

/*
 * The round trip (ENTRY_ROUNDTRIP, vCPU 0 only, a VM with an in-kernel
 * irqchip): the guest kicks, waits with `hlt` for the completion interrupt,
 * and records each kick in a ring of RT_RECORDS records of four guest-TSC
 * stamps (low 32 bits): the kick, the host's reader awake, the host's irqfd
 * (or KVM_SIGNAL_MSI) write, the handler's entry.  The kick's number
 * (RT_KICKS before it, mod RT_RECORDS) picks the record; RT_BUS says whether
 * the kick is an OUT or a 4-byte MMIO write; the host picks the
 * same one from its own count, which agrees while the accounting is exact.
 */
#define RT_BASE           0x4000
#define RT_PATH           (RT_BASE + 0x00) /* RT_PATH_* */
#define RT_VECTOR         (RT_BASE + 0x04) /* the completion's vector, 32..255 */
#define RT_MISBEHAVE      (RT_BASE + 0x08) /* test hook: RT_SKIP_EOI or RT_MASK_LAPIC */
#define RT_BUS            (RT_BASE + 0x18) /* RT_BUS_PIO or RT_BUS_MMIO: how the kick is written */
#define RT_ROUTE          (RT_BASE + 0x1c) /* RT_ROUTE_MSI or RT_ROUTE_PIN: how the completion comes */
#define RT_PIN            (RT_BASE + 0x20) /* the IOAPIC pin of RT_ROUTE_PIN, < 24 */
#define RT_KICKS          (RT_BASE + 0x0c) /* guest: kicks made */
#define RT_IRQS           (RT_BASE + 0x10) /* guest: handler runs for RT_VECTOR */
#define RT_OTHER          (RT_BASE + 0x14) /* guest: interrupts on any other vector */
#define RT_VEC_COUNT      (RT_BASE + 0x400) /* guest: u32 per vector, 256 of them */
#define RT_IDT            0x5000           /* 256 interrupt gates, built by the guest */
#define RT_REC            0x80000
#define RT_REC_SHIFT      4
#define RT_RECORDS        16384            /* a power of two: 256 KiB of records */
#define RT_REC_KICK       0
#define RT_REC_AWAKE      4
#define RT_REC_WRITTEN    8
#define RT_REC_HANDLER    12
#define RT_PATH_IOEVENTFD 0 /* kick = OUT to RT_PORT, an ioeventfd; completion = irqfd */
#define RT_PATH_USER      1 /* kick = OUT to RT_USER_PORT, a userspace exit; KVM_SIGNAL_MSI */
#define RT_PATH_SELF_IPI  2 /* kick = the guest's own LAPIC ICR: no host at all */
#define RT_SKIP_EOI       1 /* the handler never EOIs */
#define RT_MASK_LAPIC     2 /* the handler software-disables its LAPIC (SVR), so no more interrupts */
#define RT_PORT           0x0520
#define RT_USER_PORT      0x0521
#define RT_ROUTE_MSI      0 /* an MSI to APIC id 0 (virtio-pci, vhost) */
#define RT_ROUTE_PIN      1 /* an IOAPIC pin, level-triggered, resampled at EOI (VFIO INTx) */
#define IOAPIC_BASE       0xfec00000 /* IOREGSEL; IOWIN at +0x10 */
#define RT_BUS_PIO        0
#define RT_BUS_MMIO       1
#define RT_MMIO           0xfe001000 /* the MMIO kicks (4 bytes), in unbacked space */
#define RT_USER_MMIO      0xfe001004
#define LAPIC_BASE        0xfee00000
#define FAULT_EXCEPTION   3 /* a CPU exception in the round-trip guest */

/*
 * Completions in the lab (ENTRY_LAB on a VM with an in-kernel irqchip): a
 * slot whose registration answers each signal with an interrupt is written
 * KIND_CPL + kind.  Its visit makes one write with interrupts off, then waits
 * with `sti; hlt` until its handler has taken SLOT_VECTOR.  The first such
 * visit after a start sets up the GDT, the IDT (at RT_IDT) and the LAPIC,
 * and moves to this vCPU's own stack (CPL_STACK).  Each kick has a record
 * like the round trip's (RT_REC_*: kick, awake, written, handler), but in
 * this vCPU's area (FS): CPL_REC + (kick mod RT_RECORDS) << RT_REC_SHIFT.
 * The host stamps awake and written; it knows which registration each
 * record is for from its own table, never from guest RAM.
 */
#define CPL_BASE          0x2000
#define CPL_KICKS         (CPL_BASE + 0x00) /* guest: completion kicks made */
#define CPL_IRQS          (CPL_BASE + 0x04) /* guest: kicks whose interrupt its handler took */
#define CPL_OTHER         (CPL_BASE + 0x08) /* guest: interrupts not awaited */
#define CPL_READY         (CPL_BASE + 0x0c) /* guest: set up (the host clears it at each start) */
#define CPL_WANT          (CPL_BASE + 0x10) /* guest: the vector awaited, 0 when none */
#define CPL_REC_AT        (CPL_BASE + 0x14) /* guest: the awaited kick's record (FS offset) */
#define CPL_STACK         (CPL_BASE + 0x18) /* host: this vCPU's stack top (linear) */
#define CPL_SELF          (CPL_BASE + 0x1c) /* host: this vCPU's index + 1 */
#define CPL_HLTS          (CPL_BASE + 0x20) /* guest: hlt instructions executed while waiting */
#define CPL_WAKES         (CPL_BASE + 0x24) /* guest: CPL_WAKE_VECTOR IPIs taken */
#define CPL_ON            (CPL_BASE + 0x28) /* host: the lab has completions: take interrupts */
#define CPL_MISBEHAVE     (CPL_BASE + 0x2c) /* test hook: RT_SKIP_EOI or RT_MASK_LAPIC */
#define CPL_WAITING       (CPL_BASE + 0x30) /* guest, DS: kicks waiting (or about to) in the VM;
                                             * a vCPU parks only while it is 0 */
#define CPL_VEC_COUNT     (CPL_BASE + 0x400) /* guest: u32 per vector, 256 of them */
#define CPL_REC           RT_REC
/*
 * A completion may be delivered to another vCPU than the one that kicked
 * (the MSI's destination): the kicker writes its index + 1 into the shared
 * CPL_WAITER[vector] (DS, one table for the VM) before its kick; the
 * handler that takes the vector, on whichever vCPU, stamps the kicker's
 * record, ends the kicker's wait and, when the kicker is another vCPU,
 * wakes it with a CPL_WAKE_VECTOR IPI (after the handler's stamp).
 */
#define CPL_WAITER        (CPL_BASE + 0x800) /* guest, DS: u32 per vector, 256 of them */
#define CPL_WAKE_VECTOR   0xf0

#endif
