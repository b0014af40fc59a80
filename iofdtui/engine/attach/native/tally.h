/* The attach tracer's hot path: raw ring-buffer pages in, per-thread
 * classification, counts out.  Python gives the layouts (read from tracefs),
 * the pages, and a time horizon; it reads the counts back per snapshot.
 * The cdef is the text between the markers. */
#ifndef IOFDTUI_TALLY_H
#define IOFDTUI_TALLY_H
#include <stddef.h>
#include <stdint.h>

/* cdef-begin */
struct rb_layout {
    int page_size;     /* bytes per sub-buffer page */
    int commit_offset; /* the commit word, from events/header_page */
    int commit_size;   /* 8 (local_t on 64-bit) or 4 */
    int data_offset;   /* the first record */
};

/* One traced event's id and field offsets in its payload (-1: not enabled). */
struct ev_layout {
    int pio_id, pio_pid, pio_rw, pio_port, pio_size, pio_val;
    int mmio_id, mmio_pid, mmio_type, mmio_len, mmio_gpa, mmio_val;
    int fast_id, fast_pid, fast_gpa;
    int exit_id, exit_pid, exit_reason, exit_errno;
    int msi_id, msi_address, msi_data;      /* kvm_msi_set_irq */
    int gsi_id, gsi_gsi, gsi_level;         /* kvm_set_irq */
    int accept_id, accept_apicid, accept_vec; /* kvm_apic_accept_irq (vec: 1 byte) */
    int eoi_id, eoi_vector;                 /* kvm_eoi */
    int hwexit_id, hwexit_pid, hwexit_reason, hwexit_isa; /* kvm_exit (VMX/SVM) */
    int entry_id, entry_pid;                /* kvm_entry */
};

/* Interrupts injected, counted per kind and vector (or GSI). */
enum { IRQ_MSI, IRQ_ACCEPTED, IRQ_EOI, IRQ_GSI, IRQ_GSI_LOW };
struct irq_count {
    uint8_t kind; /* IRQ_* */
    uint32_t key; /* the vector, or the GSI for IRQ_GSI (raised) and IRQ_GSI_LOW (lowered) */
    uint64_t count;
};

/* Host-side exit latency of one exit reason: kvm_exit to the thread's next kvm_entry. */
struct exit_latency {
    uint32_t isa; /* 1 VMX, 2 SVM (the kvm_exit record's isa) */
    uint32_t reason;
    uint64_t count, sum_ns, min_ns, max_ns;
};

/* Counts of one (thread, doorbell, width, value). */
struct tally_entry {
    int32_t tid;
    uint8_t bus;       /* 0 pio, 1 mmio */
    uint8_t width;     /* 0: a fast-path write of unknown width */
    uint8_t has_value; /* 0: the tracepoint carries no value */
    uint8_t undecided; /* 1: its thread's last write, nothing after it yet */
    uint64_t addr;
    uint64_t value;
    uint64_t writes;
    uint64_t exits;
};

struct tally_totals {
    uint64_t events;          /* events decoded and classified */
    uint64_t held;            /* decoded, waiting for the horizon */
    uint64_t read_exits;      /* exits that completed a read */
    uint64_t unmatched_exits; /* exits with no access before them in the trace */
    uint64_t missed_pages;    /* pages the kernel flagged: events lost before them */
    uint64_t damaged;         /* records cut short or past the commit */
    uint64_t entries;         /* entries tally_entries() would return */
    uint64_t irq_keys;        /* counts tally_irqs() would return */
    uint64_t gsi_out_of_range; /* kvm_set_irq of a GSI past IRQ_GSIS */
    uint64_t hw_exits;        /* kvm_exit events classified */
    uint64_t exit_reasons;    /* rows tally_exit_latency() would return */
    uint64_t unpaired_entries; /* kvm_entry with no kvm_exit before it on its thread */
};

struct tally;
struct tally *tally_new(const struct rb_layout *rb, const struct ev_layout *ev);
void tally_free(struct tally *t);
int tally_add_pages(struct tally *t, const uint8_t *pages, size_t bytes);
int tally_classify(struct tally *t, uint64_t horizon, int final);
void tally_totals(const struct tally *t, struct tally_totals *out);
size_t tally_entries(const struct tally *t, struct tally_entry *out, size_t max);
size_t tally_irqs(const struct tally *t, struct irq_count *out, size_t max);
size_t tally_exit_latency(const struct tally *t, struct exit_latency *out, size_t max);
/* cdef-end */

#endif
